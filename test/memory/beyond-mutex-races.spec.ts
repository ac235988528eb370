/**
 * Races of semaphores, multi-name using() and elections on the in-memory store: between a
 * semaphore wait that ends and the round it had in flight, an election term granted to a paused
 * process, stop() racing a grant, and the properties that held under attack.
 */
import { S3LockClosedError, S3LockPermitsMismatchError, S3LockTimeoutError, type S3LockContext } from '../../src';
import { MemoryWorld, lockPrefixOf, settle, sleep, waitFor, watchUnhandledRejections } from './support';

/** Blocks the event loop for `ms` (a paused process). */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('semaphore: a wait that ended while its round was in flight', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await world.close();
  });

  /**
   * The instance's wait times out while the shared poller's round for it is writing a grant. The
   * caller tries again on the same instance at once and wins another permit; then the old round
   * wins too, overwrites `held`, and its give-back releases that permit: the caller was told
   * "acquired" but the instance holds nothing, and the permit it won stays held in the store.
   */
  it('a tryAcquire() right after a timed-out wait holds what it was told it holds, and release() frees it', async () => {
    const a = world.manager();
    const warm = a.manager.semaphore('sem', { permits: 2 });
    // settle the permits and warm both permits' views
    expect(await warm.tryAcquire()).toBe(true);
    const warm2 = a.manager.semaphore('sem', { permits: 2 });
    expect(await warm2.tryAcquire()).toBe(true);
    await warm.release();
    await warm2.release();

    let r = 0; // the in-flight round starts at permit 0
    jest.spyOn(Math, 'random').mockImplementation(() => r);
    // the grant write of the waiter's round is answered late
    a.tap.inject({ match: { operation: 'PutObject', keyPrefix: 'locks/sem%23permit-' }, fault: { kind: 'delay', ms: 800, phase: 'after' } });
    const s = a.manager.semaphore('sem', { permits: 2 });
    const waited = await settle(s.acquire({ waitMs: 150 }));
    expect(!waited.ok && waited.error).toBeInstanceOf(S3LockTimeoutError);

    r = 0.75; // the next round starts at permit 1 (free, answered at once)
    const won = await s.tryAcquire();
    expect(won).toBe(true);
    // let the old round finish (and give its permit back)
    await sleep(1_200);
    const inStore = async (): Promise<boolean[]> => (await Promise.all([0, 1].map((i) => a.manager.inspect(`sem#permit-${i}`)))).map((st) => st.held);
    // the instance holds exactly the one permit the store says is held
    expect({ isHeld: s.isHeld, permit: s.permit, aborted: s.signal.aborted, store: await inStore() }).toEqual({ isHeld: true, permit: 1, aborted: false, store: [false, true] });
    await s.release();
    // nothing of this process holds a permit any more
    expect(await inStore()).toEqual([false, false]);
  }, 20_000);

  /** Same race with one permit: the retry is reentrant on the permit the old round is about to give back. */
  it('one permit: a tryAcquire() right after a timed-out wait never reports a permit the instance does not hold', async () => {
    const a = world.manager();
    const warm = a.manager.semaphore('one', { permits: 1 });
    expect(await warm.tryAcquire()).toBe(true);
    await warm.release();

    a.tap.inject({ match: { operation: 'PutObject', keyPrefix: 'locks/one%23permit-' }, fault: { kind: 'delay', ms: 600, phase: 'after' } });
    const s = a.manager.semaphore('one', { permits: 1 });
    const waited = await settle(s.acquire({ waitMs: 150 }));
    expect(!waited.ok && waited.error).toBeInstanceOf(S3LockTimeoutError);
    const won = await s.tryAcquire();
    await sleep(300);
    const state = await a.manager.inspect('one#permit-0');
    // whatever tryAcquire answered, the instance and the store agree with it
    expect({ won, isHeld: s.isHeld, aborted: s.signal.aborted, storeHeld: state.held }).toEqual(won ? { won, isHeld: true, aborted: false, storeHeld: true } : { won, isHeld: false, aborted: s.signal.aborted, storeHeld: false });
    if (s.isHeld) await s.release();
  }, 20_000);

  /** Holds (pinned): a waiter that gave up never keeps the permit its in-flight round won. */
  it('pinned: a permit won by the round of an aborted or timed-out waiter is given back, and another manager gets it', async () => {
    const a = world.manager();
    const b = world.manager();
    const warm = a.manager.semaphore('gb', { permits: 1 });
    expect(await warm.tryAcquire()).toBe(true);
    await warm.release();
    a.tap.inject({ match: { operation: 'PutObject', keyPrefix: 'locks/gb%23permit-' }, fault: { kind: 'delay', ms: 500, phase: 'after' } });
    const s = a.manager.semaphore('gb', { permits: 1 });
    const controller = new AbortController();
    const p = settle(s.acquire({ waitMs: 10_000, signal: controller.signal }));
    await sleep(100);
    controller.abort(new Error('gave up'));
    const r = await p;
    expect(!r.ok && (r.error as Error).message).toBe('gave up');
    const other = b.manager.semaphore('gb', { permits: 1 });
    await other.acquire({ waitMs: 5_000 });
    expect(other.isHeld).toBe(true);
    expect(s.isHeld).toBe(false);
    await other.release();
  }, 20_000);
});

