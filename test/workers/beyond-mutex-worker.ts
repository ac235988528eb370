/**
 * A semaphore, multi-name or election client in its own OS process, for
 * test/contract/beyond-mutex-processes.spec.ts. Configured by one JSON argument; reports JSON lines
 * on stdout and appends its critical sections (semaphore holds, multi-name sections, leadership
 * terms) to a shared JSONL log, with times from the machine-wide monotonic clock (process.hrtime),
 * so that the test can compare sections of different processes.
 *
 * Modes:
 *   sem-contend    `iterations` times: acquire a permit of semaphore `name`, hold it `holdMs`, log the section, release
 *   sem-hold       acquire a permit (saying `waiting` first when none is free), then hold it until killed, ticking
 *   multi-contend  `iterations` times: using(`orders[i % orders.length]`, ...) for `holdMs`, log the section
 *   elect          campaign on `name` until SIGTERM (which calls election.stop(), then exits 0); log each term
 */
import { appendFileSync } from 'node:fs';
import { endpointClient } from '../support/endpoint-client';
import { S3LockManager, type S3LockProtocolName } from '../../src';

interface WorkerConfig {
  mode: 'sem-contend' | 'sem-hold' | 'multi-contend' | 'elect';
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  protocol: S3LockProtocolName;
  ttlMs: number;
  /** The semaphore's or the election's name. */
  name?: string;
  permits?: number;
  /** multi-contend: the name lists to take, in the order asked, cycled through. */
  orders?: string[][];
  iterations?: number;
  holdMs?: [number, number];
  waitMs?: number;
  logFile?: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
const say = (event: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify({ pid: process.pid, at: monoMs(), ...event }) + '\n');
};
const log = (entry: Record<string, unknown>): void => {
  appendFileSync(config.logFile!, JSON.stringify({ pid: process.pid, ...entry }) + '\n');
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const holdFor = (): Promise<void> => {
  const [lo, hi] = config.holdMs ?? [20, 60];
  return sleep(lo + Math.random() * (hi - lo));
};

const client = endpointClient(config);
const manager = new S3LockManager({ client, bucket: config.bucket, protocol: config.protocol, ttlMs: config.ttlMs, waitMs: config.waitMs ?? 30_000 });
manager.on('storeError', (e) => say({ event: 'storeError', operation: e.operation, message: e.error.message }));

async function shutDown(code: number): Promise<never> {
  await manager.close();
  client.destroy();
  process.exit(code);
}

async function semContend(): Promise<void> {
  const semaphore = manager.semaphore(config.name!, { permits: config.permits! });
  for (let i = 0; i < (config.iterations ?? 5); i++) {
    await semaphore.acquire();
    const start = monoMs();
    const permit = semaphore.permit;
    const token = semaphore.fencingToken;
    await holdFor();
    const end = monoMs();
    log({ i, permit, token, start, end, lost: semaphore.signal.aborted || !semaphore.isHeld });
    await semaphore.release();
  }
  say({ event: 'done' });
  await shutDown(0);
}

async function semHold(): Promise<void> {
  const semaphore = manager.semaphore(config.name!, { permits: config.permits! });
  if (!(await semaphore.tryAcquire())) {
    say({ event: 'waiting' });
    await semaphore.acquire();
  }
  say({ event: 'acquired', permit: semaphore.permit, token: semaphore.fencingToken });
  semaphore.signal.addEventListener('abort', () => say({ event: 'lost', reason: (semaphore.signal.reason as { reason?: string }).reason }));
  for (;;) {
    await sleep(200);
    say({ event: 'tick', held: semaphore.isHeld, permit: semaphore.permit });
  }
}

async function multiContend(): Promise<void> {
  const orders = config.orders!;
  const started = monoMs();
  for (let i = 0; i < (config.iterations ?? 6); i++) {
    const asked = orders[i % orders.length]!;
    await manager.using(
      asked,
      async (ctx) => {
        const start = monoMs();
        await holdFor();
        const end = monoMs();
        log({ i, asked, names: ctx.names, tokens: ctx.fencingTokens, start, end, lost: ctx.signal.aborted || !ctx.isHeld });
      },
      { waitMs: config.waitMs ?? 30_000 },
    );
  }
  say({ event: 'done', tookMs: monoMs() - started });
  await shutDown(0);
}

async function elect(): Promise<void> {
  const election = manager.elect(config.name!, {
    onElected: (ctx) => {
      const start = monoMs();
      const token = ctx.fencingToken;
      log({ kind: 'begin', token, start });
      say({ event: 'elected', token });
      const onEnd = (): void => {
        const end = monoMs();
        log({ kind: 'end', token, start, end });
        say({ event: 'term-ended', token });
      };
      if (ctx.signal.aborted) onEnd();
      else ctx.signal.addEventListener('abort', onEnd, { once: true });
    },
    onRevoked: (reason) => say({ event: 'revoked', reason }),
  });
  process.once('SIGTERM', () => {
    say({ event: 'sigterm', isLeader: election.isLeader });
    void election.stop().then(
      () => {
        say({ event: 'stopped', isLeader: election.isLeader });
        return shutDown(0);
      },
      (e: unknown) => {
        say({ event: 'error', message: `stop: ${String(e)}` });
        return shutDown(2);
      },
    );
  });
  // A held lease does not keep a process alive (its renewal timers are unref'd): this does.
  setInterval(() => undefined, 1_000);
  // Ready once this process's manager reads the store and sees a leader (maybe itself).
  for (;;) {
    const leader = await election.leader();
    if (leader) {
      say({ event: 'sees-leader', token: leader.fencingToken, leaderPid: leader.pid });
      return;
    }
    await sleep(100);
  }
}

const modes: Record<WorkerConfig['mode'], () => Promise<void>> = {
  'sem-contend': semContend,
  'sem-hold': semHold,
  'multi-contend': multiContend,
  elect,
};

process.on('unhandledRejection', (e) => {
  say({ event: 'unhandledRejection', message: String(e) });
  process.exit(3);
});
modes[config.mode]().catch((e: unknown) => {
  say({ event: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  process.exit(2);
});
