/**
 * A lock client in its own OS process, for multi-process tests. Configured by one JSON argument;
 * reports JSON lines on stdout and, in `contend` mode, appends critical sections to a shared log
 * with times from the machine-wide monotonic clock (process.hrtime).
 */
import { appendFileSync } from 'node:fs';
import { endpointClient } from '../support/endpoint-client';
import { S3LockManager, type S3LockProtocolName } from '../../src';

interface WorkerConfig {
  mode: 'contend' | 'hold' | 'try-loop' | 'acquire';
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  protocol: S3LockProtocolName;
  name: string;
  ttlMs: number;
  iterations?: number;
  holdMs?: [number, number];
  logFile?: string;
  durationMs?: number;
  waitMs?: number;
  /** `waitMs: Infinity` (JSON has no Infinity). */
  waitForever?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify({ pid: process.pid, at: monoMs(), ...event }) + '\n');
};
function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const client = endpointClient(config);
  const manager = new S3LockManager({ client, bucket: config.bucket, protocol: config.protocol, ttlMs: config.ttlMs, waitMs: config.waitForever ? Infinity : (config.waitMs ?? 120_000) });
  manager.on('storeError', (e) => say({ event: 'storeError', operation: e.operation, message: e.error.message }));
  switch (config.mode) {
    case 'contend': {
      const lock = manager.lock(config.name);
      const [lo, hi] = config.holdMs ?? [5, 20];
      for (let i = 0; i < (config.iterations ?? 20); i++) {
        const asked = monoMs();
        await lock.acquire();
        const start = monoMs();
        const token = lock.fencingToken;
        await sleep(lo + Math.random() * (hi - lo));
        const end = monoMs();
        const lost = lock.signal.aborted;
        appendFileSync(config.logFile!, JSON.stringify({ pid: process.pid, i, asked, start, end, token, lost }) + '\n');
        await lock.release();
      }
      say({ event: 'done' });
      break;
    }
    case 'hold': {
      const lock = manager.lock(config.name);
      await lock.acquire();
      say({ event: 'acquired', token: lock.fencingToken });
      lock.signal.addEventListener('abort', () => {
        const reason = lock.signal.reason as { reason?: string; name?: string };
        say({ event: 'lost', reason: reason.reason, error: reason.name });
      });
      for (;;) {
        await sleep(200);
        say({ event: 'tick', held: lock.isHeld, aborted: lock.signal.aborted });
      }
    }
    case 'try-loop': {
      const end = monoMs() + (config.durationMs ?? 5_000);
      let attempts = 0;
      while (monoMs() < end) {
        const lock = manager.lock(config.name);
        attempts++;
        if (await lock.tryAcquire()) {
          say({ event: 'acquired', token: lock.fencingToken });
          await lock.release();
        }
        await sleep(300);
      }
      say({ event: 'done', attempts });
      break;
    }
    case 'acquire': {
      const lock = manager.lock(config.name);
      if (!(await lock.tryAcquire())) {
        say({ event: 'waiting' });
        await lock.acquire();
      }
      say({ event: 'acquired', token: lock.fencingToken });
      await lock.release();
      say({ event: 'done' });
      break;
    }
  }
  await manager.close();
  client.destroy();
}

process.on('unhandledRejection', (e) => {
  say({ event: 'unhandledRejection', message: String(e) });
  process.exit(3);
});
main().catch((e: unknown) => {
  say({ event: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exit(2);
});
