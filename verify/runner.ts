/**
 * One verification run of one protocol: a fresh bucket, the fencing resource, the fault proxy, the
 * worker processes, SIGSTOP pauses, then the checker over what the workers logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { endpointClient } from '../test/support/endpoint-client';
import { S3LockManager } from '../src';
import { defaultRequestTimeoutMs } from '../src/core/lock-options';
import { checkHistory, loadHistory, type CheckResult } from './checker';
import { FaultProxy, defaultFaultProfile } from './fault-proxy';
import { FencingResource } from './fencing-resource';
import type { CheckBounds, PauseRecord, RunRecord, WorkerInfo } from './history';
import { Operator } from './operator';
import { Random, monoMs } from './random';
import { proxySchedules, scheduleRates, type ScheduleName } from './schedules';
import type { StoreHandle } from './store';
import type { WorkerConfig } from './worker';

export type ProtocolName = 'create-only' | 'versioned';

export interface VerifyOptions {
  readonly seconds: number;
  readonly workers: number;
  readonly names: number;
  readonly loops: number;
  readonly store: string;
  readonly protocols: readonly ProtocolName[];
  readonly ttlMs: number;
  readonly svg: string | undefined;
  readonly faults: boolean;
  readonly out: string;
  readonly seed: number;
  readonly keepBucket: boolean;
  /** Override of the checker's acquire slack (default: the request timeout + 1 s). */
  readonly acquireSlackMs: number | undefined;
  /** Fault schedules beyond the network faults, pauses and skewed clocks (only with faults on). */
  readonly schedules: readonly ScheduleName[];
  /** Names the foreign manager holds (foreign-keys schedule). */
  readonly foreignNames: number;
}

export interface ProtocolRun {
  readonly protocol: ProtocolName;
  readonly dir: string;
  /** Set when the protocol could not run at all (the engine or the store refused it). */
  readonly skipped?: string;
  readonly run?: RunRecord;
  readonly check?: CheckResult;
}

const ROOT = join(__dirname, '..');
const READY_TIMEOUT_MS = 120_000;
/** Clock skews given to workers 0, 1, 2, 3, 4, ... (faults on): two of every four are an hour off. */
const SKEWS_MS = [3_600_000, -3_600_000, 0, 0];
/** The semaphore the workers take permits of, and its permits (permit i is the lock `sem#permit-i`). */
export const SEMAPHORE = { name: 'sem', permits: 2 } as const;
/** The election the workers campaign in. */
export const ELECTION = 'leader';
/** Shares of a loop's iterations: a permit, a multi-name using(), a campaign; the rest (55 %) take a lock. */
export const ITERATION_MIX = { permit: 0.15, multi: 0.15, term: 0.15 } as const;

/** Every lock name the workers hold: the names, the semaphore's permits, the election. */
export function lockNamesOf(names: readonly string[]): string[] {
  return [...names, ...Array.from({ length: SEMAPHORE.permits }, (_, i) => `${SEMAPHORE.name}#permit-${i}`), ELECTION];
}

/** The engine's default request timeout for a TTL (`requestTimeoutMs`); the checker's bounds follow from it. */
export function requestTimeoutFor(ttlMs: number): number {
  return defaultRequestTimeoutMs(ttlMs);
}

/**
 * The checker's tolerances: acquire() may overrun its waitMs by one request in flight (the request
 * timeout) plus 1 s; one tryAcquire() (or waitMs 0) answers within one request timeout, the
 * engine's limit for a whole attempt, plus 1 s; a paused holder's loss signal must fire within
 * 500 ms of SIGCONT.
 */
export function boundsFor(ttlMs: number, acquireSlackMs?: number): CheckBounds {
  const request = requestTimeoutFor(ttlMs);
  return { acquireSlackMs: acquireSlackMs ?? request + 1_000, attemptBoundMs: request + 1_000, lossAfterResumeMs: 500, requestTimeoutMs: request, interferenceSlackMs: 500 };
}

