/**
 * Store errors that waiting cannot cure (wrong credentials, a missing bucket) fail an acquisition
 * at once with the typed store error: never retried until `waitMs` runs out, never reported as a
 * lock held by someone else.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { S3LockBucketMissingError, S3LockManager, S3LockStoreError, S3LockTimeoutError, type S3LockEvents } from '../../src';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { CommandLog } from '../support/request-log';
import { storeTarget, uniqueBucketName, type StoreTarget } from '../support/store-target';

const TTL = 3_000;
/** Far longer than any fast failure: an acquisition that waits it out fails the request-count checks. */
const WAIT_MS = 20_000;
/** Requests of a failing first use: the protocol's first read (and the SDK does not retry a 403 or 404). */
const MAX_REQUESTS = 4;

/** Whether the store refuses a wrong secret (the in-memory store is made to, by fault injection). */
const CHECKS_SIGNATURES: Record<StoreTarget['name'], boolean> = { memory: true, rgw: true, moto: false };

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

describe.each(PROTOCOL_CASES)('permanent store errors ($protocol)', ({ protocol, versioned }) => {
  const managers: S3LockManager[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
  });

  /** A manager on `bucket` through `client`, with the commands it sends and the storeError events it emits. */
  function managerOn(client: S3Client, bucket: string): { manager: S3LockManager; log: CommandLog; storeErrors: Array<S3LockEvents['storeError']> } {
    const log = new CommandLog(client);
    const manager = new S3LockManager({ client, bucket, protocol, ttlMs: TTL, waitMs: WAIT_MS });
    managers.push(manager);
    const storeErrors: Array<S3LockEvents['storeError']> = [];
    manager.on('storeError', (e) => storeErrors.push(e));
    return { manager, log, storeErrors };
  }

  async function failure(promise: Promise<unknown>): Promise<Error> {
    return promise.then(
      () => {
        throw new Error('expected the acquisition to fail');
      },
      (error: unknown) => error as Error,
    );
  }

  it('a wrong secret: acquire() fails at once with the 403 as a typed store error naming the lock and the bucket, not as a busy lock', async () => {
    const bucket = await target.createBucket({ versioned });
    // RGW and moto check signatures; the in-memory store does not, so it answers what they answer
    const forbidden = target.memory?.faults.inject({
      match: { bucket },
      times: Infinity,
      fault: { kind: 'error', status: 403, code: 'SignatureDoesNotMatch' },
    });
    try {
      const client = target.createClient({ credentials: { accessKeyId: target.credentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
      const { manager, log, storeErrors } = managerOn(client, bucket);
      if (!CHECKS_SIGNATURES[target.name]) {
        // moto, as scripts/s3/start-moto.sh runs it, authenticates nobody: the wrong secret works.
        // Should that change, this fails and the 403 checks below apply to moto too.
        await expect(manager.lock('job').tryAcquire()).resolves.toBe(true);
        return;
      }
      const error = await failure(manager.lock('job').acquire({ waitMs: WAIT_MS }));
      expect(error).not.toBeInstanceOf(S3LockTimeoutError);
      expect(error).toBeInstanceOf(S3LockStoreError);
      expect((error as S3LockStoreError).storeStatusCode).toBe(403);
      expect((error as S3LockStoreError).lockName).toBe('job');
      expect((error as { bucket?: string }).bucket).toBe(bucket);
      expect(error.message).toContain('"job"');
      expect(error.message).toContain(`"${bucket}"`);
      expect(log.commands.length).toBeLessThanOrEqual(MAX_REQUESTS);
      expect(storeErrors).toEqual([]);
      // tryAcquire() and using() say the same
      const tried = await failure(manager.lock('job').tryAcquire());
      expect((tried as S3LockStoreError).storeStatusCode).toBe(403);
      const used = await failure(manager.using('job', () => 1, { waitMs: WAIT_MS }));
      expect((used as S3LockStoreError).storeStatusCode).toBe(403);
      expect(log.commands.length).toBeLessThanOrEqual(3 * MAX_REQUESTS);
    } finally {
      forbidden?.cancel();
    }
  }, 60_000);

  it('a bucket that does not exist: acquire() fails at once with S3LockBucketMissingError naming the lock and the bucket', async () => {
    const bucket = uniqueBucketName(target.name);
    const { manager, log, storeErrors } = managerOn(target.createClient(), bucket);
    const error = await failure(manager.lock('job').acquire({ waitMs: WAIT_MS }));
    expect(error).toBeInstanceOf(S3LockBucketMissingError);
    expect((error as S3LockBucketMissingError).lockName).toBe('job');
    expect((error as S3LockBucketMissingError).bucket).toBe(bucket);
    expect(error.message).toContain(`"${bucket}"`);
    expect(log.commands.length).toBeLessThanOrEqual(MAX_REQUESTS);
    expect(storeErrors).toEqual([]);
  }, 60_000);
});
