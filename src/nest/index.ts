/** The NestJS module: module, service, decorators, interceptor, exception, health indicator. */
export { S3LockModule } from './s3-lock.module';
export {
  S3_LOCK_MODULE_OPTIONS,
  type S3LockModuleForRootOptions,
  type S3LockModuleAsyncOptions,
  type S3LockOptionsFactory,
} from './s3-lock.module-definition';
export type {
  S3LockModuleOptions,
  S3LockModuleExtras,
  S3LockDecoratorDefaults,
  S3LockModuleLogger,
  S3LockOnLocked,
  S3LockHttpOptions,
} from './s3-lock-module-options.interface';
export { S3LockService, type S3LockTryResult } from './s3-lock.service';
export { WhileLeader, getWhileLeaderMetadata, type WhileLeaderOptions, type S3LeaderName, type S3LeaderMethodMetadata, type S3LeaderMethodDecorator } from './s3-lock.while-leader';
export { WithS3Lock, getS3LockMetadata, type WithS3LockOptions, type S3LockName, type S3LockMethodMetadata, type S3LockMethodDecorator, type S3LockMethodResult } from './s3-lock.decorator';
export { S3LockInterceptor } from './s3-lock.interceptor';
export {
  S3LockedException,
  S3LockUnavailableException,
  S3LockInvalidNameException,
  type S3LockedHolder,
  type S3LockedResponseBody,
  type S3LockUnavailableResponseBody,
  type S3LockInvalidNameResponseBody,
} from './s3-lock.exception';
export { S3LockErrorInterceptor } from './s3-lock.error-interceptor';
export {
  S3LockHealthIndicator,
  type S3LockHealthDetails,
  type S3LockHealthElection,
  type S3LockHealthIndicatorResult,
  type S3LockHealthCheckOptions,
} from './s3-lock.health';
export { currentS3Lock, currentS3MultiLock } from './s3-lock.context';
export { S3_LOCK_METADATA, S3_WHILE_LEADER_METADATA } from './s3-lock.constants';
