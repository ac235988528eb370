/**
 * Loss is observable, and before anyone else can take over: renewals that keep failing, and a
 * renewal that is delayed in the network until after a takeover.
 */
import { performance } from 'node:perf_hooks';
import { S3LockLostError, type S3Lock } from '../../src';
import { MemoryWorld, TTL_MS, lockPrefixOf, recordKey, sleep, waitFor, type Proc } from './support';

/** performance.now() when `lock`'s current signal aborts. */
function abortTime(lock: S3Lock): { at: number | undefined } {
  const box: { at: number | undefined } = { at: undefined };
  lock.signal.addEventListener('abort', () => (box.at = performance.now()), { once: true });
  return box;
}

describe('lease loss', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager();
    b = world.manager({ maxPollIntervalMs: 50 });
    await Promise.all([a.manager.probe(), b.manager.probe()]);
  });
  afterEach(() => world.close());

  it('renewals failing (500) for longer than the TTL: the holder is aborted (deadline-passed) before the other can acquire', async () => {
    const holder = a.manager.lock('job');
    await holder.acquire();
    const tokenA = holder.fencingToken!;
    const aborted = abortTime(holder);
    const lostEvents: string[] = [];
    a.manager.on('lost', (e) => lostEvents.push(e.reason));
    // from now on every conditional create of the holder's process fails with 500 (not applied)
    a.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: Infinity, fault: { kind: 'error', status: 500, code: 'InternalError' } });

    const taker = b.manager.lock('job');
    const waitStart = performance.now();
    await taker.acquire({ waitMs: 15_000 });
    const acquiredAt = performance.now();
    // the taker's winning create: its last PutObject that the store answered with 200
    const winning = b.tap.sent({ operation: 'PutObject', conditional: true }, waitStart).filter((r) => r.status === 200);
    expect(winning).toHaveLength(1);

    expect(holder.signal.aborted).toBe(true);
    const reason = holder.signal.reason as S3LockLostError;
    expect(reason).toBeInstanceOf(S3LockLostError);
    expect(reason.reason).toBe('deadline-passed');
    expect(reason.lockName).toBe('job');
    expect(reason.fencingToken).toBe(tokenA);
    expect(lostEvents).toEqual(['deadline-passed']);
    expect(aborted.at).toBeDefined();
    expect(aborted.at!).toBeLessThan(winning[0]!.at);
    expect(aborted.at!).toBeLessThan(acquiredAt);
    expect(holder.isHeld).toBe(false);
    expect(taker.fencingToken!).toBeGreaterThan(tokenA);
    expect((await b.manager.inspect('job')).holder?.ownerId).toBe(taker.id);
    await taker.release();
  }, 20_000);

  it('a renewal delayed in the store (delay fault > TTL) is refused when it finally lands; the taker keeps the lock', async () => {
    const holder = a.manager.lock('slow');
    await holder.acquire();
    const tokenA = holder.fencingToken!;
    const aborted = abortTime(holder);
    // the next conditional create on this lock (the holder's first renewal) is held 6 s before it is applied
    const delayed = world.store.faults.inject({
      match: { operation: 'PutObject', conditional: true, keyPrefix: lockPrefixOf('slow') },
      times: 1,
      fault: { kind: 'delay', ms: 2 * TTL_MS },
    });

    const taker = b.manager.lock('slow');
    const waitStart = performance.now();
    await taker.acquire({ waitMs: 15_000 });
    const winning = b.tap.sent({ operation: 'PutObject', conditional: true }, waitStart).filter((r) => r.status === 200);
    expect(delayed.fired).toBe(1);
    expect(holder.signal.aborted).toBe(true);
    expect(['deadline-passed', 'taken-over']).toContain((holder.signal.reason as S3LockLostError).reason);
    expect(aborted.at!).toBeLessThan(winning[0]!.at);
    expect(taker.fencingToken!).toBeGreaterThan(tokenA);

    // wait for the delayed renewal to land: refused (create-only), after the taker's create
    const landed = await waitFor(() => world.store.requests.find((r) => r.fault === 'delay'), 10_000, 'the delayed renewal');
    expect(landed.status).toBe(412);
    const log = world.store.requests;
    const landedAt = log.indexOf(landed);
    // the epoch it tried to create had been created before it landed ...
    const created = log.findIndex((r) => r.operation === 'PutObject' && r.key === landed.key && r.status === 200);
    expect(created).toBeGreaterThanOrEqual(0);
    expect(created).toBeLessThan(landedAt);
    // ... and the taker had already acquired
    const generation = await world.generationId('slow');
    const takerCreate = log.findIndex((r) => r.operation === 'PutObject' && r.key === recordKey('slow', taker.fencingToken!, generation) && r.status === 200);
    expect(takerCreate).toBeGreaterThanOrEqual(0);
    expect(takerCreate).toBeLessThan(landedAt);

    const state = await b.manager.inspect('slow');
    expect(state.held).toBe(true);
    expect(state.holder?.ownerId).toBe(taker.id);
    expect(state.holder?.fencingToken).toBe(taker.fencingToken);
    expect(taker.isHeld).toBe(true);
    expect(taker.signal.aborted).toBe(false);
    await taker.release();
  }, 25_000);

  it('every renewal attempt of the holder stuck in the network past a takeover (expiry, not release): all refused, the taker keeps the lock', async () => {
    const holder = a.manager.lock('stuck');
    await holder.acquire();
    const tokenA = holder.fencingToken!;
    const aborted = abortTime(holder);
    // the holder's next three creates (its renewal and the engine's re-sends) are delivered 6 s late
    const stuck = a.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: 3, fault: { kind: 'delay', ms: 2 * TTL_MS } });

    const taker = b.manager.lock('stuck');
    const waitStart = performance.now();
    await taker.acquire({ waitMs: 15_000 });
    const winning = b.tap.sent({ operation: 'PutObject', conditional: true }, waitStart).filter((r) => r.status === 200);
    expect(winning).toHaveLength(1);
    expect(holder.signal.aborted).toBe(true);
    expect(['deadline-passed', 'taken-over']).toContain((holder.signal.reason as S3LockLostError).reason);
    expect(aborted.at!).toBeLessThan(winning[0]!.at);
    expect(taker.fencingToken).toBe(tokenA + 1); // a takeover by expiry: no release record in between

    const landed = await waitFor(() => {
      const d = world.store.requests.filter((r) => r.fault === 'delay');
      return d.length === stuck.fired && stuck.fired >= 1 ? d : undefined;
    }, 15_000, 'the delayed renewals');
    for (const r of landed) expect(r.status).toBe(412);
    await sleep(100);
    const state = await b.manager.inspect('stuck');
    expect(state.holder?.ownerId).toBe(taker.id);
    expect(taker.isHeld).toBe(true);
    expect(taker.signal.aborted).toBe(false);
    await taker.release();
  }, 30_000);
});
