/**
 * The store probe refuses stores that ignore If-None-Match (typed error naming the primitive, the
 * bucket and the advice), and does not cache a store failure.
 */
import { DeleteObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { S3LockStoreError, S3LockUnsupportedStoreError, type S3LockProtocolName } from '../../src';
import { ClientFaults } from '../support/client-faults';
import { MemoryWorld, PREFIX, settle } from './support';

async function refusal(world: MemoryWorld, protocol: S3LockProtocolName): Promise<S3LockUnsupportedStoreError> {
  const { manager } = world.manager({ protocol });
  const result = await settle(manager.probe());
  expect(result.ok).toBe(false);
  const error = (result as { error: unknown }).error;
  expect(error).toBeInstanceOf(S3LockUnsupportedStoreError);
  return error as S3LockUnsupportedStoreError;
}

function expectIfNoneMatchRefusal(error: S3LockUnsupportedStoreError, bucket: string, protocol: string): void {
  expect(error.name).toBe('S3LockUnsupportedStoreError');
  expect(error.failedPrimitive).toBe('if-none-match');
  expect(error.lockName).toBeUndefined();
  expect(error.bucket).toBe(bucket);
  expect(error.prefix).toBe(PREFIX);
  expect(error.protocol).toBe(protocol);
  expect(error.message).toContain(`"${bucket}"`);
  expect(error.message).toContain('If-None-Match');
  expect(error.advice.length).toBeGreaterThan(20);
  expect(error.message).toContain(error.advice);
  expect(error.advice).toMatch(/versioning|versioned/);
}

describe('store probe', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it.each<[S3LockProtocolName]>([['create-only'], ['auto']])(
    'refuses a store that ignores If-None-Match (protocol %s, unversioned bucket)',
    async (protocol) => {
      world = await MemoryWorld.create({ bucket: 'ignoring-bucket' });
      world.store.setBehaviour({ ignoreIfNoneMatch: true });
      const error = await refusal(world, protocol);
      expectIfNoneMatchRefusal(error, 'ignoring-bucket', protocol);
      // no probe key left behind
      expect(await world.keys('')).toEqual([]);
    },
  );

  it('the refusal also reaches lock operations, and nothing is written under a lock name', async () => {
    world = await MemoryWorld.create();
    world.store.setBehaviour({ ignoreIfNoneMatch: true });
    const { manager } = world.manager();
    const lock = manager.lock('job');
    await expect(lock.tryAcquire()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    await expect(lock.acquire({ waitMs: 2000 })).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    await expect(manager.using('job', () => 'never')).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    await expect(manager.inspect('job')).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    expect(await world.keys('')).toEqual([]);
  });

  it('refuses a versioned bucket whose store ignores If-None-Match there (RGW), protocol create-only', async () => {
    world = await MemoryWorld.create({ bucket: 'rgw-like', versioned: true });
    world.store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    const error = await refusal(world, 'create-only');
    expectIfNoneMatchRefusal(error, 'rgw-like', 'create-only');
    // the probe removed the versions it wrote
    const versions = await world.admin.send(new ListObjectVersionsCommand({ Bucket: 'rgw-like' }));
    expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);
  });

  it('accepts the same versioned bucket on an honest store, and an unversioned bucket on a store with the RGW switch', async () => {
    world = await MemoryWorld.create({ bucket: 'honest-versioned', versioned: true });
    await expect(world.manager().manager.probe()).resolves.toBe('create-only');
    const versions = await world.admin.send(new ListObjectVersionsCommand({ Bucket: 'honest-versioned' }));
    // the probe's versions are gone; what stays is the prefix's protocol declaration
    expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].map((v) => v.Key)).toEqual([`${PREFIX}.protocol`]);
    await world.close();

    world = await MemoryWorld.create({ bucket: 'plain' });
    world.store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    await expect(world.manager().manager.probe()).resolves.toBe('create-only');
  });

  it('a store failure (503) during the probe is not cached: the next call succeeds once the fault clears', async () => {
    world = await MemoryWorld.create();
    const { manager } = world.manager();
    const fault = world.store.faults.inject({ match: { keyPrefix: `${PREFIX}.probe/` }, times: Infinity, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
    const first = await settle(manager.probe());
    expect(first.ok).toBe(false);
    expect((first as { error: unknown }).error).toBeInstanceOf(S3LockStoreError);
    expect((first as { error: unknown }).error).not.toBeInstanceOf(S3LockUnsupportedStoreError);
    expect(fault.fired).toBeGreaterThan(0);
    fault.cancel();
    await expect(manager.probe()).resolves.toBe('create-only');
    await expect(manager.lock('job').tryAcquire()).resolves.toBe(true);
  }, 20_000);

  it('a probe key that vanishes between its two creates (the bucket re-created, the prefix wiped) is a store error to retry, never a refusal', async () => {
    world = await MemoryWorld.create();
    const p = world.manager({ protocol: 'create-only' });
    const faults = new ClientFaults(p.client);
    let wiped = 0;
    // after the probe's first create is applied, and before its answer: the probe key is deleted
    faults.next('PutObject', {
      kind: 'hold-after',
      action: async () => {
        for (const key of await world.keys(`${PREFIX}.probe/`)) {
          await world.admin.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
          wiped += 1;
        }
      },
    });
    const first = await settle(p.manager.probe());
    expect(wiped).toBe(1);
    expect(first.ok).toBe(false);
    const error = (first as { error: unknown }).error;
    expect(error).toBeInstanceOf(S3LockStoreError);
    expect(error).not.toBeInstanceOf(S3LockUnsupportedStoreError);
    expect((error as Error).message).toContain('vanished');
    await expect(p.manager.probe()).resolves.toBe('create-only');
    await expect(p.manager.lock('job').tryAcquire()).resolves.toBe(true);
  }, 20_000);

  it('a probe key deleted after each of its first two creates (a wipe in rounds) is not taken for a store that ignores the condition: a fresh key is tried', async () => {
    world = await MemoryWorld.create();
    const p = world.manager({ protocol: 'create-only' });
    const faults = new ClientFaults(p.client);
    let wiped = 0;
    const wipe = async (): Promise<void> => {
      for (const key of await world.keys(`${PREFIX}.probe/`)) {
        await world.admin.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
        wiped += 1;
      }
    };
    // after the first and after the second create of the probe's key: the key is deleted
    faults.next('PutObject', { kind: 'hold-after', action: wipe }, 2);
    await expect(p.manager.probe()).resolves.toBe('create-only');
    expect(wiped).toBe(2);
    await expect(p.manager.lock('job').tryAcquire()).resolves.toBe(true);
  }, 20_000);
});
