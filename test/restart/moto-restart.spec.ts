/**
 * A real store restart that loses every record: a private moto instance (MOTO_RESTART_PORT,
 * default 5056, state in a temporary directory) is stopped and started again under a lock holder,
 * a warm manager and a waiter. moto keeps no state, so the bucket and every record are gone.
 * Needs what scripts/s3/start-moto.sh needs (root, the moto chroot); fails loudly otherwise.
 * Only the private instance is stopped, by its own pid file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3LockLostError, S3LockManager, type S3Lock } from '../../src';

const run = promisify(execFile);
const TTL = 10_000;
const PORT = process.env.MOTO_RESTART_PORT ?? '5056';
const ENDPOINT = `http://127.0.0.1:${PORT}`;
const BUCKET = 'restart-locks';
const scripts = join(__dirname, '..', '..', 'scripts', 's3');

let stateDir: string;
const env = (): NodeJS.ProcessEnv => ({ ...process.env, MOTO_PORT: PORT, MOTO_STATE_DIR: stateDir });
const startMoto = () => run(join(scripts, 'start-moto.sh'), [], { env: env(), timeout: 120_000 });
const stopMoto = () => run(join(scripts, 'stop-moto.sh'), ['--keep-mount'], { env: env(), timeout: 60_000 });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('store restart without state (private moto)', () => {
  let client: S3Client;
  const managers: S3LockManager[] = [];
  const manager = (): S3LockManager => {
    const m = new S3LockManager({ client, bucket: BUCKET, protocol: 'create-only', ttlMs: TTL, maxPollIntervalMs: 200 });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 's3lock-moto-restart-'));
    await startMoto();
    client = new S3Client({
      endpoint: ENDPOINT,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  }, 180_000);
  afterAll(async () => {
    await Promise.allSettled(managers.map((m) => m.close()));
    client?.destroy();
    await stopMoto();
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('every old holder learns it, tokens stay above the old ones, the missing bucket is a typed error', async () => {
    const h = manager();
    const warm = manager();
    await warm.using('job', () => undefined);
    for (let i = 0; i < 30; i++) await h.using('job', () => undefined);
    const held = h.lock('job');
    await held.acquire();
    const before = held.fencingToken!;

    await stopMoto();
    await startMoto();
    const restartedAt = Date.now();

    // the restarted store has no bucket: a typed error, never "free"
    const cold = manager();
    const error = await cold.lock('job').tryAcquire().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.name).toBe('S3LockBucketMissingError');
    expect(error?.message).toContain(BUCKET);

    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const holders: Array<{ who: string; lock: S3Lock; token: number }> = [{ who: 'old holder', lock: held, token: before }];
    for (const [who, m] of [['warm', warm], ['cold', cold]] as const) {
      const lock = m.lock('job');
      if (await lock.tryAcquire()) holders.push({ who, lock, token: lock.fencingToken! });
    }
    expect(holders.length).toBeGreaterThan(1);
    for (const x of holders.slice(1)) expect({ who: x.who, above: x.token > before }).toEqual({ who: x.who, above: true });

    await sleep(Math.max(0, restartedAt + TTL - Date.now()));
    expect(holders.filter((x) => !x.lock.signal.aborted).length).toBeLessThanOrEqual(1);
    expect(held.signal.aborted).toBe(true);
    expect(['records-lost', 'deadline-passed']).toContain((held.signal.reason as S3LockLostError).reason);
    for (const x of holders) if (x.lock.isHeld) await x.lock.release();
  }, 120_000);
});
