/**
 * Permanent store errors met by a waiter of a warm manager (the protocol chosen, the lock held by
 * another process): the wait ends at once with the typed store error. The contract suite
 * (test/contract/permanent-errors.spec.ts) covers a wrong secret and a missing bucket at first use.
 */
import { S3LockBucketMissingError, S3LockStoreError, type S3LockEvents } from '../../src';
import { MemoryWorld, settle, type Proc } from './support';

describe('permanent store errors while waiting', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager();
    b = world.manager();
    await Promise.all([a.manager.probe(), b.manager.probe()]);
  });
  afterEach(() => world.close());

  it.each([
    [403, 'InvalidAccessKeyId'],
    [403, 'SignatureDoesNotMatch'],
    [403, 'AccessDenied'],
    [301, 'PermanentRedirect'],
    [404, 'NoSuchBucket'],
  ])('%i %s: a waiting acquire() fails at once with the typed store error, not after waitMs as a busy lock', async (status, code) => {
    const held = a.manager.lock('job');
    await held.acquire();
    const storeErrors: Array<S3LockEvents['storeError']> = [];
    b.manager.on('storeError', (e) => storeErrors.push(e));
    const waiter = b.manager.lock('job');
    const waiting = settle(waiter.acquire({ waitMs: 60_000 }));
    // the waiter has seen the holder and polls; from now on the store refuses b's requests
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = b.tap.inject({ times: Infinity, fault: { kind: 'error', status, code } });
    const outcome = await waiting;
    expect(outcome.ok).toBe(false);
    const error = (outcome as { error: unknown }).error as S3LockStoreError;
    expect(error).toBeInstanceOf(code === 'NoSuchBucket' ? S3LockBucketMissingError : S3LockStoreError);
    expect(error.storeStatusCode).toBe(status);
    expect(error.lockName).toBe('job');
    expect(error.bucket).toBe(world.bucket);
    expect(error.message).toContain(`"${world.bucket}"`);
    expect(error.isPermanent).toBe(true);
    // one refused poll ended the wait (the SDK retries none of these)
    expect(refused.fired).toBe(1);
    expect(storeErrors).toEqual([]);
    expect(waiter.isHeld).toBe(false);
    refused.cancel();
    expect(held.isHeld).toBe(true);
    await held.release();
  });
});