function progress(message: string): void {
  process.stderr.write(`[verify] ${message}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

class WorkerHandle {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  ready = false;
  probeFailure: string | undefined;
  stderr = '';
  killed = false;

  constructor(
    readonly index: number,
    readonly skewMs: number,
    config: WorkerConfig,
  ) {
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', join(__dirname, 'skew-clock.ts'), join(__dirname, 'worker.ts'), JSON.stringify(config)],
      {
        cwd: ROOT,
        env: { ...process.env, VERIFY_SKEW_MS: String(skewMs), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TS_NODE_TRANSPILE_ONLY: 'true' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as { event?: string; message?: string };
        if (e.event === 'ready') this.ready = true;
        if (e.event === 'probe-failed') this.probeFailure = e.message;
      } catch {
        this.stderr = (this.stderr + `[stdout] ${line}\n`).slice(-4_000);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4_000)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  info(): WorkerInfo {
    return {
      index: this.index,
      pid: this.pid,
      skewMs: this.skewMs,
      exitCode: this.child.exitCode,
      signal: this.killed ? null : this.child.signalCode,
      killed: this.killed,
      stderrTail: this.stderr.trim().slice(-1_500),
    };
  }

  kill(): void {
    if (!this.running) return;
    this.killed = true;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
  }
}

/** Probes the protocol once, directly on the store: a refusal means the run is skipped, not failed by every worker. */
async function preflight(store: StoreHandle, bucket: string, protocol: ProtocolName): Promise<string | undefined> {
  const client = endpointClient(store);
  const manager = new S3LockManager({ client, bucket, prefix: 'verify-preflight/', protocol });
  try {
    await manager.probe();
    return undefined;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } finally {
    await manager.close();
    client.destroy();
  }
}

export async function runProtocol(options: VerifyOptions, store: StoreHandle, protocol: ProtocolName, dir: string, random: Random): Promise<ProtocolRun> {
  mkdirSync(dir, { recursive: true });
  const { ttlMs } = options;
  const bucket = await store.createBucket(protocol === 'versioned');
  const refused = await preflight(store, bucket, protocol);
  if (refused) {
    if (!options.keepBucket) await store.deleteBucket(bucket).catch(() => undefined);
    return { protocol, dir, skipped: refused };
  }
  const upstream = new URL(store.endpoint);
  const resource = await FencingResource.start();
  const schedules = options.faults ? options.schedules : [];
  const rates = scheduleRates(ttlMs, requestTimeoutFor(ttlMs), options.foreignNames);
  const names = Array.from({ length: options.names }, (_, i) => `resource-${i}`);
  const late: { operator?: Operator } = {}; // the proxy's claim hook calls the operator made after it
  // every request through the proxy, for reading a violation's history (docs/verification.md)
  const requestLog = createWriteStream(join(dir, 'requests.jsonl'));
  const proxy = await FaultProxy.start({
    upstreamHost: upstream.hostname,
    upstreamPort: Number(upstream.port || (upstream.protocol === 'https:' ? 443 : 80)),
    profile: options.faults ? defaultFaultProfile(ttlMs) : undefined,
    random: random.fork(),
    schedules: proxySchedules(schedules, rates, protocol, ttlMs, (claim) => late.operator?.onClaim(claim) ?? Promise.resolve()),
    requestLog: (entry) => requestLog.write(JSON.stringify(entry) + '\n'),
  });
  proxy.setEnabled(false); // not while the workers start and probe
  // the operator force-releases (and plants stray keys beside) every lock name, permits and election included
  const operator = new Operator({ store, bucket, prefix: 'locks/', protocol, ttlMs, names: lockNamesOf(names), schedules, rates, proxy, random: random.fork(), log: (m) => progress(`${protocol}: ${m}`) });
  late.operator = operator;
  const workers: WorkerHandle[] = [];
  const pauses: PauseRecord[] = [];
  let startedAt = monoMs();
  let stoppedAt = startedAt;
  try {
    if (schedules.length > 0) progress(`${protocol}: schedules ${schedules.join(', ')}`);
    const setUpAt = monoMs();
    await operator.setUp();
    if (operator.foreign) progress(`${protocol}: ${operator.foreign.names} foreign names under ${operator.foreign.prefix} and ${operator.foreign.strayKeys} stray keys in ${Math.round(monoMs() - setUpAt)} ms`);
    for (let i = 0; i < options.workers; i++) {
      const config: WorkerConfig = {
        index: i,
        endpoint: proxy.endpoint,
        accessKeyId: store.accessKeyId,
        secretAccessKey: store.secretAccessKey,
        bucket,
        prefix: 'locks/',
        protocol,
        ttlMs,
        names,
        loops: options.loops,
        waitChoicesMs: [0, Math.round(ttlMs / 4), ttlMs, 3 * ttlMs],
        longHoldProbability: 0.04,
        resourceUrl: resource.url,
        logFile: join(dir, `worker-${i}.jsonl`),
        seed: Math.floor(random.next() * 2 ** 31),
        coldProbability: schedules.includes('record-loss') || schedules.includes('foreign-keys') ? rates.coldProbability : 0,
        semaphore: SEMAPHORE,
        election: ELECTION,
        mix: ITERATION_MIX,
      };
      writeFileSync(config.logFile, '');
      workers.push(new WorkerHandle(i, options.faults ? SKEWS_MS[i % SKEWS_MS.length]! : 0, config));
    }
    const readyBy = monoMs() + READY_TIMEOUT_MS;
    while (!workers.every((w) => w.ready)) {
      const dead = workers.find((w) => !w.ready && (!w.running || w.probeFailure));
      if (dead) throw new Error(`worker ${dead.index} did not start: ${dead.probeFailure ?? dead.stderr.slice(-1_000)}`);
      if (monoMs() > readyBy) throw new Error(`workers not ready after ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }

    startedAt = monoMs();
    const stopAt = startedAt + options.seconds * 1_000;
    proxy.setEnabled(options.faults);
    for (const w of workers) w.child.stdin!.write(`go ${stopAt.toFixed(3)}\n`);
    progress(`${protocol}: ${options.workers} workers x ${options.loops} loops on ${options.names} names, ttl ${ttlMs} ms, faults ${options.faults ? 'on' : 'off'}, ${options.seconds} s`);

    const report = setInterval(() => {
      const c = proxy.faultCounts();
      progress(`${protocol}: ${Math.round((monoMs() - startedAt) / 1000)} s, ${c.requests} requests, faults ${Object.entries(c).filter(([k]) => k !== 'requests' && k !== 'latency').map(([k, v]) => `${k} ${v}`).join(', ')}, pauses ${pauses.length}, stale writes rejected ${resource.register.stats().rejected}`);
    }, 15_000);
    // the operator stops 3 TTL before the end, so that the checker sees what followed its last action
    const operating = operator.run(stopAt - 3 * ttlMs);
    try {
      if (options.faults) {
        let next = monoMs() + random.between(3_000, 6_000);
        while (next + 2.5 * ttlMs < stopAt) {
          await sleep(next - monoMs());
          const candidates = workers.filter((w) => w.running);
          if (candidates.length === 0) break;
          const victim = random.pick(candidates);
          const pauseMs = random.between(1.2, 2.0) * ttlMs;
          const pStop = monoMs();
          victim.child.kill('SIGSTOP');
          await sleep(pauseMs);
          victim.child.kill('SIGCONT');
          pauses.push({ pid: victim.pid, worker: victim.index, stopAt: pStop, contAt: monoMs() });
          next = monoMs() + random.between(6_000, 12_000);
        }
      }
      await sleep(stopAt - monoMs());
      await operating;
      stoppedAt = monoMs();
      // Workers finish their current iteration (a long section or a 3-TTL wait at most), then exit.
      const grace = 6 * ttlMs + 30_000;
      await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(grace)]);
    } finally {
      clearInterval(report);
    }
  } finally {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    await operator.close();
    await proxy.close();
    await new Promise((resolve) => requestLog.end(resolve));
    await resource.close();
  }

  const run: RunRecord = {
    store: options.store,
    endpoint: store.endpoint,
    protocol,
    seconds: options.seconds,
    ttlMs,
    names,
    semaphores: { [SEMAPHORE.name]: SEMAPHORE.permits },
    elections: [ELECTION],
    faults: options.faults,
    startedAt,
    stoppedAt,
    workers: workers.map((w) => w.info()),
    pauses,
    faultCounts: proxy.faultCounts(),
    resource: resource.register.stats(),
    bounds: boundsFor(ttlMs, options.acquireSlackMs),
    schedules,
    operations: operator.operations,
    ...(operator.foreign ? { foreign: operator.foreign } : {}),
  };
  writeFileSync(join(dir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
  const check = checkHistory(loadHistory(dir));
  writeFileSync(join(dir, 'check.json'), JSON.stringify(check, null, 2) + '\n');
  if (!options.keepBucket) {
    await store.deleteBucket(bucket).catch((error: unknown) => progress(`could not delete bucket ${bucket}: ${String(error)}`));
  }
  return { protocol, dir, run, check };
}
