/**
 * One attempt gets one request timeout (`requestTimeoutMs`), not one per request in series: a
 * store that answers every request slowly makes `tryAcquire()` fail with a typed store error
 * within that time, while the attempt goes on in the background and releases what it wins.
 */
import { S3LockStoreError, type S3LockEvents } from '../../src';
import { MemoryWorld, settle, waitFor, watchUnhandledRejections, type Proc } from './support';

const LIMIT_MS = 1_000;
/** Each request answers after this: one fits in the limit, the attempt's series does not. */
const SLOW_MS = 400;

describe.each([
  { protocol: 'create-only' as const, versioned: false },
  { protocol: 'versioned' as const, versioned: true },
])('attempt time limit ($protocol)', ({ protocol, versioned }) => {
  let world: MemoryWorld;
  let slow: Proc;
  let other: Proc;
  let unhandled: ReturnType<typeof watchUnhandledRejections>;

  beforeEach(async () => {
    unhandled = watchUnhandledRejections();
    world = await MemoryWorld.create({ versioned });
    slow = world.manager({ protocol, requestTimeoutMs: LIMIT_MS });
    other = world.manager({ protocol });
    await Promise.all([slow.manager.probe(), other.manager.probe()]);
  });
  afterEach(async () => {
    await world.close();
    unhandled.stop();
    expect(unhandled.seen).toEqual([]);
  });

  it('tryAcquire() on a slow store fails within the limit, names the lock and bucket; the late win is released, not held', async () => {
    const storeErrors: Array<S3LockEvents['storeError']> = [];
    slow.manager.on('storeError', (e) => storeErrors.push(e));
    const delays = slow.tap.inject({ times: Infinity, fault: { kind: 'delay', ms: SLOW_MS } });
    const lock = slow.manager.lock('job');
    const started = performance.now();
    const outcome = await settle(lock.tryAcquire());
    const tookMs = performance.now() - started;
    expect(outcome.ok).toBe(false);
    const error = (outcome as { error: unknown }).error as S3LockStoreError;
    expect(error).toBeInstanceOf(S3LockStoreError);
    expect(error.lockName).toBe('job');
    expect(error.bucket).toBe(world.bucket);
    expect(error.message).toContain('requestTimeoutMs (1000 ms)');
    expect(tookMs).toBeLessThan(LIMIT_MS + 500);
    expect(lock.isHeld).toBe(false);

    // the attempt went on: whatever it won is released (the lock is free for others at once,
    // never held by a lease nobody has), and nothing stays in flight
    await waitFor(() => delays.fired >= 4, 10_000, 'the attempt to go on in the background');
    delays.cancel();
    await waitFor(async () => (await other.manager.inspect('job')).held === false && slow.manager.retainedEntries().queues === 0, 10_000, 'the late attempt to settle');
    const next = other.manager.lock('job');
    await expect(next.tryAcquire()).resolves.toBe(true);
    await next.release();
    expect(storeErrors.filter((e) => e.operation !== 'acquire')).toEqual([]);
  });

  it('a fast store answers within the limit as before', async () => {
    const lock = slow.manager.lock('quick');
    await expect(lock.tryAcquire()).resolves.toBe(true);
    await lock.release();
  });
});
