// Jest setupFiles entry of the 'moto' project: the store every contract test in it runs against.
process.env.S3_LOCK_TARGET = 'moto';

export {};
