/**
 * 503 SlowDown bursts: waiting goes on through throttling, store errors are reported through the
 * storeError event, and nothing ends as an unhandled rejection.
 */
import type { S3LockEvents } from '../../src';
import { MemoryWorld, lockPrefixOf, settle, sleep, waitFor, watchUnhandledRejections, type Proc } from './support';

const SLOW_DOWN = { kind: 'error', status: 503, code: 'SlowDown' } as const;

describe('503 SlowDown bursts while waiting', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;
  let unhandled: ReturnType<typeof watchUnhandledRejections>;

  beforeEach(async () => {
    unhandled = watchUnhandledRejections();
    world = await MemoryWorld.create();
    a = world.manager();
    b = world.manager({ maxPollIntervalMs: 100 });
    await Promise.all([a.manager.probe(), b.manager.probe()]);
  });
  afterEach(async () => {
    await world.close();
    await sleep(50);
    unhandled.stop();
    expect(unhandled.seen).toEqual([]);
  });

  it('a burst on the polls of a waiter: it still acquires after the burst; storeError emitted', async () => {
    const holder = a.manager.lock('job');
    await holder.acquire();
    const errors: Array<S3LockEvents['storeError']> = [];
    b.manager.on('storeError', (e) => errors.push(e));
    const waiter = b.manager.lock('job');
    const waiting = settle(waiter.acquire({ waitMs: 20_000 }));
    await waitFor(() => b.tap.sent({ operation: 'HeadObject' }).length > 0, 2000, 'the first poll');
    // every request of the waiter is throttled for a while (more than the SDK's 3 attempts per call)
    const burst = b.tap.inject({ fault: SLOW_DOWN, times: 12 });
    await waitFor(() => burst.fired >= 12, 15_000, 'the burst to pass');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]!.name).toBe('job');
    expect(errors[0]!.error.name).toBe('S3LockStoreError');
    await holder.release();
    const result = await waiting;
    expect(result).toEqual({ ok: true, value: undefined });
    expect(waiter.isHeld).toBe(true);
    expect(waiter.fencingToken).toBeGreaterThan(1);
    await waiter.release();
  }, 30_000);

  it('a store-wide burst (every client, every request) while one holds and one waits', async () => {
    const holder = a.manager.lock('busy');
    await holder.acquire();
    const errors: Array<S3LockEvents['storeError']> = [];
    b.manager.on('storeError', (e) => errors.push(e));
    const waiter = b.manager.lock('busy');
    const waiting = settle(waiter.acquire({ waitMs: 20_000 }));
    await waitFor(() => b.tap.sent({ operation: 'HeadObject' }).length > 0, 2000, 'the first poll');
    // every request under the lock's prefix is throttled for 2 s: longer than the SDK's 3 attempts
    // of any one call (a count of faults would be shared out between the two clients by chance)
    const burst = world.store.faults.inject({ match: { keyPrefix: lockPrefixOf('busy') }, fault: SLOW_DOWN, times: Infinity });
    await sleep(2_000);
    burst.cancel();
    expect(burst.fired).toBeGreaterThanOrEqual(3);
    await holder.release().catch(() => undefined);
    const result = await waiting;
    expect(result.ok).toBe(true);
    expect(waiter.isHeld).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    await waiter.release();
  }, 30_000);

  it('a burst already going on when acquire() is called: acquire waits it out instead of failing at once', async () => {
    const holder = a.manager.lock('early');
    await holder.acquire();
    const errors: Array<S3LockEvents['storeError']> = [];
    b.manager.on('storeError', (e) => errors.push(e));
    // throttle the waiter's next 6 requests: its first attempt (LIST, 3 SDK attempts) fails
    const burst = b.tap.inject({ fault: SLOW_DOWN, times: 6 });
    const waiter = b.manager.lock('early');
    const waiting = settle(waiter.acquire({ waitMs: 20_000 }));
    await sleep(300);
    await holder.release();
    const result = await waiting;
    expect(burst.fired).toBeGreaterThanOrEqual(1);
    // BUG (src/core/lock-queue.ts wait(), line 91): the first tryOnce() is outside the poller's
    // error handling, so a transient 503 on the first attempt rejects acquire() at once with
    // S3LockStoreError, however long waitMs is; a 503 a moment later is retried.
    expect(result).toEqual({ ok: true, value: undefined });
    expect(waiter.isHeld).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    await waiter.release();
  }, 30_000);
});
