/**
 * The S3 store a verification run uses: the in-memory store (started here, in its own process),
 * Ceph RGW or moto (already running; scripts/verify.sh starts them), or any endpoint URL.
 * Buckets are created directly on the store (not through the fault proxy) and deleted afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { endpointClient } from '../test/support/endpoint-client';

export interface StoreHandle {
  /** memory | rgw | moto | url */
  readonly kind: string;
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Creates a fresh bucket (versioning enabled when asked). */
  createBucket(versioned: boolean): Promise<string>;
  /** Deletes a bucket this handle created, with every object version in it. */
  deleteBucket(bucket: string): Promise<void>;
  /** Creates `bucket` again after {@link deleteBucket} (versioning enabled again if it was). */
  recreateBucket(bucket: string): Promise<void>;
  /** Deletes every object (every version and delete marker) under `prefix` except keys `keep` accepts; resolves to the number deleted. */
  wipe(bucket: string, prefix: string, keep?: (key: string) => boolean): Promise<number>;
  /** Puts an empty object (stray or foreign keys). */
  putEmpty(bucket: string, key: string): Promise<void>;
  close(): Promise<void>;
}

const ROOT = join(__dirname, '..');

/** Opens the store named by `--store`. */
export async function openStore(store: string): Promise<StoreHandle> {
  if (store === 'memory') return startMemoryStore();
  const env = (name: string): string | undefined => process.env[name]?.trim() || undefined;
  let endpoint: string;
  let keys: { accessKeyId: string; secretAccessKey: string };
  if (store === 'rgw' || store === 'moto') {
    const P = `S3_${store.toUpperCase()}`;
    endpoint = env(`${P}_ENDPOINT`) ?? (store === 'rgw' ? 'http://127.0.0.1:7480' : 'http://127.0.0.1:5055');
    keys = { accessKeyId: env(`${P}_ACCESS_KEY_ID`) ?? 'testaccesskey', secretAccessKey: env(`${P}_SECRET_ACCESS_KEY`) ?? 'testsecretkey' };
  } else if (/^https?:\/\//.test(store)) {
    endpoint = store;
    keys = {
      accessKeyId: env('VERIFY_ACCESS_KEY_ID') ?? env('AWS_ACCESS_KEY_ID') ?? 'testaccesskey',
      secretAccessKey: env('VERIFY_SECRET_ACCESS_KEY') ?? env('AWS_SECRET_ACCESS_KEY') ?? 'testsecretkey',
    };
  } else {
    throw new Error(`--store must be memory, rgw, moto or an http(s) endpoint URL, got "${store}"`);
  }
  const kind = store === 'rgw' || store === 'moto' ? store : 'url';
  const handle = new S3Store(kind, endpoint.replace(/\/+$/, ''), keys, undefined);
  try {
    await handle.admin.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(10_000) });
  } catch (error) {
    await handle.close();
    const e = error as { name?: string; message?: string };
    const hint = kind === 'url' ? '' : ` Start it with scripts/s3/start-${kind}.sh (npm run verify does).`;
    throw new Error(`store ${store} at ${endpoint} is not usable: ${e.name ?? 'Error'}: ${e.message ?? String(error)}.${hint}`);
  }
  return handle;
}

async function startMemoryStore(): Promise<StoreHandle> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src/cli/main.ts'), 'memory-s3', '--port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`in-memory S3 did not start within 120 s: ${stderr}`)), 120_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^S3_ENDPOINT=(\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`in-memory S3 exited with ${String(code)}: ${stderr}`));
    });
  });
  return new S3Store('memory', endpoint, { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey' }, child);
}

class S3Store implements StoreHandle {
  readonly admin: S3Client;
  private readonly versioned = new Set<string>();

  constructor(
    readonly kind: string,
    readonly endpoint: string,
    private readonly keys: { accessKeyId: string; secretAccessKey: string },
    private readonly child: ChildProcess | undefined,
  ) {
    this.admin = endpointClient({ endpoint, ...keys });
  }

  get accessKeyId(): string {
    return this.keys.accessKeyId;
  }

  get secretAccessKey(): string {
    return this.keys.secretAccessKey;
  }

  async createBucket(versioned: boolean): Promise<string> {
    const bucket = `s3lock-verify-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    if (versioned) this.versioned.add(bucket);
    await this.recreateBucket(bucket);
    return bucket;
  }

  async recreateBucket(bucket: string): Promise<void> {
    await this.admin.send(new CreateBucketCommand({ Bucket: bucket }));
    if (this.versioned.has(bucket)) await this.admin.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }

  async deleteBucket(bucket: string): Promise<void> {
    await this.wipe(bucket, '');
    await this.admin.send(new DeleteBucketCommand({ Bucket: bucket }));
  }

  async wipe(bucket: string, prefix: string, keep: (key: string) => boolean = () => false): Promise<number> {
    let deleted = 0;
    // Objects written while a round deletes are found by the next round.
    for (let round = 0; round < 20; round++) {
      const keys = (await this.listAll(bucket, prefix)).filter((k) => !keep(k.Key));
      if (keys.length === 0) break;
      for (let i = 0; i < keys.length; i += 16) {
        await Promise.all(keys.slice(i, i + 16).map((k) => this.admin.send(new DeleteObjectCommand({ Bucket: bucket, ...k }))));
      }
      deleted += keys.length;
    }
    return deleted;
  }

  /** Every object (every version and delete marker in a versioned bucket) under `prefix`, every page. */
  private async listAll(bucket: string, prefix: string): Promise<Array<{ Key: string; VersionId?: string }>> {
    const keys: Array<{ Key: string; VersionId?: string }> = [];
    if (this.versioned.has(bucket)) {
      let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
      for (;;) {
        const page = await this.admin.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000, ...markers }));
        for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) if (v.Key) keys.push({ Key: v.Key, VersionId: v.VersionId });
        if (!page.IsTruncated || page.NextKeyMarker === undefined) return keys;
        markers = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
      }
    }
    let token: string | undefined;
    for (;;) {
      const page = await this.admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push({ Key: o.Key });
      if (!page.IsTruncated || !page.NextContinuationToken) return keys;
      token = page.NextContinuationToken;
    }
  }

  async putEmpty(bucket: string, key: string): Promise<void> {
    await this.admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: new Uint8Array(0), ContentLength: 0 }));
  }

  async close(): Promise<void> {
    this.admin.destroy();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}
