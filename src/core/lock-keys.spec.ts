import { epochKey, epochOfKey, MAX_EPOCH } from './epoch-key';
import { S3LockCorruptRecordError, S3LockInvalidOptionsError } from './errors';
import { checkLockName, encodeLockName, lockKeyPrefix } from './lock-name';
import { recordFromMetadata, recordToMetadata, type LockRecord } from './lock-record';

describe('epoch keys', () => {
  it('sort newest first and round-trip', () => {
    const keys = [1, 2, 10, 999, 123456789].map((e) => epochKey('locks/a/', e));
    expect([...keys].sort()).toEqual([...keys].reverse());
    for (const e of [1, 2, 10, 999, 123456789]) expect(epochOfKey('locks/a/', epochKey('locks/a/', e))).toBe(e);
  });
  it('reject what is not a record key', () => {
    expect(epochOfKey('locks/a/', 'locks/a/abc')).toBeUndefined();
    expect(epochOfKey('locks/a/', 'locks/b/999999999999998')).toBeUndefined();
    expect(epochOfKey('locks/a/', 'locks/a/99999999999999')).toBeUndefined();
    expect(() => epochKey('p/', 0)).toThrow(RangeError);
    expect(epochKey('p/', MAX_EPOCH)).toBe('p/000000000000000'); // the last key epochOfKey reads
    expect(epochOfKey('p/', epochKey('p/', MAX_EPOCH))).toBe(MAX_EPOCH);
    expect(() => epochKey('p/', MAX_EPOCH + 1)).toThrow(RangeError);
  });
});

describe('lock names', () => {
  it('are validated', () => {
    for (const bad of ['', 'x'.repeat(257), 'a\nb', 'a\u007fb', 'lone\ud800', 42 as unknown as string]) {
      expect(() => checkLockName(bad)).toThrow(S3LockInvalidOptionsError);
    }
    expect(checkLockName('order:42/ünï')).toBe('order:42/ünï');
  });
  it.each([
    ['U+FFFF', 'a\uffffb'],
    ['U+FFFE', '\ufffe'],
  ])('refuse %s, which XML 1.0 does not allow (S3 lists keys in XML), naming the lock and the rule', (code, name) => {
    try {
      checkLockName(name);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(S3LockInvalidOptionsError);
      const error = e as S3LockInvalidOptionsError;
      expect(error.option).toBe('name');
      expect(error.lockName).toBe(JSON.stringify(name));
      expect(error.message).toContain(`must not contain ${code}`);
      expect(error.message).toContain('XML 1.0');
    }
  });
  it('accept every other character XML 1.0 allows, astral ones included', () => {
    for (const ok of ['\ufffd', '\ud7ff', '\ue000', 'emoji \u{1F512}', '\u{10FFFF}', '\ufdd0']) expect(checkLockName(ok)).toBe(ok);
  });
  it('encode into one segment that cannot escape or collide', () => {
    const names = ['a', 'a/b', 'a%2Fb', '.', '..', '../x', '.probe', 'A', 'a b', '*', '~', "it's"];
    const encoded = names.map(encodeLockName);
    expect(new Set(encoded).size).toBe(names.length);
    for (const e of encoded) {
      expect(e).not.toContain('/');
      expect(e.startsWith('.')).toBe(false);
      expect(e).toMatch(/^[A-Za-z0-9_\-:%\u0080-\uffff]+$/);
    }
    expect(lockKeyPrefix('locks/', 'order:1')).toBe('locks/order:1/');
    expect(encodeLockName('a/b c%')).toBe('a%2Fb%20c%25');
    expect(encodeLockName('日本')).toBe('日本');
  });
});

describe('lock records', () => {
  const record: LockRecord = { kind: 'renew', leaseId: 'l', ownerId: 'o', ttlMs: 3000, fencingToken: 7, nonce: 'n', host: 'höst', pid: 12 };
  it('round-trip through ASCII metadata', () => {
    const meta = recordToMetadata(record);
    for (const v of Object.values(meta)) expect(v).toMatch(/^[\x20-\x7e]*$/);
    expect(recordFromMetadata('x', 'k', meta)).toEqual(record);
  });
  it('refuse planted or corrupt metadata with the lock name and key', () => {
    const meta = recordToMetadata(record);
    for (const broken of [{}, { ...meta, 'lock-kind': 'steal' }, { ...meta, 'lock-token': '-1' }, { ...meta, 'lock-ttl': 'x' }, { ...meta, 'lock-nonce': '' }]) {
      try {
        recordFromMetadata('job', 'locks/job/1', broken);
        throw new Error('accepted');
      } catch (e) {
        expect(e).toBeInstanceOf(S3LockCorruptRecordError);
        expect((e as S3LockCorruptRecordError).lockName).toBe('job');
        expect((e as S3LockCorruptRecordError).key).toBe('locks/job/1');
      }
    }
  });
});
