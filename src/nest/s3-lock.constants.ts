/** Metadata key of `@WithS3Lock()` on the method (the wrapper function). */
export const S3_LOCK_METADATA = 'nestjs-s3-lock:with-s3-lock';

/** Injection token of the validated module options (internal). */
export const S3_LOCK_SETTINGS = Symbol('S3_LOCK_SETTINGS');
