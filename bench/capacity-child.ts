/**
 * The capacity measurement (started by capacity.ts in a process of its own, so that the bench's
 * other work does not compete for the event loop): one manager acquires `locks` names, holds them
 * all for `holdMs` while they renew (TTL `ttlMs`), and counts what it lost and why. Renewal time is
 * from the renewal's start (the lease's renewal timer firing, queueing included) to its answer.
 * Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { S3LockManager, type S3Lock } from '../src';
import { columnClient, type ColumnConfig } from './lock-column';
import { summarize, type Summary } from './stats';

interface CapacityConfig extends ColumnConfig {
  readonly locks: number;
  readonly ttlMs: number;
  readonly holdMs: number;
  readonly prefix: string;
  /** Report each renewal and loss with its wall-clock time, and say on stdout when the hold starts. */
  readonly timeline?: boolean;
}

export interface CapacityStep {
  readonly locks: number;
  readonly ttlMs: number;
  readonly holdS: number;
  /** Locks acquired at the start (all of them unless the store refused some). */
  readonly acquired: number;
  /** Attempts to acquire that failed with a store error (each name is tried up to 3 times), and the last such error. */
  readonly acquireErrors: number;
  readonly lastAcquireError: string | null;
  /** How long acquiring took (at most a minute). */
  readonly acquireS: number;
  readonly lost: number;
  /** Seconds into the hold at which the first lease was lost. */
  readonly firstLossS: number | null;
  /** Lost leases per reason, and per first line of their cause. */
  readonly lostByReason: Readonly<Record<string, number>>;
  readonly lostByCause: Readonly<Record<string, number>>;
  readonly renewals: number;
  readonly renewalMs: Summary;
  readonly renewalSlow: number;
  readonly storeErrors: number;
  /** Renewals a second over the hold, and the S3 requests a second the manager sent. */
  readonly renewalsPerS: number;
  readonly requestsPerS: number;
  /** With `timeline`: [wall ms, renewal ms] of every renewal, [wall ms, cause] of every loss. */
  readonly renewalsAt?: ReadonlyArray<readonly [number, number]>;
  readonly lossesAt?: ReadonlyArray<readonly [number, string]>;
}

const config = JSON.parse(process.argv[2] ?? '{}') as CapacityConfig;
let requests = 0;
const client = columnClient(config);
client.middlewareStack.add(
  (next) => (args) => {
    requests++;
    return next(args);
  },
  { step: 'finalizeRequest', name: 'capacityRequestCounter' },
);
const manager = new S3LockManager({ client, bucket: config.bucket, protocol: config.protocol, prefix: config.prefix, ttlMs: config.ttlMs, waitMs: 0 });

const renewalMs: number[] = [];
let renewalSlow = 0;
let storeErrors = 0;
let acquireErrors = 0;
let acquireS = 0;
const ACQUIRE_BUDGET_MS = 60_000;
let lastAcquireError: string | undefined;
let holding = false;
let holdStartedAt = 0;
let firstLossAt: number | undefined;
const lostByReason: Record<string, number> = {};
const lostByCause: Record<string, number> = {};

/** Wall-clock times (to line up with the overload phases of another process), when asked for. */
const renewalsAt: Array<[number, number]> = [];
const lossesAt: Array<[number, string]> = [];
manager.on('renewed', (e) => {
  if (!holding) return;
  renewalMs.push(e.tookMs);
  if (config.timeline) renewalsAt.push([Date.now(), e.tookMs]);
});
manager.on('renewalSlow', () => holding && renewalSlow++);
manager.on('storeError', () => holding && storeErrors++);
manager.on('lost', (e) => {
  if (holding) firstLossAt ??= performance.now();
  lostByReason[e.reason] = (lostByReason[e.reason] ?? 0) + 1;
  const cause = e.error.cause instanceof Error ? e.error.cause.message : e.error.cause === undefined ? '(no cause)' : String(e.error.cause);
  const key = cause.split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 160);
  lostByCause[key] = (lostByCause[key] ?? 0) + 1;
  if (config.timeline) lossesAt.push([Date.now(), key]);
});

async function main(): Promise<void> {
  await manager.probe();
  const held: S3Lock[] = [];
  let next = 0;
  // acquire with a bounded number of attempts in flight, like a service starting its work, for at
  // most a minute: past the store's capacity new attempts wait behind the renewals and time out
  const acquireStartedAt = performance.now();
  const worker = async (): Promise<void> => {
    while (next < config.locks && performance.now() - acquireStartedAt < ACQUIRE_BUDGET_MS) {
      const lock = manager.lock(`capacity-${next++}`);
      for (let attempt = 1; ; attempt++) {
        try {
          if (await lock.tryAcquire()) held.push(lock);
          break;
        } catch (error) {
          acquireErrors++;
          if (attempt === 3) {
            lastAcquireError = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error);
            break; // the store cannot take more: hold what was acquired
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  acquireS = (performance.now() - acquireStartedAt) / 1000;
  holding = true;
  holdStartedAt = performance.now();
  if (config.timeline) process.stdout.write(`holding ${Date.now()}\n`);
  const requestsAtStart = requests;
  let renewalsAtEnd = 0;
  await new Promise((resolve) => setTimeout(resolve, config.holdMs));
  holding = false;
  renewalsAtEnd = renewalMs.length;
  const requestsDuringHold = requests - requestsAtStart;
  const lost = held.filter((l) => !l.isHeld).length;
  await Promise.all(held.map((l) => l.releaseIfOwner().catch(() => undefined)));
  await manager.close();
  client.destroy();
  const holdS = config.holdMs / 1000;
  const result: CapacityStep = {
    locks: config.locks,
    ttlMs: config.ttlMs,
    holdS,
    acquired: held.length,
    acquireErrors,
    lastAcquireError: lastAcquireError ?? null,
    acquireS,
    lost,
    firstLossS: firstLossAt === undefined ? null : Math.max(0, (firstLossAt - holdStartedAt) / 1000),
    lostByReason,
    lostByCause,
    renewals: renewalsAtEnd,
    renewalMs: summarize(renewalMs),
    renewalSlow,
    storeErrors,
    renewalsPerS: renewalsAtEnd / holdS,
    requestsPerS: requestsDuringHold / holdS,
    ...(config.timeline ? { renewalsAt, lossesAt } : {}),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
