// Jest setupFiles entry of the 'rgw' project: the store every contract test in it runs against.
process.env.S3_LOCK_TARGET = 'rgw';

export {};
