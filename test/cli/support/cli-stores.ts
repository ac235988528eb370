import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { cliBin, HOLDER_SCRIPT, installedPackage, LineProcess } from './cli-process';

/** A store the CLI is tested against, with the flags and environment that reach it. */
export interface CliStore {
  readonly name: 'memory' | 'rgw' | 'moto';
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Environment for the bin: the SDK's default credential chain. */
  readonly env: Record<string, string>;
  /** `--endpoint E --force-path-style --region us-east-1` */
  readonly flags: string[];
  readonly client: S3Client;
  close(): Promise<void>;
}

const env = (store: { accessKeyId: string; secretAccessKey: string }): Record<string, string> => ({
  AWS_ACCESS_KEY_ID: store.accessKeyId,
  AWS_SECRET_ACCESS_KEY: store.secretAccessKey,
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

function client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
}

/** RGW or moto from `S3_<NAME>_ENDPOINT` (scripts/test.sh starts them); unset fails the suite. */
export function realStore(name: 'rgw' | 'moto'): CliStore {
  const N = name.toUpperCase();
  const endpoint = process.env[`S3_${N}_ENDPOINT`];
  if (!endpoint) throw new Error(`S3_${N}_ENDPOINT is not set: the CLI tests need ${name} (npm test starts it)`);
  const accessKeyId = process.env[`S3_${N}_ACCESS_KEY_ID`] ?? 'testaccesskey';
  const secretAccessKey = process.env[`S3_${N}_SECRET_ACCESS_KEY`] ?? 'testsecretkey';
  return {
    name,
    endpoint,
    accessKeyId,
    secretAccessKey,
    env: env({ accessKeyId, secretAccessKey }),
    flags: ['--endpoint', endpoint, '--force-path-style'],
    client: client(endpoint, accessKeyId, secretAccessKey),
    close: async function (this: CliStore) {
      this.client.destroy();
    },
  };
}

/** The bin's own `memory-s3` server, on a free port; `extra` flags such as `--ignore-if-none-match`. */
export async function memoryStore(extra: string[] = []): Promise<CliStore & { server: LineProcess }> {
  const server = new LineProcess(spawn(cliBin(), ['memory-s3', '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const endpoint = (await server.line(/^S3_ENDPOINT=/)).slice('S3_ENDPOINT='.length);
  const accessKeyId = (await server.line(/^AWS_ACCESS_KEY_ID=/)).split('=')[1]!;
  const secretAccessKey = (await server.line(/^AWS_SECRET_ACCESS_KEY=/)).split('=')[1]!;
  return {
    name: 'memory',
    endpoint,
    accessKeyId,
    secretAccessKey,
    env: env({ accessKeyId, secretAccessKey }),
    flags: ['--endpoint', endpoint, '--force-path-style'],
    client: client(endpoint, accessKeyId, secretAccessKey),
    server,
    close: async function (this: CliStore) {
      this.client.destroy();
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGINT');
      await server.exited;
    },
  };
}

let seq = 0;
/** A fresh bucket (versioned if asked) on `store`. */
export async function freshBucket(store: CliStore, versioned: boolean): Promise<string> {
  const bucket = `cli-${store.name}-${versioned ? 'ver' : 'plain'}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
  await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioned) await store.client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

export interface HolderOptions {
  readonly bucket: string;
  readonly prefix?: string;
  readonly protocol: 'create-only' | 'versioned';
  readonly names: readonly string[];
  /** Names the holder then waits for with a second lock instance (in-process hand-off on release). */
  readonly waiters?: readonly string[];
  readonly ttlMs?: number;
}

/** Starts a holder process (test/cli/support/holder.js) on the installed package and waits until it holds every name. */
export async function startHolder(store: CliStore, options: HolderOptions): Promise<LineProcess & { tokens: Map<string, number> }> {
  const args = {
    pkg: installedPackage(),
    endpoint: store.endpoint,
    accessKeyId: store.accessKeyId,
    secretAccessKey: store.secretAccessKey,
    bucket: options.bucket,
    prefix: options.prefix ?? 'locks/',
    protocol: options.protocol,
    ttlMs: options.ttlMs ?? 3_000,
    names: options.names,
    waiters: options.waiters ?? [],
  };
  const p = new LineProcess(spawn(process.execPath, [HOLDER_SCRIPT, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } }));
  const ready = await Promise.race([p.line(/^READY$/, 60_000), p.line(/^ERROR /, 60_000)]);
  if (ready.startsWith('ERROR')) throw new Error(`holder failed: ${ready}`);
  const tokens = new Map<string, number>();
  for (const l of p.lines) {
    const m = /^HELD (.+) (\d+)$/.exec(l);
    if (m) tokens.set(m[1]!, Number(m[2]));
  }
  return Object.assign(p, { tokens });
}
