/**
 * Invalid options and names are refused with S3LockInvalidOptionsError; unusual but valid names map
 * to keys that stay under the prefix and never collide.
 */
import { S3LockInvalidOptionsError, S3LockManager, type S3LockManagerOptions } from '../../src';
import { MemoryWorld, PREFIX, lockPrefixOf, recordKey, settle, type Proc } from './support';

function invalid(fn: () => unknown): S3LockInvalidOptionsError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(S3LockInvalidOptionsError);
  return thrown as S3LockInvalidOptionsError;
}

async function invalidAsync(promise: () => Promise<unknown>): Promise<S3LockInvalidOptionsError> {
  let thrown: unknown;
  try {
    await promise();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(S3LockInvalidOptionsError);
  return thrown as S3LockInvalidOptionsError;
}

describe('input validation', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager();
    b = world.manager();
  });
  afterEach(() => world.close());

  function managerWith(options: Partial<Record<keyof S3LockManagerOptions, unknown>>): S3LockManager {
    return new S3LockManager({ client: a.client, bucket: world.bucket, ...options } as S3LockManagerOptions);
  }

  describe('lock names', () => {
    it('empty name', () => {
      const e = invalid(() => a.manager.lock(''));
      expect(e.option).toBe('name');
      expect(e.name).toBe('S3LockInvalidOptionsError');
    });

    it('300-character name (limit 256)', () => {
      const name = 'n'.repeat(300);
      const e = invalid(() => a.manager.lock(name));
      expect(e.option).toBe('name');
      expect(e.lockName).toBeDefined();
      expect(name.startsWith(e.lockName!.replace(/\.\.\.$/, ''))).toBe(true);
      expect(e.message).toContain('256');
    });

    it.each([['newline', 'a\nb'], ['NUL', 'a\u0000b'], ['tab', '\tx'], ['DEL', 'x\u007f'], ['C1 control', 'x\u0085']])('name with a control character (%s)', (_label, name) => {
      const e = invalid(() => a.manager.lock(name));
      expect(e.option).toBe('name');
      expect(e.lockName).toBeDefined();
    });

    it('a lone surrogate', () => {
      expect(invalid(() => a.manager.lock('x\ud800')).option).toBe('name');
    });

    it('the async entry points reject (not throw) for a bad name', async () => {
      expect((await invalidAsync(() => a.manager.using('', () => 1))).option).toBe('name');
      expect((await invalidAsync(() => a.manager.inspect('\n'))).option).toBe('name');
    });

    it('nothing is written for invalid names', async () => {
      world.store.clearRequests();
      await settle(a.manager.using('', () => 1));
      expect(world.store.requests).toEqual([]);
    });
  });

  describe('ttlMs and waitMs', () => {
    it.each([[10], [1.5], ['x'], [NaN], [86_400_001]])('manager ttlMs %p', (ttlMs) => {
      const e = invalid(() => managerWith({ ttlMs }));
      expect(e.option).toBe('ttlMs');
      expect(e.lockName).toBeUndefined();
    });

    it.each([[10], [1.5], ['x']])('per-lock ttlMs %p names the lock', (ttlMs) => {
      const e = invalid(() => a.manager.lock('job', { ttlMs: ttlMs as number }));
      expect(e.option).toBe('ttlMs');
      expect(e.lockName).toBe('job');
    });

    it('using() with a bad ttlMs rejects', async () => {
      const e = await invalidAsync(() => a.manager.using('job', () => 1, { ttlMs: 10 }));
      expect(e.option).toBe('ttlMs');
      expect(e.lockName).toBe('job');
    });

    it.each([[-1], [NaN], ['x']])('manager waitMs %p', (waitMs) => {
      const e = invalid(() => managerWith({ waitMs }));
      expect(e.option).toBe('waitMs');
      expect(e.lockName).toBeUndefined();
    });

    it('acquire({ waitMs: -1 }) rejects with the lock name', async () => {
      const lock = a.manager.lock('job');
      // a Promise-returning method must report through the promise, never throw synchronously
      let result: Promise<void> | undefined;
      let threwSynchronously: unknown;
      try {
        result = lock.acquire({ waitMs: -1 });
      } catch (error) {
        threwSynchronously = error;
      }
      // BUG (src/core/lock-instance.ts acquire(), line 76): checkWait() runs before calls.run(),
      // outside any promise, so `lock.acquire({ waitMs: -1 }).catch(...)` throws instead of rejecting.
      expect(threwSynchronously).toBeUndefined();
      const e = await invalidAsync(() => result!);
      expect(e.option).toBe('waitMs');
      expect(e.lockName).toBe('job');
    });

    it('using({ waitMs: -1 }) rejects with the lock name', async () => {
      const e = await invalidAsync(() => a.manager.using('job', () => 1, { waitMs: -1 }));
      expect(e.option).toBe('waitMs');
      expect(e.lockName).toBe('job');
    });
  });

  describe('manager options', () => {
    it.each([['Bad_Bucket'], ['ab'], [''], ['-bucket'], ['UPPER'], [42]])('bad bucket name %p', (bucket) => {
      const e = invalid(() => managerWith({ bucket }));
      expect(e.option).toBe('bucket');
      expect(e.lockName).toBeUndefined();
    });

    it.each([['my..bucket'], ['192.168.5.4']])('bucket name %p that S3 forbids (adjacent periods, IP address)', (bucket) => {
      // BUG (src/core/lock-options.ts resolveManagerOptions, line 174): the engine's regex misses two
      // S3 naming rules that the in-memory store (bucket-operations.ts isValidBucketName) enforces.
      expect(invalid(() => managerWith({ bucket })).option).toBe('bucket');
    });

    it.each([['magic'], ['CREATE-ONLY'], [''], [1]])('bad protocol %p', (protocol) => {
      const e = invalid(() => managerWith({ protocol }));
      expect(e.option).toBe('protocol');
    });

    it.each([[1000], [299_999], [-1], [1.5]])('gcHorizonMs %p (must be 0 or >= 300000)', (gcHorizonMs) => {
      expect(invalid(() => managerWith({ gcHorizonMs })).option).toBe('gcHorizonMs');
    });

    it.each([['/abs'], ['a\nb'], [7]])('bad prefix %p', (prefix) => {
      expect(invalid(() => managerWith({ prefix })).option).toBe('prefix');
    });

    it('no client', () => {
      expect(invalid(() => managerWith({ client: undefined })).option).toBe('client');
    });
  });

  describe('names map to keys under the prefix without collisions', () => {
    const NAMES = ['a', 'a/b', 'a%2Fb', '..', '.', '%', '%25', 'ü', 'u\u0308', '日本語', '🔒', 'a:b', 'a%3Ab', '.probe', 'a b', 'a+b', "it's", '~x', 'A', 'a/', '/a', 'a//b'];

    it('each name acquires independently of every other, across two managers', async () => {
      const locks = NAMES.map((name, i) => ({ name, lock: (i % 2 === 0 ? a : b).manager.lock(name) }));
      const acquired = await Promise.all(locks.map(({ lock }) => lock.tryAcquire()));
      expect(acquired).toEqual(NAMES.map(() => true));
      for (const { name, lock } of locks) expect(lock.fencingToken).toBe((await world.base(name)) + 1);

      // every name is held: nobody else gets any of them
      const again = await Promise.all(NAMES.map((name, i) => (i % 2 === 0 ? b : a).manager.lock(name).tryAcquire()));
      expect(again).toEqual(NAMES.map(() => false));

      // the store holds one record (and the generation record) per name, each under its own segment below the prefix
      const all = (await world.keys('')).filter((k) => !k.startsWith(`${PREFIX}.probe/`) && k !== `${PREFIX}.protocol`);
      expect(all.filter((k) => k.endsWith('/generation'))).toHaveLength(NAMES.length);
      const keys = all.filter((k) => !k.endsWith('/generation'));
      expect(keys).toHaveLength(NAMES.length);
      for (const key of keys) expect(key).toMatch(/^locks\/[^/]+\/\.[0-9a-f-]{36}\/\d{15}$/);
      const segments = new Set(keys.map((k) => k.split('/')[1]));
      expect(segments.size).toBe(NAMES.length);
      for (const name of NAMES) expect(keys).toContain(recordKey(name, (await world.base(name)) + 1, await world.generationId(name)));
      for (const name of NAMES) expect(lockPrefixOf(name).startsWith(PREFIX)).toBe(true);

      // inspect sees the right holder for each
      for (const { name, lock } of locks) expect((await a.manager.inspect(name)).holder?.ownerId).toBe(lock.id);

      await Promise.all(locks.map(({ lock }) => lock.release()));
      const swapped = await Promise.all(NAMES.map((name, i) => (i % 2 === 0 ? b : a).manager.lock(name).tryAcquire()));
      expect(swapped).toEqual(NAMES.map(() => true));
    });

    it.each([
      ['256 ASCII letters', 'x'.repeat(256)],
      ['256 percent signs (3 bytes each encoded)', '%'.repeat(256)],
      ['256 CJK characters (9 bytes each encoded)', '日'.repeat(256)],
      ['128 emoji (256 UTF-16 units, 12 bytes each encoded)', '🔒'.repeat(128)],
    ])('a name at the documented limit can be locked: %s', async (_label, name) => {
      const lock = a.manager.lock(name); // accepted by validation ...
      // BUG (src/core/lock-name.ts checkLockName / lockKeyPrefix): the percent-encoded key can exceed
      // S3's 1024-byte key limit (256 CJK characters -> 2304 bytes), so a name that validation accepted
      // fails later in the store with S3LockStoreError (HTTP 400 KeyTooLongError).
      const tried = await settle(lock.tryAcquire());
      expect(tried).toEqual({ ok: true, value: true });
      await lock.release();
    });
  });
});
