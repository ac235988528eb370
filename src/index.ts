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
  S3LockProtocolMismatchError,
  S3LockInvalidOptionsError,
  S3LockStoreError,
  S3LockBucketMissingError,
  S3LockClosedError,
  S3LockCorruptRecordError,
  S3LockPermitsMismatchError,
} from './core/errors';
export type { S3LockHolderInfo, S3LockLossReason, S3LockProbePrimitive, S3LockStoreErrorContext } from './core/errors';
export { REQUIRED_S3_PERMISSIONS } from './core/errors';
export { DEFAULTS as S3_LOCK_DEFAULTS, MIN_TTL_MS, MAX_TTL_MS, MAX_PERMITS } from './core/lock-options';
export type {
  S3LockManagerOptions,
  S3LockOptions,
  S3LockAcquireOptions,
  S3LockUsingOptions,
  S3LockProtocolName,
  S3LockLogger,
  S3SemaphoreOptions,
} from './core/lock-options';
export type { S3LockTelemetryOptions } from './core/lock-telemetry';
export type { S3Lock, S3LockContext, S3LockState, S3LockEvents, S3LockEventName, S3Semaphore, S3MultiLockContext } from './core/lock-types';
export type { S3Election, S3ElectionOptions, S3LeaderInfo, S3LeadershipEndReason } from './core/leader-election';
export { MAX_LOCK_NAME_LENGTH } from './core/lock-name';

// NestJS module (needs @nestjs/common, @nestjs/core, reflect-metadata and rxjs; the health
// indicator is served by @nestjs/terminus, an optional peer)
export {
  S3LockModule,
  S3_LOCK_MODULE_OPTIONS,
  S3LockService,
  WithS3Lock,
  getS3LockMetadata,
  WhileLeader,
  getWhileLeaderMetadata,
  S3LockInterceptor,
  S3LockedException,
  S3LockUnavailableException,
  S3LockInvalidNameException,
  S3LockErrorInterceptor,
  S3LockHealthIndicator,
  currentS3Lock,
  currentS3MultiLock,
  S3_LOCK_METADATA,
  S3_WHILE_LEADER_METADATA,
} from './nest';
export type {
  S3LockModuleOptions,
  S3LockModuleExtras,
  S3LockModuleForRootOptions,
  S3LockModuleAsyncOptions,
  S3LockOptionsFactory,
  S3LockDecoratorDefaults,
  S3LockModuleLogger,
  S3LockOnLocked,
  S3LockHttpOptions,
  S3LockTryResult,
  WithS3LockOptions,
  S3LockName,
  S3LockMethodMetadata,
  S3LockMethodDecorator,
  S3LockMethodResult,
  WhileLeaderOptions,
  S3LeaderName,
  S3LeaderMethodMetadata,
  S3LeaderMethodDecorator,
  S3LockedHolder,
  S3LockedResponseBody,
  S3LockUnavailableResponseBody,
  S3LockInvalidNameResponseBody,
  S3LockHealthDetails,
  S3LockHealthElection,
  S3LockHealthIndicatorResult,
  S3LockHealthCheckOptions,
} from './nest';
