/**
 * The store a contract test runs against, chosen by process.env.S3_LOCK_TARGET (set by the jest
 * project's setup file: test/support/target-<name>.ts; default 'memory').
 *
 *   memory  an InMemoryS3 behind an HTTP server started for this test file
 *   rgw     Ceph RGW at S3_RGW_ENDPOINT  (S3_RGW_ACCESS_KEY_ID / S3_RGW_SECRET_ACCESS_KEY)
 *   moto    moto at S3_MOTO_ENDPOINT     (S3_MOTO_ACCESS_KEY_ID / S3_MOTO_SECRET_ACCESS_KEY)
 *
 * For rgw and moto a missing or unreachable endpoint is an error, never a skip: `npm test`
 * (scripts/test.sh) starts the servers and exports the variables.
 *
 * Usage:
 *   let target: StoreTarget;
 *   beforeAll(async () => { target = await storeTarget(); });
 *   afterAll(() => target?.close());
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { InMemoryS3, startInMemoryS3Server } from '../../src/testing';
import { endpointClient } from './endpoint-client';

export type StoreTargetName = 'memory' | 'rgw' | 'moto';

export const STORE_TARGET_NAMES: readonly StoreTargetName[] = ['memory', 'rgw', 'moto'];

export interface StoreTarget {
  readonly name: StoreTargetName;
  /** A fresh S3Client for this target (path-style, us-east-1, requestChecksumCalculation 'WHEN_REQUIRED', responseChecksumValidation 'WHEN_REQUIRED'). */
  createClient(extra?: Partial<S3ClientConfig>): S3Client;
  /** Creates a fresh uniquely named bucket (optionally versioned) and returns its name. */
  createBucket(options?: { versioned?: boolean }): Promise<string>;
  /** The HTTP endpoint child processes can use (for memory: an in-memory HTTP server started for this test file). */
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** For 'memory' only: the InMemoryS3 instance (fault injection); undefined otherwise. */
  readonly memory: InMemoryS3 | undefined;
  /** Deletes the buckets this target created (rgw/moto; skipped when S3_LOCK_KEEP_BUCKETS=1), destroys its clients, stops the memory server. */
  close(): Promise<void>;
}

export const STORE_REGION = 'us-east-1';
const DEFAULT_CREDENTIALS = { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey' } as const;
const REACHABILITY_TIMEOUT_MS = 10_000;
const CLEANUP_TIMEOUT_MS = 30_000;

/** The target selected for this test file (process.env.S3_LOCK_TARGET, default 'memory'). */
export function storeTargetName(): StoreTargetName {
  const raw = (process.env.S3_LOCK_TARGET ?? '').trim() || 'memory';
  if (!(STORE_TARGET_NAMES as readonly string[]).includes(raw)) {
    throw new Error(`S3_LOCK_TARGET='${raw}' is not a store target (expected one of ${STORE_TARGET_NAMES.join(', ')})`);
  }
  return raw as StoreTargetName;
}

/** Creates the target selected by S3_LOCK_TARGET. Throws (never skips) when a real store is not configured or not reachable. */
export async function storeTarget(): Promise<StoreTarget> {
  const name = storeTargetName();
  if (name === 'memory') {
    const store = new InMemoryS3();
    const server = await startInMemoryS3Server({ store });
    return new Target(name, server.endpoint, { ...DEFAULT_CREDENTIALS }, store, () => server.close());
  }

  const prefix = `S3_${name.toUpperCase()}`;
  const endpoint = (process.env[`${prefix}_ENDPOINT`] ?? '').trim().replace(/\/+$/, '');
  if (!endpoint) {
    throw new Error(
      `S3_LOCK_TARGET=${name} but ${prefix}_ENDPOINT is not set. Run the suite with \`npm test\` ` +
        `(scripts/test.sh starts ${name}), or start it with scripts/s3/start-${name}.sh and export ` +
        `${prefix}_ENDPOINT (plus ${prefix}_ACCESS_KEY_ID / ${prefix}_SECRET_ACCESS_KEY).`,
    );
  }
  const credentials = {
    accessKeyId: process.env[`${prefix}_ACCESS_KEY_ID`] || DEFAULT_CREDENTIALS.accessKeyId,
    secretAccessKey: process.env[`${prefix}_SECRET_ACCESS_KEY`] || DEFAULT_CREDENTIALS.secretAccessKey,
  };
  const target = new Target(name, endpoint, credentials, undefined, undefined);
  try {
    await target.admin().send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(REACHABILITY_TIMEOUT_MS) });
  } catch (error) {
    await target.close();
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    throw new Error(
      `S3_LOCK_TARGET=${name}: ${prefix}_ENDPOINT=${endpoint} is not usable ` +
        `(ListBuckets failed: ${status ? `HTTP ${status} ` : ''}${e.name ?? 'Error'}: ${e.message ?? String(error)}). ` +
        `Is the server running (scripts/s3/start-${name}.sh) and are the credentials right?`,
      { cause: error },
    );
  }
  return target;
}

