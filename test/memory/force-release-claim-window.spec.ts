/**
 * A waiter woken by a force release's record must not claim the epoch after it in the old
 * generation. The force release writes its record `n` (step 2), then replaces the generation
 * record with a base of at least `n` (step 3). A claim of `n + 1` whose check was answered
 * between the two was granted `n + 1`; when the server clock's second gave no more than `n`, the
 * new generation's first grant was `n + 1` too: two holders of one token. Nobody builds on a force
 * release's record now; a waiter reads the generation again and competes in the new one.
 */
import { performance } from 'node:perf_hooks';
import { MemoryWorld, lockPrefixOf, sleep, waitFor } from './support';

describe('force release: a claim between its two writes', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it.each([
    ['in the second the generation began', false],
    ['by an operator process that has not followed a step of the store clock', true],
  ])('%s: no token is granted twice', async (_case, step) => {
    const operator = world.manager();
    await operator.manager.probe();
    for (let i = 0; i < 5; i++) await operator.manager.inspect('other');
    if (step) world.store.setClockOffset(3_600_000);
    else {
      const ms = Date.now() % 1000;
      if (ms > 300) await sleep(1000 - ms + 5); // the start of a second
    }
    const w = world.manager();
    const x = world.manager();
    await Promise.all([w.manager.probe(), x.manager.probe()]);
    const held = world.manager().manager.lock('job');
    await held.acquire();
    const heldToken = held.fencingToken!;
    // the force release's second write (the generation PUT) is slow
    operator.tap.inject({ match: { operation: 'PutObject', keyPrefix: `${lockPrefixOf('job')}generation`, conditional: false }, fault: { kind: 'delay', ms: 1_500 } });
    const forcing = operator.manager.forceRelease('job');
    await waitFor(() => operator.tap.sent({ operation: 'PutObject', conditional: false }).some((r) => r.key.endsWith('/generation')), 5_000, 'the generation PUT');
    const between = w.manager.lock('job');
    const wonBetween = await between.tryAcquire();
    await expect(forcing).resolves.toBe(true);
    const after = x.manager.lock('job');
    const wonAfter = await after.tryAcquire();
    expect(wonAfter).toBe(true);
    expect(wonBetween).toBe(false);
    expect(after.fencingToken!).toBeGreaterThan(heldToken);
    await after.release();
  }, 60_000);

  it('a force release whose record loses its epoch to the holder\'s own release does not take that release for its own', async () => {
    // The force release's record copies the holder's lease id, owner and kind ("release"). When the
    // holder's own release won that epoch first, the force release read it back, matched it by
    // those three fields as if it were its own (an SDK retry's copy), and replaced the generation
    // with that epoch as the base. The holder, warm, had meanwhile built its next grant on its own
    // release in the old generation: the new generation's first grant got the same token (seen
    // twice in 10-minute torture runs on RGW).
    const holder = world.manager();
    const other = world.manager();
    const operator = world.manager();
    await Promise.all([holder.manager.probe(), other.manager.probe(), operator.manager.probe()]);
    for (let i = 0; i < 5; i++) await operator.manager.inspect('other');
    const ms = Date.now() % 1000;
    if (ms > 200) await sleep(1000 - ms + 5); // within the second the generation begins
    const first = holder.manager.lock('job');
    await first.acquire();
    // the force release reads the lock held, and its record's create is slow
    operator.tap.inject({ match: { operation: 'PutObject', conditional: true }, fault: { kind: 'delay', ms: 300 } });
    const since = performance.now();
    const forcing = operator.manager.forceRelease('job');
    await waitFor(() => operator.tap.sent({ operation: 'PutObject', conditional: true }, since).length > 0, 5_000, 'the force release\'s record');
    await first.release(); // wins the epoch the force release is creating
    const second = holder.manager.lock('job');
    await second.acquire(); // warm: built on its own release, in the old generation
    const secondToken = second.fencingToken!;
    await forcing;
    await second.releaseIfOwner().catch(() => undefined);
    const next = other.manager.lock('job');
    await next.acquire({ waitMs: 10_000 });
    expect(next.fencingToken!).toBeGreaterThan(secondToken);
    await next.release();
  }, 60_000);

  it('two force releases at once: the second never takes the first\'s record for its own, and no token is granted twice', async () => {
    // Each force release replaces the generation. The second's create of the marked epoch lost to
    // the first's and read it back as its own (same lease, kind, owner and mark); it replaced the
    // generation with the same base while a waiter had already been granted in the first's.
    const holder = world.manager();
    const [x, y, fa, fb] = [world.manager(), world.manager(), world.manager(), world.manager()];
    await Promise.all([holder, x, y, fa, fb].map((p) => p.manager.probe()));
    for (const p of [fa, fb]) for (let i = 0; i < 5; i++) await p.manager.inspect('other');
    const ms = Date.now() % 1000;
    if (ms > 200) await sleep(1000 - ms + 5); // within the second the generation begins
    const held = holder.manager.lock('job');
    await held.acquire();
    // the second force release's create comes a little late, and its read-back much later
    fb.tap.inject({ match: { operation: 'PutObject', conditional: true }, fault: { kind: 'delay', ms: 50 } }, { match: { operation: 'HeadObject' }, fault: { kind: 'delay', ms: 300 } });
    const first = fa.manager.forceRelease('job');
    const second = fb.manager.forceRelease('job');
    await expect(first).resolves.toBe(true);
    const inFirst = x.manager.lock('job');
    await inFirst.acquire({ waitMs: 5_000 });
    const firstToken = inFirst.fencingToken!;
    await second;
    const inSecond = y.manager.lock('job');
    await inSecond.acquire({ waitMs: 10_000 });
    expect(inSecond.fencingToken!).toBeGreaterThan(firstToken);
    await inSecond.release();
    await inFirst.releaseIfOwner().catch(() => undefined);
  }, 60_000);
});
