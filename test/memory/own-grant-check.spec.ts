/**
 * An acquire (or a hand-off) whose create succeeded but whose generation check (the GET after the
 * write) failed throws; the record is in the store, of the waiter's lease. The next attempt reuses
 * the same request (same lease id): it must recognise its own record and only repeat the check,
 * not judge the lock held by someone, wait for its own record to expire (a TTL) and take over from
 * itself (which it used to: it was granted the epoch after its own record).
 */
import { MemoryWorld, lockPrefixOf, sleep } from './support';

describe('own acquire record after a failed generation check', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it('the waiter is granted through the record it wrote, not after that record expires', async () => {
    world = await MemoryWorld.create();
    const w = world.manager();
    const warm = w.manager.lock('x');
    await warm.acquire();
    const first = warm.fencingToken!;
    await warm.release(); // release record at first + 1; the view is warm

    const fault = w.tap.inject({ match: { operation: 'GetObject', keyPrefix: `${lockPrefixOf('x')}generation` }, times: 3, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const lock = w.manager.lock('x');
    await lock.acquire({ waitMs: 20_000 });
    const report = { faultsFired: fault.fired, ownRecordEpoch: first + 2, grantedToken: lock.fencingToken };
    await lock.release();
    expect(report).toEqual({ ...report, grantedToken: first + 2 });
  }, 60_000);

  it('a hand-off whose generation check failed: the local waiter is granted through the hand-off record', async () => {
    world = await MemoryWorld.create();
    const w = world.manager({ ttlMs: 10_000 });
    const holder = w.manager.lock('x');
    await holder.acquire();
    const first = holder.fencingToken!;
    const waiter = w.manager.lock('x');
    const waiting = waiter.acquire({ waitMs: 20_000 });
    await sleep(200); // the waiter is queued behind the local holder: the release hands over

    const fault = w.tap.inject({ match: { operation: 'GetObject', keyPrefix: `${lockPrefixOf('x')}generation` }, times: 3, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const released = await holder.release().then(
      () => 'resolved',
      (error: unknown) => (error as Error).name,
    );
    await waiting;
    const report = { faultsFired: fault.fired, released, handOffEpoch: first + 1, grantedToken: waiter.fencingToken };
    await waiter.release();
    expect(report).toEqual({ ...report, faultsFired: 3, grantedToken: first + 1 });
  }, 60_000);
});