describe('semaphore: the permits declaration', () => {
  for (const versioned of [false, true]) {
    const protocol = versioned ? 'versioned' : 'create-only';
    it(`pinned (${protocol}): two managers racing to declare different permits, exactly one is refused, and the same one for every later manager`, async () => {
      const world = await MemoryWorld.create({ versioned });
      try {
        world.store.faults.setLatency({ latencyMs: 30, jitterMs: 20 });
        const a = world.manager({ protocol });
        const b = world.manager({ protocol });
        // protocols chosen first, so that the settlements themselves race
        await Promise.all([a.manager.inspect('x'), b.manager.inspect('x')]);
        const sa = a.manager.semaphore('race', { permits: 2 });
        const sb = b.manager.semaphore('race', { permits: 3 });
        const [ra, rb] = await Promise.all([settle(sa.tryAcquire()), settle(sb.tryAcquire())]);
        const refused = [ra, rb].filter((r) => !r.ok);
        expect(refused).toHaveLength(1);
        expect(!refused[0]!.ok && refused[0]!.error).toBeInstanceOf(S3LockPermitsMismatchError);
        const winner = ra.ok ? 2 : 3;
        world.store.faults.setLatency({ latencyMs: 0, jitterMs: 0 });
        const c = world.manager({ protocol });
        expect((await settle(c.manager.semaphore('race', { permits: winner === 2 ? 3 : 2 }).tryAcquire())).ok).toBe(false);
        const ok = c.manager.semaphore('race', { permits: winner });
        expect(await ok.tryAcquire()).toBe(true);
        await ok.release();
        for (const s of [sa, sb]) if (s.isHeld) await s.release();
      } finally {
        await world.close();
      }
    }, 30_000);
  }
});

