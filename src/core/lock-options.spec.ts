import { S3LockInvalidOptionsError } from './errors';
import { DEFAULTS, resolveManagerOptions, safetyMarginFor } from './lock-options';

const client = { send: () => undefined } as never;

describe('manager options', () => {
  it('apply documented defaults', () => {
    const o = resolveManagerOptions({ client, bucket: 'my-locks' }, 'host1');
    expect(o).toMatchObject({ prefix: 'locks/', ttlMs: 30_000, waitMs: 30_000, protocol: 'auto', maxPollIntervalMs: 500, gcHorizonMs: 3_600_000, host: 'host1' });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });
  it.each([
    ['bucket', { bucket: 'UPPER' }],
    ['bucket', { bucket: '' }],
    ['prefix', { prefix: '/abs' }],
    ['prefix', { prefix: 'a\u0000' }],
    ['prefix', { prefix: 'locks\uffff/' }],
    ['prefix', { prefix: 'locks\ud800/' }],
    ['ttlMs', { ttlMs: 1_000 }],
    ['ttlMs', { ttlMs: 2_500.5 }],
    ['waitMs', { waitMs: -1 }],
    ['protocol', { protocol: 'fast' }],
    ['gcHorizonMs', { gcHorizonMs: 1_000 }],
    ['maxPollIntervalMs', { maxPollIntervalMs: 1 }],
  ])('reject a bad %s with a typed error', (option, extra) => {
    try {
      resolveManagerOptions({ client, bucket: 'my-locks', ...(extra as object) }, 'h');
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(S3LockInvalidOptionsError);
      expect((e as S3LockInvalidOptionsError).option).toBe(option);
    }
  });
  it('refuse directory buckets (S3 Express One Zone), saying why for both protocols', () => {
    for (const bucket of ['my-locks--usw2-az1--x-s3', 'locks--use1-az4--x-s3']) {
      try {
        resolveManagerOptions({ client, bucket }, 'h');
        throw new Error('accepted');
      } catch (e) {
        expect(e).toBeInstanceOf(S3LockInvalidOptionsError);
        const error = e as S3LockInvalidOptionsError;
        expect(error.option).toBe('bucket');
        expect(error.message).toContain(`"${bucket}" is a directory bucket`);
        expect(error.message).toContain('--x-s3');
        expect(error.message).toMatch(/no particular order/);
        expect(error.message).toMatch(/StartAfter/);
        expect(error.message).toMatch(/versioning/);
        expect(error.message).toMatch(/general purpose bucket/);
      }
    }
    // a name that merely contains the suffix elsewhere is a general purpose bucket
    expect(resolveManagerOptions({ client, bucket: 'x--x-s3-locks' }, 'h').bucket).toBe('x--x-s3-locks');
  });
  it('name the rule when a prefix has a character XML 1.0 does not allow', () => {
    expect(() => resolveManagerOptions({ client, bucket: 'my-locks', prefix: 'a\ufffe/' }, 'h')).toThrow(/prefix: must not contain U\+FFFE: S3 returns keys in XML listings/);
  });
  it('derive a safety margin from the TTL', () => {
    expect(safetyMarginFor(3_000, undefined)).toBe(300);
    expect(safetyMarginFor(2_000, undefined)).toBe(200);
    expect(safetyMarginFor(600_000, undefined)).toBe(2_000);
    expect(safetyMarginFor(4_000, 5_000)).toBe(2_000);
  });
});
