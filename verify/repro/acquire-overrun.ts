/**
 * Reproduction: `acquire({ waitMs })` is not bounded by waitMs, and a store error in its first
 * attempt fails it at once.
 *
 * LockQueue.wait() runs the first attempt (tryOnce: LIST + HEAD [+ PUT + HEAD]) before it starts
 * the wait timer, so a slow store adds that attempt's whole duration to waitMs, and
 * S3LockTimeoutError.waitedMs reports only the time after it. (The second case, an error in that
 * first attempt thrown to the caller at once, was fixed in 245798a: it now waits the full 10 s.)
 *
 *   node -r ts-node/register/transpile-only verify/repro/acquire-overrun.ts
 */
import { S3LockManager } from '../../src';
import { InMemoryS3, createInMemoryS3Client } from '../../src/testing';

async function main(): Promise<void> {
  const store = new InMemoryS3({ buckets: ['locks'] });
  const holder = new S3LockManager({ client: createInMemoryS3Client(store), bucket: 'locks', ttlMs: 6_000 });
  const held = holder.lock('x');
  await held.acquire();

  // The lock is held; the waiter's first LIST and HEAD are slow (1.5 s each, under the 3 s request timeout).
  const waiter = new S3LockManager({ client: createInMemoryS3Client(store), bucket: 'locks', ttlMs: 6_000 });
  await waiter.probe();
  store.faults.inject({ match: { method: 'GET' }, times: 1, fault: { kind: 'delay', ms: 1_500 } });
  store.faults.inject({ match: { method: 'HEAD' }, times: 1, fault: { kind: 'delay', ms: 1_500 } });
  const t0 = performance.now();
  try {
    await waiter.lock('x').acquire({ waitMs: 100 });
  } catch (e) {
    const err = e as Error & { waitedMs?: number };
    console.log(`acquire({ waitMs: 100 }) rejected after ${(performance.now() - t0).toFixed(0)} ms with ${err.name} (waitedMs ${String(err.waitedMs)})`);
  }

  // One 503 SlowDown in the first attempt fails an acquire that was allowed to wait 10 s.
  const other = new S3LockManager({ client: createInMemoryS3Client(store, { maxAttempts: 1 }), bucket: 'locks', ttlMs: 6_000 });
  await other.probe();
  store.faults.inject({ match: { method: 'GET' }, times: 1, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
  const t1 = performance.now();
  try {
    await other.lock('x').acquire({ waitMs: 10_000 });
  } catch (e) {
    console.log(`acquire({ waitMs: 10000 }) rejected after ${(performance.now() - t1).toFixed(0)} ms with ${(e as Error).name}: ${(e as Error).message}`);
  }
  await held.release();
  await Promise.all([holder.close(), waiter.close(), other.close()]);
}
void main();
