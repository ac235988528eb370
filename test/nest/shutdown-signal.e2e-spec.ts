/**
 * Graceful shutdown on SIGTERM: a Nest application in a child process (app.enableShutdownHooks())
 * holds a lock in a decorated method; after SIGTERM the method's signal aborted with reason
 * 'closed', the process exited, and no lock is left held: another manager acquires at once,
 * without waiting for the TTL. Runs against every store (the child reaches it over HTTP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { S3LockManager } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { TEST_TTL_MS, waitUntil } from './support/nest-app';

const ROOT = join(__dirname, '..', '..');

describe('SIGTERM with app.enableShutdownHooks()', () => {
  let target: StoreTarget;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    target = await storeTarget();
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await target?.close();
  });

  it('releases every held lock before the process exits', async () => {
    const bucket = await target.createBucket();
    const name = 'shutdown:sigterm';
    let output = '';
    child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'fixtures', 'sigterm-app.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
        S3_ENDPOINT: target.endpoint,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: target.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
        LOCK_NAME: name,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.on('exit', (code, signal) => resolve({ code, signal })),
    );

    await waitUntil(() => /HELD \d+/.test(output) || child!.exitCode !== null, 30_000, 'the child to hold the lock');
    expect(output).toMatch(/HELD \d+/);

    const manager = new S3LockManager({ client: target.createClient(), bucket, ttlMs: TEST_TTL_MS });
    try {
      expect((await manager.inspect(name)).held).toBe(true);
      child.kill('SIGTERM');
      const { signal } = await exited;
      expect(signal).toBe('SIGTERM'); // Nest re-raises the signal after its shutdown hooks
      expect(output).toMatch(/ABORTED closed/);

      const state = await manager.inspect(name);
      expect(state.held).toBe(false);
      const started = Date.now();
      const lock = manager.lock(name);
      expect(await lock.tryAcquire()).toBe(true); // no waiting for the TTL
      expect(Date.now() - started).toBeLessThan(TEST_TTL_MS);
      await lock.release();
    } finally {
      await manager.close();
    }
  });
});
