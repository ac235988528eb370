/**
 * Runs one consumer application (test/consumers/<app>, installed and built by
 * scripts/test-consumers.sh) against a real S3 store and checks what a user of the library sees:
 *
 *   1. two instances (dist/check/main.js: the app plus an every-second job) share a fresh bucket;
 *      a route under @WithS3Lock called on both at once answers 201 on one and 423 on the other;
 *   2. the @Cron job under @WithS3Lock runs once per tick across the instances (no tick twice,
 *      and ticks keep running);
 *   3. the app's own src/main.ts (the README's, with enableShutdownHooks) starts and locks, and on
 *      SIGTERM releases the lock it holds at once: another instance takes it at the next request
 *      instead of answering 423 until the TTL (30 s) runs out.
 *
 * Usage: node -r ts-node/register/transpile-only scripts/consumers/check-app.ts --app DIR --node NODE
 * Environment: S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (the store; required).
 * Prints one line per check; exit 0 when all passed, 1 otherwise.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const START_TIMEOUT_MS = 60_000;
const TICK_WINDOW_S = 6;

interface Instance {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const { values } = parseArgs({ options: { app: { type: 'string' }, node: { type: 'string', default: process.execPath } } });
const appDir = values.app;
if (!appDir) throw new Error('check-app: --app DIR is required');
const nodeBin = values.node ?? process.execPath;
const label = appDir.replace(/\/+$/, '').split('/').pop() ?? appDir;

function required(name: string): string {
  const value = (process.env[name] ?? '').trim();
  if (!value) throw new Error(`check-app: ${name} is not set (the store the consumer apps run against)`);
  return value;
}
const endpoint = required('S3_ENDPOINT');
const credentials = { accessKeyId: required('S3_ACCESS_KEY_ID'), secretAccessKey: required('S3_SECRET_ACCESS_KEY') };
const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 2 });

let failures = 0;
function report(ok: boolean, what: string, detail: string): void {
  if (!ok) failures += 1;
  process.stdout.write(`[consumer ${label}] ${ok ? 'PASS' : 'FAIL'} ${what}: ${detail}\n`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function start(name: string, script: string, bucket: string): Promise<Instance> {
  const port = await freePort();
  const child = spawn(nodeBin, [script], {
    cwd: appDir,
    env: {
      ...process.env,
      PORT: String(port),
      S3_LOCK_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`${name} (${script}) exited before listening:\n${output.join('')}`);
    if (Date.now() > deadline) throw new Error(`${name} (${script}) did not listen within ${START_TIMEOUT_MS} ms:\n${output.join('')}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1_000) });
      break;
    } catch {
      await sleep(200);
    }
  }
  return { name, url, child, output, exited };
}

async function stop(instance: Instance): Promise<void> {
  if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGTERM');
  const result = await Promise.race([instance.exited, sleep(15_000).then(() => undefined)]);
  if (!result) instance.child.kill('SIGKILL');
}

const post = (url: string): Promise<{ status: number; body: string }> =>
  fetch(url, { method: 'POST' }).then(async (r) => ({ status: r.status, body: await r.text() }));

async function emptyAndDelete(bucket: string): Promise<void> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const object of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

async function main(): Promise<void> {
  const bucket = `consumer-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const running: Instance[] = [];
  try {
    const check = join('dist', 'check', 'main.js');
    const [a, b] = await Promise.all([start('A', check, bucket), start('B', check, bucket)]);
    running.push(a, b);

    // 1. the route on both instances at the same time
    const [ra, rb] = await Promise.all([post(`${a.url}/reports/42`), post(`${b.url}/reports/42`)]);
    const statuses = [ra.status, rb.status].sort();
    const won = [ra, rb].find((r) => r.status === 201);
    report(
      statuses[0] === 201 && statuses[1] === 423 && /"fencingToken":\d+/.test(won?.body ?? ''),
      'POST /reports/42 on two instances at once',
      `A ${ra.status}, B ${rb.status}; winner's body ${won?.body ?? '(none)'}`,
    );

    // 2. the every-second job across both instances
    const from = Math.floor(Date.now() / 1000) + 1;
    await sleep(TICK_WINDOW_S * 1000 + 500);
    const to = from + TICK_WINDOW_S - 1;
    const ran = await Promise.all([a, b].map(async (i) => ((await (await fetch(`${i.url}/ticks`)).json()) as { ran: number[] }).ran));
    const inWindow = ran.map((r) => r.filter((s) => s >= from && s <= to));
    const all = inWindow.flat();
    const twice = all.filter((s, i) => all.indexOf(s) !== i);
    report(
      twice.length === 0 && new Set(all).size >= TICK_WINDOW_S - 2,
      `@Cron every second under @WithS3Lock, ${TICK_WINDOW_S} s on two instances`,
      `${new Set(all).size} of ${TICK_WINDOW_S} ticks ran (A ${inWindow[0]!.length}, B ${inWindow[1]!.length}), ticks run twice: ${twice.length === 0 ? 'none' : twice.join(', ')}`,
    );

    // 3. the README's main.ts: starts, locks, releases on SIGTERM
    const readme = await start('main', join('dist', 'main.js'), bucket);
    running.push(readme);
    const [m1, m2] = await Promise.all([post(`${readme.url}/reports/7`), post(`${readme.url}/reports/7`)]);
    report([m1.status, m2.status].sort().join(' ') === '201 423', "the README's main.ts: two POST /reports/7 at once", `${m1.status} and ${m2.status}`);
    const held = post(`${readme.url}/reports/sigterm`).catch((e: unknown) => ({ status: 0, body: String(e) }));
    await sleep(700);
    const before = await post(`${a.url}/reports/sigterm`);
    const stoppedAt = Date.now();
    readme.child.kill('SIGTERM');
    const exit = await Promise.race([readme.exited, sleep(15_000).then(() => undefined)]);
    await held;
    const after = await post(`${a.url}/reports/sigterm`);
    report(
      before.status === 423 && exit !== undefined && after.status === 201,
      "the README's main.ts releases its lock on SIGTERM",
      `while it held report:sigterm another instance got ${before.status}; it exited ${exit ? `(${exit.signal ?? exit.code})` : 'NOT within 15 s'} ` +
        `${Date.now() - stoppedAt} ms after SIGTERM; then the other instance got ${after.status}`,
    );
  } catch (error) {
    report(false, 'run', error instanceof Error ? error.message : String(error));
  } finally {
    await Promise.all(running.map(stop));
    if (failures > 0) {
      for (const i of running) process.stdout.write(`--- output of ${i.name}:\n${i.output.join('')}\n`);
    }
    await emptyAndDelete(bucket).catch((e: unknown) => process.stdout.write(`[consumer ${label}] note: could not delete bucket ${bucket}: ${String(e)}\n`));
    s3.destroy();
  }
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stdout.write(`[consumer ${label}] FAIL run: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
