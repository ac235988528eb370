/** Metadata key of `@WithS3Lock()` on the method (the wrapper function). */
export const S3_LOCK_METADATA = 'nestjs-s3-lock:with-s3-lock';

/** Metadata key of `@WhileLeader()` on the method. */
export const S3_WHILE_LEADER_METADATA = 'nestjs-s3-lock:while-leader';

/** Injection token of the validated module options (internal). */
export const S3_LOCK_SETTINGS = Symbol('S3_LOCK_SETTINGS');

/**
 * Injection token of the deferred module options (internal): a function returning the options of
 * `forRoot()` / `forRootAsync()`, called only when the lock module itself is built, so that a test
 * that replaces the module (`overrideModule(S3LockModule)`) never runs the application's factory.
 */
export const S3_LOCK_OPTIONS_SOURCE = Symbol('S3_LOCK_OPTIONS_SOURCE');
