/**
 * 409 ConditionalRequestConflict and 500 InternalError on conditional creates, applied or not:
 * the engine must settle the outcome by reading the record back, never by guessing.
 */
import type { ErrorFault } from '../../src/testing';
import { MemoryWorld, TTL_MS, lockPrefixOf, sleep, waitFor, type Proc } from './support';

const CONFLICT = (applied: boolean): ErrorFault => ({ kind: 'error', status: 409, code: 'ConditionalRequestConflict', applied });
const INTERNAL = (applied: boolean): ErrorFault => ({ kind: 'error', status: 500, code: 'InternalError', applied });

const CASES: Array<[string, ErrorFault]> = [
  ['409 applied', CONFLICT(true)],
  ['409 not applied', CONFLICT(false)],
  ['500 applied', INTERNAL(true)],
  ['500 not applied', INTERNAL(false)],
];

describe('409 / 500 on conditional creates', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    await world.plantGenerations(['acquire-rb', 'job', 'race', 'rel', 'renew', 'renew-rb']); // epochs count from 1 in these tests
    a = world.manager();
    b = world.manager();
    await Promise.all([a.manager.probe(), b.manager.probe()]);
  });
  afterEach(() => world.close());

  function faultNextCreate(name: string, fault: ErrorFault, times = 1) {
    return world.store.faults.inject({ match: { operation: 'PutObject', conditional: true, keyPrefix: lockPrefixOf(name) }, times, fault });
  }

  describe.each(CASES)('%s', (_label, fault) => {
    it('acquire: won, with the right token, and nobody else gets it', async () => {
      const injected = faultNextCreate('job', fault);
      const lock = a.manager.lock('job');
      await expect(lock.tryAcquire()).resolves.toBe(true);
      expect(injected.fired).toBe(1);
      expect(lock.fencingToken).toBe(1);
      expect(await world.epochs('job')).toEqual([1]); // exactly one record, whether the faulted PUT was applied or retried
      await expect(b.manager.lock('job').tryAcquire()).resolves.toBe(false);
      expect((await b.manager.inspect('job')).holder?.ownerId).toBe(lock.id);
      await lock.release();
    });

    it('acquire: lost when the store shows another holder (warm view, the other manager wrote the epoch first)', async () => {
      // both managers saw the lock free at epoch 2 (released)
      const first = a.manager.lock('race');
      await first.acquire();
      await first.release();
      await b.manager.inspect('race');
      const winner = a.manager.lock('race');
      await expect(winner.tryAcquire()).resolves.toBe(true);
      // b writes epoch 3 from its warm view and gets the fault on every attempt
      const injected = b.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: Infinity, fault });
      const loser = b.manager.lock('race');
      await expect(loser.tryAcquire()).resolves.toBe(false);
      expect(injected.fired).toBeGreaterThanOrEqual(1);
      expect(loser.isHeld).toBe(false);
      expect(winner.isHeld).toBe(true);
      expect((await b.manager.inspect('race')).holder?.ownerId).toBe(winner.id);
      expect(await world.epochs('race')).toEqual([3, 2, 1]);
      injected.cancel();
      await winner.release();
    });

    it('renew: the lease stays held through a faulted renewal', async () => {
      const lock = a.manager.lock('renew');
      await lock.acquire();
      let renewed = 0;
      a.manager.on('renewed', () => renewed++);
      const lost: string[] = [];
      a.manager.on('lost', (e) => lost.push(e.reason));
      const injected = faultNextCreate('renew', fault);
      await waitFor(() => renewed >= 1, 4000, 'the faulted renewal');
      expect(injected.fired).toBe(1);
      expect(lost).toEqual([]);
      expect(lock.isHeld).toBe(true);
      // every epoch was written once, by this lease
      const epochs = await world.epochs('renew');
      expect(epochs[epochs.length - 1]).toBe(1);
      expect(epochs).toEqual([...epochs].sort((x, y) => y - x));
      expect(new Set(epochs).size).toBe(epochs[0]);
      await expect(b.manager.lock('renew').tryAcquire()).resolves.toBe(false);
      await lock.release();
    }, 15_000);

    it('release: the lock is free afterwards', async () => {
      const lock = a.manager.lock('rel');
      await lock.acquire();
      const injected = faultNextCreate('rel', fault);
      await lock.release();
      expect(injected.fired).toBe(1);
      const state = await b.manager.inspect('rel');
      expect(state.held).toBe(false);
      await expect(b.manager.lock('rel').tryAcquire()).resolves.toBe(true);
    });
  });

  describe('the read-back after an unknown outcome fails once (409 on the HEAD)', () => {
    const appliedConflict = { match: { operation: 'PutObject', conditional: true }, times: 1, fault: CONFLICT(true) } as const;
    const headConflict = { match: { operation: 'HeadObject' }, times: 1, fault: CONFLICT(false) } as const;

    it('renew: the lease is not reported as taken over (nobody took it), and stays held', async () => {
      const lock = a.manager.lock('renew-rb');
      await lock.acquire();
      const lost: string[] = [];
      a.manager.on('lost', (e) => lost.push(e.reason));
      let renewed = 0;
      a.manager.on('renewed', () => renewed++);
      // the first renewal is applied but answered 409, and the HEAD that should settle it fails too
      a.tap.inject(appliedConflict, headConflict);
      await waitFor(() => renewed >= 1 || lost.length > 0, 5000, 'the renewal to settle');
      await sleep(500);
      // BUG (src/core/create-only-protocol.ts write(), line 220, and renew(), line 99): the failed
      // HEAD throws out of write(); the background retry then writes the same epoch with a NEW nonce,
      // gets 412, reads back its own first attempt (same lease id, other nonce) and reports
      // 'taken-over'. The store then shows a lease nobody holds: the lock is blocked for a TTL.
      expect(lost).toEqual([]);
      expect(lock.isHeld).toBe(true);
      const state = await b.manager.inspect('renew-rb');
      expect(state.holder?.ownerId).toBe(lock.id);
      await lock.release();
    }, 15_000);

    it('acquire: a waiter whose create was applied is not left waiting a TTL for its own record', async () => {
      const holder = a.manager.lock('acquire-rb');
      await holder.acquire();
      const waiterProc = world.manager({ maxPollIntervalMs: 50 });
      await waiterProc.manager.probe();
      const waiter = waiterProc.manager.lock('acquire-rb');
      const waiting = waiter.acquire({ waitMs: 10_000 });
      await sleep(200);
      waiterProc.tap.inject(appliedConflict, headConflict);
      const releasedAt = Date.now();
      await holder.release();
      await waiting;
      const waited = Date.now() - releasedAt;
      // BUG (same place): the waiter's own applied create (epoch 3) is not recognised after the failed
      // read-back; the retry sees a foreign lease at epoch 3 and waits for it to expire (~TTL + 1.5 s),
      // then takes epoch 4. Nobody could use the lock meanwhile.
      expect(waiter.fencingToken).toBe(3);
      expect(waited).toBeLessThan(TTL_MS);
      await waiter.release();
    }, 15_000);
  });

  it('5xx on the losing side of a race (RGW: losers get 500, applied): exactly one holder, 10 rounds', async () => {
    const name = 'rgw-race';
    // losers of a conditional create get 500 instead of 412 on both clients
    a.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: Infinity, fault: INTERNAL(true) });
    b.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: Infinity, fault: INTERNAL(true) });
    const tokens: number[] = [];
    for (let round = 0; round < 10; round++) {
      // both views are warm and show the lock free: both write the same next epoch
      await Promise.all([a.manager.inspect(name), b.manager.inspect(name)]);
      const la = a.manager.lock(name);
      const lb = b.manager.lock(name);
      const putsBefore = [a.tap.sent({ operation: 'PutObject' }).length, b.tap.sent({ operation: 'PutObject' }).length];
      const [ra, rb] = await Promise.all([la.tryAcquire(), lb.tryAcquire()]);
      // both really wrote (a race, not a read that saw the other holder)
      expect(a.tap.sent({ operation: 'PutObject' }).length).toBeGreaterThan(putsBefore[0]!);
      expect(b.tap.sent({ operation: 'PutObject' }).length).toBeGreaterThan(putsBefore[1]!);
      expect([ra, rb].filter(Boolean)).toHaveLength(1);
      const holder = ra ? la : lb;
      const state = await a.manager.inspect(name);
      expect(state.holder?.ownerId).toBe(holder.id);
      expect(state.held).toBe(true);
      tokens.push(holder.fencingToken!);
      await holder.release();
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  }, 30_000);

  it('5xx not applied on the losing side of a concurrent race: exactly one holder', async () => {
    const name = 'race-500';
    for (let round = 0; round < 5; round++) {
      await Promise.all([a.manager.inspect(name), b.manager.inspect(name)]);
      // whichever create arrives first is refused with 500 (not applied); the other one wins;
      // the first one's SDK retry then meets the winner's record
      const injected = faultNextCreate(name, INTERNAL(false));
      const la = a.manager.lock(name);
      const lb = b.manager.lock(name);
      const [ra, rb] = await Promise.all([la.tryAcquire(), lb.tryAcquire()]);
      expect(injected.fired).toBe(1);
      expect([ra, rb].filter(Boolean)).toHaveLength(1);
      const holder = ra ? la : lb;
      expect((await b.manager.inspect(name)).holder?.ownerId).toBe(holder.id);
      await holder.release();
      await sleep(5);
    }
  }, 30_000);
});
