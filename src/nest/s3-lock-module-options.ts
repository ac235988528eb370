import { Logger } from '@nestjs/common';
import { S3LockInvalidOptionsError } from '../core/errors';
import { MAX_TTL_MS, MIN_TTL_MS, type S3LockManagerOptions } from '../core/lock-options';
import type { S3LockHttpOptions, S3LockModuleLogger, S3LockModuleOptions, S3LockOnLocked } from './s3-lock-module-options.interface';

/** Default shutdown budget, ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

const ON_LOCKED: readonly S3LockOnLocked[] = ['wait', 'skip', 'throw'];

/** Module options after validation, with the module's own defaults applied. */
export interface ResolvedModuleOptions {
  readonly manager: S3LockManagerOptions;
  readonly ttlMs: number | undefined;
  readonly waitMs: number | undefined;
  readonly onLockedRoute: S3LockOnLocked;
  readonly onLockedMethod: S3LockOnLocked;
  readonly minHoldMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logger: S3LockModuleLogger | undefined;
  readonly probeOnStartup: boolean;
  readonly warnWithoutShutdownHooks: boolean;
  readonly http: Readonly<Required<S3LockHttpOptions>>;
}

/** Defaults of {@link S3LockHttpOptions}. */
export const DEFAULT_HTTP_OPTIONS: Readonly<Required<S3LockHttpOptions>> = Object.freeze({
  mapErrors: true,
  exposeHolder: false,
  retryAfterSeconds: 1,
  unavailableRetryAfterSeconds: 5,
});

/** Throws {@link S3LockInvalidOptionsError} unless `value` is `'wait'`, `'skip'` or `'throw'`. */
export function checkOnLocked(option: string, value: unknown, lockName?: string): S3LockOnLocked {
  if (!ON_LOCKED.includes(value as S3LockOnLocked)) {
    throw new S3LockInvalidOptionsError(option, `must be 'wait', 'skip' or 'throw', got ${JSON.stringify(value)}`, lockName);
  }
  return value as S3LockOnLocked;
}

/** Throws {@link S3LockInvalidOptionsError} unless `value` is a valid lease TTL. */
export function checkTtlOption(option: string, value: unknown, lockName?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_TTL_MS || value > MAX_TTL_MS) {
    throw new S3LockInvalidOptionsError(option, `must be an integer between ${MIN_TTL_MS} and ${MAX_TTL_MS} (ms), got ${String(value)}`, lockName);
  }
  return value;
}

/** Throws {@link S3LockInvalidOptionsError} unless `value` is a number >= 0 (Infinity allowed). */
export function checkWaitOption(option: string, value: unknown, lockName?: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new S3LockInvalidOptionsError(option, `must be a number >= 0 (ms, Infinity allowed), got ${String(value)}`, lockName);
  }
  return value;
}

/** Throws {@link S3LockInvalidOptionsError} unless `value` is an integer >= 0. */
export function checkMinHold(option: string, value: unknown, lockName?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new S3LockInvalidOptionsError(option, `must be an integer >= 0 (ms), got ${String(value)}`, lockName);
  }
  return value;
}

/**
 * Validates the NestJS part of the options (the engine validates its own part when the manager
 * is built) and applies the module's defaults. Throws {@link S3LockInvalidOptionsError}.
 */
export function resolveModuleOptions(options: S3LockModuleOptions): ResolvedModuleOptions {
  if (options === null || typeof options !== 'object') {
    throw new S3LockInvalidOptionsError('options', 'S3LockModule options must be an object (check the value your useFactory / useClass returns)');
  }
  const { defaults = {}, shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS, logger, probeOnStartup = true, warnWithoutShutdownHooks = true, http = {}, ...manager } = options;
  if (defaults === null || typeof defaults !== 'object') {
    throw new S3LockInvalidOptionsError('defaults', `must be an object, got ${String(defaults)}`);
  }
  if (typeof shutdownTimeoutMs !== 'number' || !Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs <= 0) {
    throw new S3LockInvalidOptionsError('shutdownTimeoutMs', `must be a number > 0 (ms), got ${String(shutdownTimeoutMs)}`);
  }
  if (typeof probeOnStartup !== 'boolean') {
    throw new S3LockInvalidOptionsError('probeOnStartup', `must be a boolean, got ${String(probeOnStartup)}`);
  }
  if (typeof warnWithoutShutdownHooks !== 'boolean') {
    throw new S3LockInvalidOptionsError('warnWithoutShutdownHooks', `must be a boolean, got ${String(warnWithoutShutdownHooks)}`);
  }
  if (logger !== undefined && logger !== false && (logger === null || typeof logger !== 'object' || typeof logger.warn !== 'function' || typeof logger.error !== 'function')) {
    throw new S3LockInvalidOptionsError('logger', 'must be a logger with at least warn() and error() (a Nest Logger fits), or false');
  }
  return Object.freeze({
    manager,
    ttlMs: defaults.ttlMs === undefined ? undefined : checkTtlOption('defaults.ttlMs', defaults.ttlMs),
    waitMs: defaults.waitMs === undefined ? undefined : checkWaitOption('defaults.waitMs', defaults.waitMs),
    onLockedRoute: checkOnLocked('defaults.onLockedRoute', defaults.onLockedRoute ?? 'throw'),
    onLockedMethod: checkOnLocked('defaults.onLockedMethod', defaults.onLockedMethod ?? 'skip'),
    minHoldMs: checkMinHold('defaults.minHoldMs', defaults.minHoldMs ?? 0),
    shutdownTimeoutMs,
    logger: logger === false ? undefined : (logger ?? new Logger('S3Lock')),
    probeOnStartup,
    warnWithoutShutdownHooks,
    http: resolveHttpOptions(http),
  });
}

function resolveHttpOptions(http: S3LockHttpOptions): Readonly<Required<S3LockHttpOptions>> {
  if (http === null || typeof http !== 'object') throw new S3LockInvalidOptionsError('http', `must be an object, got ${String(http)}`);
  const resolved = { ...DEFAULT_HTTP_OPTIONS, ...stripUndefined(http) };
  for (const flag of ['mapErrors', 'exposeHolder'] as const) {
    if (typeof resolved[flag] !== 'boolean') throw new S3LockInvalidOptionsError(`http.${flag}`, `must be a boolean, got ${String(resolved[flag])}`);
  }
  for (const seconds of ['retryAfterSeconds', 'unavailableRetryAfterSeconds'] as const) {
    const value = resolved[seconds];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new S3LockInvalidOptionsError(`http.${seconds}`, `must be an integer >= 1 (seconds), got ${String(value)}`);
    }
  }
  return Object.freeze(resolved);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