describe('election', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  /**
   * The process stalls right after the grant (here: in an `acquired` listener), past the lease's
   * deadline. using() refuses to run fn on such a lease; the election calls onElected with a
   * term whose lease is already gone.
   */
  it('never calls onElected with a term whose lease is already lost (a process paused after the grant)', async () => {
    const a = world.manager();
    let stalled = false;
    a.manager.on('acquired', (e) => {
      if (e.name === 'leader' && !stalled) {
        stalled = true;
        stall(3_100); // past the 3000 ms TTL
      }
    });
    const calls: Array<{ isHeld: boolean; aborted: boolean }> = [];
    const revoked: string[] = [];
    const election = a.manager.elect('leader', {
      onElected: (ctx: S3LockContext) => {
        calls.push({ isHeld: ctx.isHeld, aborted: ctx.signal.aborted });
      },
      onRevoked: (why) => revoked.push(why),
    });
    await waitFor(() => stalled, 5_000, 'the grant');
    await waitFor(() => calls.length >= 1, 10_000, 'onElected');
    await sleep(300);
    await election.stop();
    // no term on the stalled grant (nothing to revoke); the next grant's term ended at stop()
    expect(revoked).toEqual(['resigned']);
    // every onElected call had the lease
    expect(calls).toEqual(calls.map(() => ({ isHeld: true, aborted: false })));
  }, 30_000);

  /** stop() lands between the grant and the term (here: from an `acquired` listener). */
  it('does not call onElected after stop() was called', async () => {
    const a = world.manager();
    let stopping: Promise<void> | undefined;
    a.manager.on('acquired', (e) => {
      if (e.name === 'solo' && !stopping) stopping = election.stop();
    });
    const elected: boolean[] = [];
    const revoked: string[] = [];
    const election = a.manager.elect('solo', { onElected: (ctx) => elected.push(ctx.signal.aborted), onRevoked: (why) => revoked.push(why) });
    await waitFor(() => stopping !== undefined, 5_000, 'stop() from the grant');
    await stopping;
    // onElected was not called (it was called with an already-aborted signal, then onRevoked('resigned'))
    expect({ elected, revoked }).toEqual({ elected: [], revoked: [] });
    expect((await a.manager.inspect('solo')).held).toBe(false);
  }, 20_000);

  it('pinned: a term lost to a force release ends (signal, onRevoked), a throwing onRevoked and a late-rejecting onElected leave no unhandled rejection, and the process leads again', async () => {
    const watch = watchUnhandledRejections();
    try {
      const a = world.manager();
      const b = world.manager();
      const tokens: number[] = [];
      const revoked: string[] = [];
      const election = a.manager.elect('lf', {
        onElected: async (ctx) => {
          tokens.push(ctx.fencingToken);
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          await sleep(10);
          throw new Error('late failure after the term');
        },
        onRevoked: (why) => {
          revoked.push(why);
          throw new Error('onRevoked throws');
        },
      });
      await waitFor(() => election.isLeader, 5_000, 'leader');
      expect(await b.manager.forceRelease('lf')).toBe(true);
      await waitFor(() => revoked.length >= 1, 10_000, 'revoked');
      await waitFor(() => tokens.length >= 2, 10_000, 'a second term');
      expect(tokens[1]!).toBeGreaterThan(tokens[0]!);
      await election.stop();
      expect((await b.manager.inspect('lf')).held).toBe(false);
      await sleep(100);
      expect(watch.seen).toEqual([]);
    } finally {
      watch.stop();
    }
  }, 30_000);

  it('pinned: a campaign through store errors ends at manager.close() (stop() resolves, no unhandled rejection)', async () => {
    const watch = watchUnhandledRejections();
    try {
      const a = world.manager();
      await a.manager.inspect('warm');
      a.tap.inject({ match: { keyPrefix: lockPrefixOf('down') }, times: Infinity, fault: { kind: 'error', status: 500, code: 'InternalError' } });
      const elected: number[] = [];
      const election = a.manager.elect('down', { onElected: (ctx) => elected.push(ctx.fencingToken) });
      await sleep(1_200);
      await a.manager.close();
      const started = performance.now();
      await election.stop();
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(elected).toEqual([]);
      expect(watch.seen).toEqual([]);
    } finally {
      watch.stop();
    }
  }, 20_000);

  it('pinned: two managers campaigning never both lead (polled), and stop() of the leader hands over', async () => {
    const a = world.manager();
    const b = world.manager();
    let leading = 0;
    let most = 0;
    const opts = (): Parameters<typeof a.manager.elect>[1] => ({
      onElected: async (ctx) => {
        leading++;
        most = Math.max(most, leading);
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        leading--;
      },
    });
    const ea = a.manager.elect('duo', opts());
    const eb = b.manager.elect('duo', opts());
    await waitFor(() => ea.isLeader || eb.isLeader, 5_000, 'a leader');
    const first = ea.isLeader ? ea : eb;
    const second = first === ea ? eb : ea;
    expect(second.isLeader).toBe(false);
    await first.stop();
    await waitFor(() => second.isLeader, 3_000, 'hand-over');
    expect(most).toBe(1);
    await second.stop();
  }, 20_000);
});

describe('using() several names', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it('pinned: a name lost while the others are taken is never run under; every name is released after a failed, timed-out or aborted attempt', async () => {
    const a = world.manager();
    const b = world.manager();
    // b holds "m2": a's attempt takes m1, finds m2 held, gives m1 back and waits for m2 alone
    const other = b.manager.lock('m2');
    await other.acquire();
    const controller = new AbortController();
    let ran = false;
    const p = settle(a.manager.using(['m2', 'm1', 'm3'], () => (ran = true), { waitMs: 10_000, signal: controller.signal }));
    await sleep(300);
    expect((await b.manager.inspect('m1')).held).toBe(false);
    expect((await b.manager.inspect('m3')).held).toBe(false);
    controller.abort(new Error('stop waiting'));
    const r = await p;
    expect(!r.ok && (r.error as Error).message).toBe('stop waiting');
    const t = await settle(a.manager.using(['m1', 'm2'], () => (ran = true), { waitMs: 400 }));
    expect(!t.ok && t.error).toBeInstanceOf(S3LockTimeoutError);
    expect(ran).toBe(false);
    for (const n of ['m1', 'm3']) expect((await b.manager.inspect(n)).held).toBe(false);
    await other.release();
  }, 20_000);

  it('pinned: close() during a multi-name hold aborts the signal, and nothing stays held or waiting', async () => {
    const a = world.manager();
    const b = world.manager();
    let signal: AbortSignal | undefined;
    const p = settle(
      a.manager.using(['c1', 'c2'], async (ctx) => {
        signal = ctx.signal;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      }),
    );
    await waitFor(() => signal, 5_000, 'held');
    await a.manager.close();
    await p;
    expect(signal!.aborted).toBe(true);
    for (const n of ['c1', 'c2']) expect((await b.manager.inspect(n)).held).toBe(false);
    expect((await settle(a.manager.using(['c1'], () => 1))).ok).toBe(false);
    const closedError = await settle(a.manager.using(['c1', 'c2'], () => 1));
    expect(!closedError.ok && closedError.error).toBeInstanceOf(S3LockClosedError);
  }, 20_000);
});
