/**
 * `nestjs-s3-lock/testing`: an in-memory S3 store that honours conditional requests as AWS
 * documents them, with fault injection, for tests of applications that use the lock.
 */
export * from './testing/index';
export { S3LockTestingModule, type S3LockTestingModuleOptions } from './testing/s3-lock-testing.module';
