/**
 * nestjs-s3-lock: distributed locks stored in Amazon S3 or any S3-compatible store.
 * The engine is framework-free; the NestJS module lives beside it.
 */
export { S3LockManager } from './core/lock-manager';
export type { S3LockManagerInternals } from './core/lock-manager';
export {
  S3LockError,
  S3LockNotAcquiredError,
  S3LockTimeoutError,
  S3LockLostError,
  S3LockUnsupportedStoreError,
  S3LockInvalidOptionsError,
  S3LockStoreError,
  S3LockClosedError,
  S3LockCorruptRecordError,
} from './core/errors';
export type { S3LockHolderInfo, S3LockLossReason, S3LockProbePrimitive } from './core/errors';
export { DEFAULTS as S3_LOCK_DEFAULTS, MIN_TTL_MS, MAX_TTL_MS } from './core/lock-options';
export type {
  S3LockManagerOptions,
  S3LockOptions,
  S3LockAcquireOptions,
  S3LockUsingOptions,
  S3LockProtocolName,
  S3LockLogger,
} from './core/lock-options';
export type { S3Lock, S3LockContext, S3LockState, S3LockEvents, S3LockEventName } from './core/lock-types';
export { MAX_LOCK_NAME_LENGTH } from './core/lock-name';
