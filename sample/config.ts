/**
 * The sample's configuration, read once from the environment. Every value has a default that
 * works with the in-memory store (`npx ts-node src/cli/main.ts memory-s3` listens on 4599; `npx nestjs-s3-lock memory-s3` where the package is installed).
 *
 *   S3_ENDPOINT           http://127.0.0.1:4599      S3 endpoint (any S3-compatible store)
 *   S3_REGION             us-east-1
 *   S3_BUCKET             nestjs-s3-lock-demo        created when missing
 *   S3_ACCESS_KEY_ID      testaccesskey
 *   S3_SECRET_ACCESS_KEY  testsecretkey
 *   S3_FORCE_PATH_STYLE   true                       `false` for virtual-hosted buckets (AWS)
 *   INSTANCE              the host name and pid     name printed in every event line
 *   HOST / PORT           127.0.0.1 / 3000           0 picks a free port (printed in the `listening` line)
 *   LOCK_TTL_MS           5000                       lease TTL: how long a crashed holder blocks the others
 *   REPORT_WORK_MS        1500                       how long POST /reports/:id works
 *   WORKER_BATCH_ITEMS    6                          queue items per worker batch (one lock per batch)
 *   WORKER_ITEM_MS        400                        time per queue item
 *   WORKER_PAUSE_MS       1000                       pause between two batches of one instance
 */
import { hostname } from 'node:os';

export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');

export interface SampleConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: boolean;
  readonly instance: string;
  readonly host: string;
  readonly port: number;
  readonly lockTtlMs: number;
  readonly reportWorkMs: number;
  readonly workerBatchItems: number;
  readonly workerItemMs: number;
  readonly workerPauseMs: number;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  const text = (name: string, fallback: string): string => env[name]?.trim() || fallback;
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
    return value;
  };
  return Object.freeze({
    endpoint: text('S3_ENDPOINT', 'http://127.0.0.1:4599'),
    region: text('S3_REGION', 'us-east-1'),
    bucket: text('S3_BUCKET', 'nestjs-s3-lock-demo'),
    accessKeyId: text('S3_ACCESS_KEY_ID', 'testaccesskey'),
    secretAccessKey: text('S3_SECRET_ACCESS_KEY', 'testsecretkey'),
    forcePathStyle: text('S3_FORCE_PATH_STYLE', 'true') !== 'false',
    instance: text('INSTANCE', `${hostname()}:${process.pid}`),
    host: text('HOST', '127.0.0.1'),
    port: int('PORT', 3000, 0),
    lockTtlMs: int('LOCK_TTL_MS', 5_000, 2_000),
    reportWorkMs: int('REPORT_WORK_MS', 1_500, 0),
    workerBatchItems: int('WORKER_BATCH_ITEMS', 6, 1),
    workerItemMs: int('WORKER_ITEM_MS', 400, 0),
    workerPauseMs: int('WORKER_PAUSE_MS', 1_000, 0),
  });
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
