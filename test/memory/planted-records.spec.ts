/**
 * Records planted or corrupted by hand under a lock's prefix.
 */
import { performance } from 'node:perf_hooks';
import { S3LockCorruptRecordError, type S3LockEvents } from '../../src';
import { MAX_EPOCH } from '../../src/core/epoch-key';
import { MemoryWorld, lockPrefixOf, recordKey, recordMetadata, settle, type Proc } from './support';

function expectCorrupt(error: unknown, name: string, key: string): void {
  expect(error).toBeInstanceOf(S3LockCorruptRecordError);
  const e = error as S3LockCorruptRecordError;
  expect(e.lockName).toBe(name);
  expect(e.key).toBe(key);
  expect(e.message).toContain(`"${name}"`);
  expect(e.message).toContain(key);
}

describe('planted and corrupt records', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    await world.plantGenerations(['job', 'warm']); // epochs count from 1 in these tests
    a = world.manager();
    b = world.manager();
  });
  afterEach(() => world.close());

  it.each([
    ['no metadata at all', {}],
    ['an unknown format', recordMetadata({ 'lock-format': '9' })],
    ['an unknown kind', recordMetadata({ 'lock-kind': 'steal' })],
    ['a bad TTL', recordMetadata({ 'lock-ttl': 'soon' })],
    ['a bad fencing token', recordMetadata({ 'lock-token': '-3' })],
    ['no nonce', recordMetadata({ 'lock-nonce': '' })],
  ])('a record key with %s -> S3LockCorruptRecordError naming the lock and the key', async (_label, metadata) => {
    const key = recordKey('job', 1);
    await world.put(key, metadata as Record<string, string>);
    const lock = a.manager.lock('job');
    const tried = await settle(lock.tryAcquire());
    expect(tried.ok).toBe(false);
    expectCorrupt((tried as { error: unknown }).error, 'job', key);
    // waiting does not help: the error is permanent, acquire() fails without waiting out waitMs
    const waited = await settle(lock.acquire({ waitMs: 60_000 }));
    expectCorrupt((waited as { error: unknown }).error, 'job', key);
    const inspected = await settle(b.manager.inspect('job'));
    expectCorrupt((inspected as { error: unknown }).error, 'job', key);
    expect(lock.isHeld).toBe(false);
  });

  it('a garbage record at the epoch a warm manager writes next: found on read-back', async () => {
    const lock = a.manager.lock('warm');
    await lock.acquire();
    await lock.release(); // epochs 1, 2; a's view is warm at 2
    const key = recordKey('warm', 3);
    await world.put(key, { 'lock-format': '1', 'lock-kind': 'acquire' });
    const tried = await settle(a.manager.lock('warm').tryAcquire());
    expect(tried.ok).toBe(false);
    expectCorrupt((tried as { error: unknown }).error, 'warm', key);
  });

  it('a valid record planted at the largest epoch key: a permanent S3LockCorruptRecordError (lock, bucket, key) for tryAcquire, acquire and forceRelease', async () => {
    const storeErrors: Array<S3LockEvents['storeError']> = [];
    a.manager.on('storeError', (e) => storeErrors.push(e));
    // the key format's last epoch: '000000000000000', a free lock (release) and a held one (acquire)
    const freeKey = recordKey('job', MAX_EPOCH);
    const heldKey = recordKey('warm', MAX_EPOCH);
    expect(freeKey.endsWith('/000000000000000')).toBe(true);
    await world.put(freeKey, recordMetadata({ 'lock-kind': 'release', 'lock-token': String(MAX_EPOCH) }));
    await world.put(heldKey, recordMetadata({ 'lock-kind': 'acquire', 'lock-token': String(MAX_EPOCH), 'lock-ttl': String(60_000) }));
    const expectEndOfKeys = (error: unknown, name: string, key: string): void => {
      expectCorrupt(error, name, key);
      expect((error as { bucket?: string }).bucket).toBe(world.bucket);
      expect((error as Error).message).toContain(`"${world.bucket}"`);
    };

    const lock = a.manager.lock('job');
    const tried = await settle(lock.tryAcquire());
    expect(tried.ok).toBe(false);
    expectEndOfKeys((tried as { error: unknown }).error, 'job', freeKey);
    // waiting cannot cure it: acquire() fails at once instead of retrying for waitMs
    const startedAt = performance.now();
    const waited = await settle(lock.acquire({ waitMs: 60_000 }));
    expect(performance.now() - startedAt).toBeLessThan(10_000);
    expectEndOfKeys((waited as { error: unknown }).error, 'job', freeKey);
    expect(storeErrors).toEqual([]);
    expect(lock.isHeld).toBe(false);

    // the operator's force release cannot write past it either: the same typed error
    const forced = await settle(b.manager.forceRelease('warm'));
    expect(forced.ok).toBe(false);
    expectEndOfKeys((forced as { error: unknown }).error, 'warm', heldKey);
    // reading still works
    expect((await b.manager.inspect('warm')).held).toBe(true);
  });

  it('non-record keys planted under the lock prefix (sorting before and after the records) do not break acquisition', async () => {
    const p = lockPrefixOf('job');
    const planted = [`${p}0`, `${p}!note`, `${p}-`, `${p}000000000000000000`, `${p}12345`, `${p}README.md`, `${p}sub/999999999999998`, `${p}zzz`];
    for (const key of planted) await world.put(key, { owner: 'someone' });

    const first = a.manager.lock('job');
    await expect(first.tryAcquire()).resolves.toBe(true);
    expect(first.fencingToken).toBe(1);
    await expect(b.manager.lock('job').tryAcquire()).resolves.toBe(false);
    const state = await b.manager.inspect('job');
    expect(state.held).toBe(true);
    expect(state.holder?.ownerId).toBe(first.id);
    expect(state.epoch).toBe(1);
    await first.release();

    // a cold manager (LIST first) reads the state through the planted keys too
    const c = world.manager();
    const next = c.manager.lock('job');
    await expect(next.tryAcquire()).resolves.toBe(true);
    expect(next.fencingToken).toBe(3);
    await next.release();
    // the planted keys are untouched
    const keys = await world.keys(p);
    for (const key of planted) expect(keys).toContain(key);
    expect(await world.epochs('job')).toEqual([4, 3, 2, 1]);
  });
});
