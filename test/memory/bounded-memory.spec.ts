/**
 * Memory per lock name is bounded: a manager that uses ever-new names keeps nothing of a name once
 * no lease, waiter or cached view of it is of use. Heap after GC returns to within a small bound of
 * where it started, and the per-name maps are empty again (counted through the manager's
 * `retainedEntries()`, so the assertion does not depend on timing).
 *
 * The caches age out on the manager's monotonic clock; the test moves that clock on (it is the
 * manager's only clock for them) instead of waiting for the longest cache age.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { S3LockManager, type S3LockProtocolName } from '../../src';
import { createInMemoryS3Client, InMemoryS3 } from '../../src/testing';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (() => void) | undefined;

const BUCKET = 'bounded-memory';
// 400 names: before the fix 1,000 names retained 1.9 MB (create-only) and 2.2 MB (versioned), so
// 400 retain about 0.8 MB, well over the bound
const NAMES = 400;
const WORKERS = 8;
/** Retained heap allowed after the names went idle (before the fix: about 4.4 KB per name here). */
const MAX_RETAINED_BYTES = 300 * 1024;
/**
 * Each request's timeout timer (AbortSignal.timeout, TTL/2 = 2.5 s here) lives until it fires, and
 * holds its request: wait for them, with room for a loaded machine's late timers (with 3 s, a CI
 * run counted 870 KB of them as retained).
 */
const REQUEST_TIMERS_MS = 5_000;
/** Longer than every cache age of either protocol (the longest, the GC interval, is 10 minutes). */
const LATER_MS = 2 * 3_600_000;

function heapAfterGc(): number {
  if (!gc) throw new Error('no gc(): this spec needs the V8 flag --expose-gc (set through node:v8)');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe.each<S3LockProtocolName>(['create-only', 'versioned'])('memory per lock name (%s)', (protocol) => {
  let store: InMemoryS3;
  let manager: S3LockManager;
  let clientDestroy: () => void;
  let offset = 0;
  const mono = { now: (): number => performance.now() + offset };

  beforeEach(() => {
    store = new InMemoryS3({ requestLogLimit: 0, ...(protocol === 'versioned' ? { versionedBuckets: [BUCKET] } : { buckets: [BUCKET] }) });
    const client = createInMemoryS3Client(store);
    clientDestroy = () => client.destroy();
    manager = new S3LockManager({ client, bucket: BUCKET, protocol, ttlMs: 5_000, prefix: 'locks/' }, { mono });
  });

  afterEach(async () => {
    await manager.close();
    clientDestroy();
  });

  /** Acquires and releases `count` names never used before, `WORKERS` at a time, in the three ways the API offers. */
  async function useNewNames(tag: string, count: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const name = `order:${tag}-${i}`;
        if (i % 3 === 0) {
          await manager.using(name, () => undefined);
        } else if (i % 3 === 1) {
          const lock = manager.lock(name);
          expect(await lock.tryAcquire()).toBe(true);
          await lock.release();
        } else {
          const lock = manager.lock(name);
          await lock.acquire({ waitMs: 1_000 });
          await lock.release();
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    await new Promise((resolve) => setTimeout(resolve, 100)); // background work after the releases
  }

  /** Deletes the used names' objects in the store (the store's own memory is not the manager's). */
  function dropStoredNames(): void {
    const bucket = store.buckets.get(BUCKET)!;
    for (const key of [...bucket.keys()]) {
      if (!key.startsWith('locks/order')) continue;
      for (const v of [...bucket.versionsOf(key)]) bucket.remove(key, v.versionId);
    }
  }

  /** Moves the manager's clock past every cache age: what is left now is what idle names cost. */
  function letCachesAge(): void {
    offset += LATER_MS;
  }

  it(`keeps nothing of ${NAMES} names once they are idle`, async () => {
    await manager.probe();
    // A first round of the same size warms up everything that is allocated once (code, SDK state):
    // heap after GC is compared between the end of this round and the end of the next.
    await useNewNames('warm-up', NAMES);
    let previous = await idleHeap();

    // A leak grows the heap by the same amount with every round of new names; a one-off growth of
    // the heap (seen under a loaded CI run: about 1 MB once) does not repeat. So the heap after a
    // round is compared with the heap after the round before, for up to three rounds, and the
    // smallest growth must stay within the bound.
    const growth: number[] = [];
    for (let round = 0; round < 3; round++) {
      await useNewNames(`churn-${round}`, NAMES);
      if (round === 0) {
        const busy = manager.retainedEntries();
        // while fresh, the caches hold the names (the warm path needs them): the counts are real
        expect(busy['queues']).toBe(0);
        expect(Math.max(...Object.values(busy))).toBeGreaterThan(0);
      }
      const now = await idleHeap();
      growth.push(now - previous);
      previous = now;
      if (growth[growth.length - 1]! < MAX_RETAINED_BYTES) break;
    }
    expect({ growth, smallest: Math.min(...growth) < MAX_RETAINED_BYTES }).toEqual({ growth, smallest: true });
  }, 300_000);

  /** Lets the caches age, checks the manager keeps no entry, and measures the heap after GC. */
  async function idleHeap(): Promise<number> {
    dropStoredNames();
    letCachesAge();
    expect(nonZero(manager.retainedEntries())).toEqual({});
    await new Promise((resolve) => setTimeout(resolve, REQUEST_TIMERS_MS));
    return heapAfterGc();
  }
});

function nonZero(counts: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0));
}
