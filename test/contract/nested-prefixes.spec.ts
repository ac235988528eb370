/**
 * Prefixes of two managers nested in each other: lock `a` under `<p>/`, and a manager under
 * `<p>/a/` whose 1,100 names sort before `a`'s records. The cold read must still find `a`'s
 * records; both managers must keep working. A prefix that does not end in "/" is refused (it
 * would alias names: prefix "locks/a" + name "x" and prefix "locks/" + name "ax").
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3LockInvalidOptionsError, S3LockManager } from '../../src';
import { putMany } from '../support/bucket-wipe';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

describe('nested prefixes (create-only)', () => {
  let bucket: string;
  let client: S3Client;
  const managers: S3LockManager[] = [];
  const manager = (prefix: string): S3LockManager => {
    const m = new S3LockManager({ client, bucket, prefix, protocol: 'create-only', ttlMs: TTL, waitMs: 10_000 });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    bucket = await target.createBucket();
    client = target.createClient();
  });
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
  });

  it('a lock whose folder holds another manager\'s 1,100 names is still read right, and both managers work', async () => {
    const outer = `nest-${randomBytes(4).toString('hex')}/`;
    const inner = `${outer}a/`;
    const first = manager(outer);
    for (let i = 0; i < 120; i++) await first.using('a', () => undefined);
    const before = await first.inspect('a');
    expect(before.held).toBe(false);

    // 1,100 names of the inner manager, as records its locks would leave (numeric names sort before a's records)
    const names = Array.from({ length: 1100 }, (_, i) => String(i).padStart(4, '0'));
    await putMany(client, bucket, names.map((n) => `${inner}${n}/999999999999998`));
    const nested = manager(inner);
    const innerLock = nested.lock('inner-job');
    await innerLock.acquire();

    const cold = manager(outer);
    const seen = await cold.inspect('a');
    expect(seen.epoch).toBe(before.epoch);
    const lock = cold.lock('a');
    expect(await lock.tryAcquire()).toBe(true);
    expect(lock.fencingToken!).toBe(before.epoch + 1);
    // the inner manager's lock and the outer one's are independent, and both are exclusive
    expect(innerLock.isHeld).toBe(true);
    expect(await manager(outer).lock('a').tryAcquire()).toBe(false);
    expect(await manager(inner).lock('inner-job').tryAcquire()).toBe(false);
    await lock.release();
    await innerLock.release();
  }, 120_000);

  it.each(['locks', 'locks/a', 'x'])('refuses prefix %j (no trailing "/": names would alias)', (prefix) => {
    expect(() => new S3LockManager({ client, bucket, prefix })).toThrow(S3LockInvalidOptionsError);
  });

  it('accepts the empty prefix and prefixes ending in "/"', () => {
    for (const prefix of ['', 'locks/', 'a/b/']) expect(new S3LockManager({ client, bucket, prefix }).options.prefix).toBe(prefix);
  });
});
