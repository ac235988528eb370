/**
 * Review: an acquire whose create succeeded but whose generation check (the GET after the write)
 * failed throws to the poller; the record is in the store, of this waiter's lease. The next
 * attempt reuses the same request (same lease id), finds its own acquire record as the newest one
 * and judges the lock held (by itself): it waits for its own record to expire, a TTL, and then
 * takes over from itself. docs/protocol.md says a waiter recognises its own late acquire record.
 */
import { MemoryWorld, lockPrefixOf } from './support';

describe('review: own acquire record after a failed generation check', () => {
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
});
