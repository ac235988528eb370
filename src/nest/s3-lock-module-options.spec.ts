import { Logger } from '@nestjs/common';
import { S3LockInvalidOptionsError } from '../core/errors';
import type { S3LockModuleOptions } from './s3-lock-module-options.interface';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, resolveModuleOptions } from './s3-lock-module-options';

const base: S3LockModuleOptions = { client: { region: 'us-east-1' }, bucket: 'locks' };

describe('resolveModuleOptions', () => {
  it('applies the module defaults and passes the engine options through', () => {
    const resolved = resolveModuleOptions({ ...base, ttlMs: 5_000, prefix: 'p/' });
    expect(resolved).toMatchObject({
      ttlMs: undefined,
      waitMs: undefined,
      onLockedRoute: 'throw',
      onLockedMethod: 'skip',
      minHoldMs: 0,
      shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
      probeOnStartup: true,
      warnWithoutShutdownHooks: true,
      http: { mapErrors: true, exposeHolder: false, retryAfterSeconds: 1, unavailableRetryAfterSeconds: 5 },
    });
    expect(DEFAULT_SHUTDOWN_TIMEOUT_MS).toBe(5_000);
    expect(resolved.logger).toBeInstanceOf(Logger);
    expect(resolved.manager).toEqual({ ...base, ttlMs: 5_000, prefix: 'p/' });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('takes decorator defaults, a custom logger, or no logger', () => {
    const logger = { warn: jest.fn(), error: jest.fn() };
    const resolved = resolveModuleOptions({
      ...base,
      logger,
      defaults: { ttlMs: 4_000, waitMs: 0, onLockedRoute: 'wait', onLockedMethod: 'throw', minHoldMs: 100 },
    });
    expect(resolved).toMatchObject({ ttlMs: 4_000, waitMs: 0, onLockedRoute: 'wait', onLockedMethod: 'throw', minHoldMs: 100, logger });
    expect(resolveModuleOptions({ ...base, logger: false }).logger).toBeUndefined();
  });

  it.each([
    [{ defaults: { onLockedRoute: 'later' } }, /defaults\.onLockedRoute.*'wait', 'skip' or 'throw'/],
    [{ defaults: { onLockedMethod: 1 } }, /defaults\.onLockedMethod/],
    [{ defaults: { ttlMs: 1_000 } }, /defaults\.ttlMs.*between 2000 and 86400000/],
    [{ defaults: { waitMs: -1 } }, /defaults\.waitMs/],
    [{ defaults: { minHoldMs: 1.5 } }, /defaults\.minHoldMs/],
    [{ defaults: 'x' }, /defaults/],
    [{ shutdownTimeoutMs: 0 }, /shutdownTimeoutMs.*> 0/],
    [{ shutdownTimeoutMs: Number.NaN }, /shutdownTimeoutMs/],
    [{ probeOnStartup: 'yes' }, /probeOnStartup/],
    [{ logger: { log: () => undefined } }, /logger/],
  ])('rejects %j with S3LockInvalidOptionsError', (extra, message) => {
    const attempt = (): unknown => resolveModuleOptions({ ...base, ...(extra as object) } as S3LockModuleOptions);
    expect(attempt).toThrow(S3LockInvalidOptionsError);
    expect(attempt).toThrow(message);
  });

  it('rejects a missing options object with a hint about async factories', () => {
    expect(() => resolveModuleOptions(undefined as unknown as S3LockModuleOptions)).toThrow(/useFactory \/ useClass/);
  });
});
