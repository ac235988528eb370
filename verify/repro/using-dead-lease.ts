/**
 * Reproduction: `using()` throws a TypeError ("Cannot read properties of undefined (reading
 * 'signal')") when acquire() hands back a lease whose local deadline has already passed, and
 * `lock.acquire()` resolves with `isHeld === false` and `fencingToken === undefined`.
 *
 * Here the store applies the acquire PUT but its answer comes after the request timeout (2 s for a
 * 3 s TTL); the read-back HEAD that settles the outcome takes 0.9 s more, so the lease's deadline
 * (send time + TTL - 10 %) has passed when the acquisition completes. A process paused (SIGSTOP,
 * GC) between the winning write and the continuation gives the same.
 *
 *   node -r ts-node/register/transpile-only verify/repro/using-dead-lease.ts
 */
import { S3LockManager } from '../../src';
import { InMemoryS3, createInMemoryS3Client } from '../../src/testing';

async function main(): Promise<void> {
  const store = new InMemoryS3({ buckets: ['locks'] });
  const manager = new S3LockManager({ client: createInMemoryS3Client(store), bucket: 'locks', ttlMs: 3_000 });
  await manager.probe();
  const slowWin = (): void => {
    store.faults.inject({ match: { method: 'PUT', conditional: true }, times: 1, fault: { kind: 'delay', ms: 2_500, phase: 'after' } });
    store.faults.inject({ match: { method: 'HEAD' }, times: 1, fault: { kind: 'delay', ms: 900 } });
  };

  slowWin();
  const lock = manager.lock('a');
  await lock.acquire({ waitMs: 10_000 });
  console.log(`acquire() resolved: isHeld=${lock.isHeld} fencingToken=${String(lock.fencingToken)} signal.aborted=${lock.signal.aborted}`);

  slowWin();
  try {
    await manager.using('b', () => 'work done', { waitMs: 10_000 });
  } catch (error) {
    console.log(`using() rejected with ${(error as Error).name}: ${(error as Error).message}`);
  }
  await manager.close();
}
void main();
