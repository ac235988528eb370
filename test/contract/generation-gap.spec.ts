/**
 * A record written into a lock's folder from the view of an older generation must never count in
 * the current one, whatever the current generation's base (create-only).
 *
 * The schedule, seen once in a 10-minute fault run on moto: the prefix is wiped while a process
 * keeps a warm view; the next generation record is created by a process whose server clock reads
 * lower than the clock of the one that created the lost generation (a skewed store node, or a
 * process that has not followed a step of the store's clock yet), so its base lies below the lost
 * generation's epochs. The warm process then writes the epoch after its stale view. With every
 * generation's records in one folder, that record landed above the new base: it counted as the
 * newest record and left a gap of free epochs below it, in which the new generation's holder kept
 * renewing. Two holders at once, the later one with a lower token.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3LockManager, type S3Lock } from '../../src';
import { BASE_EPOCHS_PER_SECOND, generationKey, generationToMetadata } from '../../src/core/log-generation';
import { lockKeyPrefix } from '../../src/core/lock-name';
import { wipePrefix } from '../support/bucket-wipe';
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

describe('generation gap (create-only)', () => {
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
    prefix = `gap-${randomBytes(4).toString('hex')}/`;
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  it('a warm write after a wipe and a lower-based generation grants nothing, and nobody gets the lock while the new holder holds it', async () => {
    const stale = manager();
    for (let i = 0; i < 3; i++) await stale.using('job', () => undefined);
    const probe = stale.lock('job');
    await probe.acquire();
    const oldToken = probe.fencingToken!;
    await probe.release(); // the stale manager's view: a release at oldToken + 1

    await wipePrefix(client, bucket, prefix);
    // the next generation, created by a process whose clock reads a second lower
    const lowBase = oldToken - BASE_EPOCHS_PER_SECOND;
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: generationKey(lockKeyPrefix(prefix, 'job')),
        Body: '{}',
        Metadata: generationToMetadata({ id: randomUUID(), base: lowBase }),
      }),
    );

    const fresh = manager().lock('job');
    await fresh.acquire();
    expect(fresh.fencingToken).toBe(lowBase + 1);

    // the warm view writes the epoch after its stale view, in the folder of the lock
    const warm = stale.lock('job');
    const won = await warm.tryAcquire();
    expect(won).toBe(false);

    // while the new holder renews, nobody else gets the lock, whatever is left in the folder
    const third = manager().lock('job');
    const granted: S3Lock[] = [];
    const until = Date.now() + 2 * TTL;
    while (Date.now() < until) {
      if (await third.tryAcquire()) granted.push(third);
      if (await warm.tryAcquire()) granted.push(warm);
      await sleep(150);
    }
    expect(granted.map((l) => l.fencingToken)).toEqual([]);
    expect(fresh.isHeld).toBe(true);
    await fresh.release();

    // after the release the lock goes on above the holder's token
    const next = manager().lock('job');
    await next.acquire({ waitMs: 2 * TTL });
    expect(next.fencingToken!).toBeGreaterThan(lowBase + 1);
    await next.release();
  }, 60_000);
});
