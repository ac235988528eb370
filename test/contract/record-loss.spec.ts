/**
 * Record loss under a running fleet (create-only): the prefix emptied by hand, the bucket deleted
 * and created again. Every holder but one learns it within one TTL, no acquisition after the loss
 * gets a fencing token at or below one granted before it, and a missing bucket is a typed error.
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3LockLostError, S3LockManager, S3LockStoreError, type S3Lock } from '../../src';
import { createBucket, deleteBucket, wipePrefix } from '../support/bucket-wipe';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('record loss (create-only)', () => {
  let bucket: string;
  let client: S3Client;
  let prefix: string;
  const managers: S3LockManager[] = [];
  const manager = (): S3LockManager => {
    const m = new S3LockManager({ client, bucket, prefix, protocol: 'create-only', ttlMs: TTL, maxPollIntervalMs: 200 });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    bucket = await target.createBucket();
    client = target.createClient();
  });
  beforeEach(() => {
    prefix = `loss-${randomBytes(4).toString('hex')}/`;
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  /**
   * Tokens are guaranteed above the old ones for a loss more than 1 s + the tolerance after the lost
   * generation began (docs/protocol.md, assumption R1; `Date` has 1 s resolution): a fast store
   * gets through the set-up within that second, so wait until it has passed.
   */
  async function pastFirstSecond(since: number): Promise<void> {
    await sleep(Math.max(0, since + 1_700 - Date.now()));
  }

  /** Advances the log of `name` by `cycles` acquire/release pairs. */
  async function churn(m: S3LockManager, name: string, cycles: number): Promise<void> {
    for (let i = 0; i < cycles; i++) await m.using(name, () => undefined);
  }

  it('prefix emptied by hand while held: the old holder learns it, a warm and a cold manager get tokens above every earlier one', async () => {
    const h = manager();
    const warm = manager();
    const began = Date.now();
    await churn(warm, 'job', 2); // warm: a view confirmed seconds ago, soon stale
    await churn(h, 'job', 48);
    const held = h.lock('job');
    await held.acquire();
    const before = held.fencingToken!;
    expect(before).toBeGreaterThanOrEqual(99);

    await pastFirstSecond(began);
    const wiped = await wipePrefix(client, bucket, prefix);
    expect(wiped).toBeGreaterThan(90);
    const lossAt = Date.now();

    const cold = manager();
    const holders: Array<{ who: string; lock: S3Lock; token: number }> = [{ who: 'old holder', lock: held, token: before }];
    for (const [who, m] of [['warm', warm], ['cold', cold]] as const) {
      const lock = m.lock('job');
      if (await lock.tryAcquire()) holders.push({ who, lock, token: lock.fencingToken! });
    }
    // (b) no acquisition after the loss gets a token <= one granted before it
    for (const x of holders.slice(1)) expect({ who: x.who, above: x.token > before }).toEqual({ who: x.who, above: true });

    // (a) within one TTL of the loss every holder but one has been told
    await sleep(Math.max(0, lossAt + TTL - Date.now()));
    const believing = holders.filter((x) => !x.lock.signal.aborted);
    expect(believing.map((x) => x.who).length).toBeLessThanOrEqual(1);
    expect(held.signal.aborted).toBe(true);
    expect((held.signal.reason as S3LockLostError).reason).toBe('records-lost');

    // and the lock keeps working, above the old tokens
    for (const x of believing) await x.lock.release();
    const next = cold.lock('job');
    await next.acquire({ waitMs: 2 * TTL });
    expect(next.fencingToken!).toBeGreaterThan(before);
    await next.release();
  }, 60_000);

  it('bucket deleted and created again while held and waited for: typed error meanwhile, no double grant, tokens above the old ones', async () => {
    const h = manager();
    const began = Date.now();
    await churn(h, 'job', 10);
    const held = h.lock('job');
    await held.acquire();
    const before = held.fencingToken!;
    const waiter = manager();
    const waiting = waiter.lock('job');
    // a missing bucket is permanent for a waiter: it fails at once with S3LockBucketMissingError
    // when a poll meets it (or is granted after the bucket is back, with a newer token)
    const acquired = waiting.acquire({ waitMs: 30_000 }).then(
      () => waiting.fencingToken!,
      (error: unknown) => error as Error,
    );
    await sleep(300); // the waiter has seen the holder and polls

    await pastFirstSecond(began);
    await deleteBucket(target.createClient(), bucket);
    try {
      const cold = manager();
      const error = await cold.lock('job').tryAcquire().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(S3LockStoreError);
      expect((error as Error).name).toBe('S3LockBucketMissingError');
      expect((error as { bucket?: string }).bucket).toBe(bucket);
      expect((error as Error).message).toContain(bucket);
      const inspected = await cold.inspect('job').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((inspected as Error | undefined)?.name).toBe('S3LockBucketMissingError');
      await sleep(TTL / 2);
    } finally {
      await createBucket(target.createClient(), bucket);
    }
    const recreatedAt = Date.now();
    const waited = await acquired;
    if (typeof waited !== 'number') expect(waited.name).toBe('S3LockBucketMissingError');
    const token = typeof waited === 'number' ? waited : await waiting.acquire({ waitMs: 30_000 }).then(() => waiting.fencingToken!);
    expect(token).toBeGreaterThan(before);
    // the old holder was told (a renewal meeting NoSuchBucket or the new generation: records-lost;
    // renewals failing otherwise while the bucket was being deleted: its deadline passed)
    expect(held.signal.aborted).toBe(true);
    expect(['records-lost', 'deadline-passed']).toContain((held.signal.reason as S3LockLostError).reason);
    expect(Date.now() - recreatedAt).toBeLessThan(4 * TTL);
    await waiting.release();
  }, 60_000);
});
