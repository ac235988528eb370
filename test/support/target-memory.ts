// Jest setupFiles entry of the 'memory' project: the store every contract test in it runs against.
process.env.S3_LOCK_TARGET = 'memory';

export {};