/** A bucket name no other test (or earlier run against a long-lived server) uses. */
export function uniqueBucketName(target: StoreTargetName): string {
  return `s3lock-${target}-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
}

class Target implements StoreTarget {
  private readonly clients = new Set<S3Client>();
  private readonly buckets: { name: string; versioned: boolean }[] = [];
  private adminClient: S3Client | undefined;
  private closed = false;

  constructor(
    readonly name: StoreTargetName,
    readonly endpoint: string,
    readonly credentials: { accessKeyId: string; secretAccessKey: string },
    readonly memory: InMemoryS3 | undefined,
    private readonly stopServer: (() => Promise<void>) | undefined,
  ) {}

  createClient(extra: Partial<S3ClientConfig> = {}): S3Client {
    if (this.closed) throw new Error(`store target ${this.name} is closed`);
    const client = endpointClient({ endpoint: this.endpoint, ...this.credentials }, { region: STORE_REGION, ...extra });
    this.clients.add(client);
    return client;
  }

  /** The client used for bucket set-up and clean-up. */
  admin(): S3Client {
    this.adminClient ??= this.createClient();
    return this.adminClient;
  }

  async createBucket(options: { versioned?: boolean } = {}): Promise<string> {
    const bucket = uniqueBucketName(this.name);
    await this.admin().send(new CreateBucketCommand({ Bucket: bucket }));
    this.buckets.push({ name: bucket, versioned: options.versioned === true });
    if (options.versioned) {
      await this.admin().send(
        new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
      );
    }
    return bucket;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // real servers outlive the test run (moto is often shared): don't leave buckets behind
      if (this.stopServer === undefined && this.buckets.length > 0 && process.env.S3_LOCK_KEEP_BUCKETS !== '1') {
        await withTimeout(
          Promise.all(this.buckets.map((b) => this.deleteBucket(b.name, b.versioned).catch(() => undefined))),
          CLEANUP_TIMEOUT_MS,
        );
      }
    } finally {
      for (const client of this.clients) client.destroy();
      this.clients.clear();
      if (this.stopServer) await this.stopServer();
    }
  }

  private async deleteBucket(bucket: string, versioned: boolean): Promise<void> {
    const s3 = this.admin();
    for (let round = 0; round < 100; round++) {
      const keys: { Key: string; VersionId?: string }[] = [];
      if (versioned) {
        const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1000 }));
        for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
          if (v.Key) keys.push({ Key: v.Key, VersionId: v.VersionId });
        }
      } else {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push({ Key: o.Key });
      }
      if (keys.length === 0) break;
      // single deletes: DeleteObjects needs a Content-MD5/checksum some stores handle differently
      for (let i = 0; i < keys.length; i += 16) {
        await Promise.all(
          keys.slice(i, i + 16).map((k) => s3.send(new DeleteObjectCommand({ Bucket: bucket, ...k }))),
        );
      }
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
