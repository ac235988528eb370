/**
 * Store errors a person can act on: each names the operation, the lock, the S3 call, bucket,
 * prefix and endpoint, the store's status and error code, and what to do; the probe's own failure
 * is never replaced by its clean-up's; a status the SDK retried is kept.
 */
import { REQUIRED_S3_PERMISSIONS, S3LockStoreError } from '../../src';
import { MemoryWorld, PREFIX, settle } from './support';

describe('store error messages', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  async function failure(promise: Promise<unknown>): Promise<S3LockStoreError> {
    const outcome = await settle(promise);
    expect(outcome.ok).toBe(false);
    const error = (outcome as { error: unknown }).error;
    expect(error).toBeInstanceOf(S3LockStoreError);
    return error as S3LockStoreError;
  }

  it('AccessDenied on PutObject: names the lock, the S3 call, bucket, prefix and endpoint, the action denied and every permission the lock needs', async () => {
    const a = world.manager();
    a.tap.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    const error = await failure(a.manager.lock('job').acquire({ waitMs: 10_000 }));
    expect(error).toMatchObject({ lockName: 'job', storeStatusCode: 403, storeErrorCode: 'AccessDenied', s3Operation: 'PutObject', bucket: world.bucket, prefix: PREFIX, isPermanent: true });
    expect(error.endpoint).toMatch(/^https?:\/\/\S+$/);
    expect(error.message).toContain(`S3 store failed during probe of lock "job" (PutObject, bucket "${world.bucket}", prefix "${PREFIX}", endpoint ${error.endpoint}): HTTP 403 AccessDenied`);
    expect(error.advice).toBe(`The credentials are not allowed s3:PutObject on bucket "${world.bucket}". The lock needs ${REQUIRED_S3_PERMISSIONS}.`);
    expect(error.message.endsWith(error.advice)).toBe(true);
    // Nest forwards an error's statusCode to HTTP clients: the store's status is not there
    expect(error).not.toHaveProperty('statusCode');
    expect(error).not.toHaveProperty('status');
  });

  it('the probe reports its own failure, not its clean-up: a failing first create with a failing DELETE reads "probe", PutObject', async () => {
    const a = world.manager();
    a.tap.inject({ match: { operation: 'PutObject' }, times: 1, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    a.tap.inject({ match: { operation: 'DeleteObject' }, times: Infinity, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    const error = await failure(a.manager.probe());
    expect(error.operation).toBe('probe');
    expect(error.s3Operation).toBe('PutObject');
    expect(error.message).not.toContain('clean-up');
    // nothing was created, so nothing was deleted
    expect(a.tap.requests.filter((r) => r.operation === 'DeleteObject')).toEqual([]);
  });

  it('InvalidAccessKeyId and SignatureDoesNotMatch: the advice is about the credentials; a 403 HEAD without a body says both possibilities', async () => {
    for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch']) {
      const p = world.manager();
      p.tap.inject({ times: Infinity, fault: { kind: 'error', status: 403, code } });
      const error = await failure(p.manager.lock('job').tryAcquire());
      expect(error.storeErrorCode).toBe(code);
      expect(error.advice).toContain('The store refused the credentials');
    }
    // a 403 to a HEAD has no body: the SDK names it "Unknown", and the advice covers both causes
    const sdkError = Object.assign(new Error('UnknownError'), { name: 'Unknown', $metadata: { httpStatusCode: 403 } });
    const head = new S3LockStoreError('job', 'poll', undefined, sdkError, { bucket: 'b', s3Operation: 'HeadObject' });
    expect(head.storeStatusCode).toBe(403);
    expect(head.storeErrorCode).toBeUndefined();
    expect(head.isPermanent).toBe(true);
    expect(head.advice).toBe(`HTTP 403 without an error code (a HEAD request carries no body): the credentials are wrong, or s3:GetObject is denied on bucket "b". The lock needs ${REQUIRED_S3_PERMISSIONS}.`);
  });

  it('a 503 the SDK retried keeps its status, code and S3 call', async () => {
    // room for the SDK's three attempts with its throttling back-off
    const a = world.manager({ requestTimeoutMs: 10_000 });
    const lock = a.manager.lock('job');
    await lock.acquire();
    a.tap.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
    const error = await failure(lock.release());
    expect(error.operation).toBe('release');
    expect(error.s3Operation).toBe('PutObject');
    expect(error.storeStatusCode).toBe(503);
    expect(error.storeErrorCode).toBe('SlowDown');
    expect(error.isPermanent).toBe(false);
    expect(error.advice).toContain('overloaded');
  });

  it('no answer within requestTimeoutMs: TimeoutError, and the advice says the endpoint did not answer', async () => {
    const a = world.manager({ requestTimeoutMs: 300 });
    a.tap.inject({ times: Infinity, fault: { kind: 'delay', ms: 2_000 } });
    const error = await failure(a.manager.lock('job').tryAcquire());
    expect(error.storeErrorCode).toBe('TimeoutError');
    expect(error.storeStatusCode).toBeUndefined();
    expect(error.advice).toContain('did not answer within the request timeout');
  });
});
