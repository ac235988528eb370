/**
 * A verification worker: one OS process with one S3LockManager and several loops that each pick a
 * lock name, acquire it (acquire(), using() or tryAcquire()), write to the fencing resource inside
 * the critical section, and release. Every acquisition attempt and every critical section is
 * appended to its log file as a JSON line (./history.ts).
 *
 *   node -r ts-node/register/transpile-only -r verify/skew-clock.ts verify/worker.ts '<json config>'
 *
 * Prints `{"event":"ready"}` once the store probe passed, then waits for `go <stopAtMonoMs>` on
 * stdin; loops until that time, closes the manager and prints `{"event":"done"}`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';
import { S3LockManager, type S3Lock } from '../src';
import type { AcquireApi, AttemptOutcome, WorkerLogRecord, WriteRecord } from './history';
import { Random, monoMs } from './random';

export interface WorkerConfig {
  readonly index: number;
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly protocol: 'create-only' | 'versioned';
  readonly ttlMs: number;
  readonly names: readonly string[];
  readonly loops: number;
  /** waitMs values acquire()/using() pick from. */
  readonly waitChoicesMs: readonly number[];
  /** Probability that a critical section lasts longer than the TTL (renewals under faults). */
  readonly longHoldProbability: number;
  readonly resourceUrl: string;
  readonly logFile: string;
  readonly seed: number;
  /** Probability that an acquisition uses a lock manager of its own, made for it (a cold process). */
  readonly coldProbability?: number;
}

/** Errors the API documents for these calls under store faults; anything else is a bug. */
/** Store errors: the base class and its subclasses (a missing bucket while the record-loss schedule re-creates it). */
const STORE_ERRORS = new Set(['S3LockStoreError', 'S3LockBucketMissingError']);
const EXPECTED_ERRORS = new Set(['S3LockTimeoutError', 'S3LockNotAcquiredError', ...STORE_ERRORS]);

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const random = new Random(config.seed);
const logFd = openSync(config.logFile, 'a');
const counts: Record<string, number> = {};
const count = (key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

function log(record: WorkerLogRecord): void {
  writeSync(logFd, JSON.stringify(record) + '\n');
}

function say(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ worker: config.index, pid: process.pid, ...event }) + '\n');
}

function describe(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: `${error.name}: ${error.message}` };
  return { name: typeof error, message: String(error) };
}

function crash(kind: 'unhandledRejection' | 'uncaughtException' | 'unexpectedError' | 'fatal', error: unknown): void {
  const d = describe(error);
  const stack = error instanceof Error && error.stack ? ` ${error.stack.split('\n').slice(1, 4).join(' |').trim()}` : '';
  log({ type: 'crash', worker: config.index, pid: process.pid, at: monoMs(), kind, message: d.message + stack });
}

process.on('unhandledRejection', (error) => {
  crash('unhandledRejection', error);
  process.exit(3);
});
process.on('uncaughtException', (error) => {
  crash('uncaughtException', error);
  process.exit(3);
});

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

const resourceAgent = new Agent({ keepAlive: true, maxSockets: 16 });

/** One fenced write to the resource. */
function fencedWrite(name: string, token: number, held: boolean | undefined): Promise<WriteRecord> {
  const sentAt = monoMs();
  const url = `${config.resourceUrl}/write?name=${encodeURIComponent(name)}&token=${token}&pid=${process.pid}`;
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: resourceAgent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(body) as { accepted: boolean; highest: number };
          resolve({ sentAt, at: monoMs(), token, accepted: parsed.accepted, highest: parsed.highest, ...(held === undefined ? {} : { held }) });
        } catch {
          resolve({ sentAt, at: monoMs(), token, accepted: null, error: `bad answer ${res.statusCode}: ${body.slice(0, 80)}` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('resource timeout')));
    req.on('error', (e) => resolve({ sentAt, at: monoMs(), token, accepted: null, error: e.message }));
    req.end();
  });
}

interface WorkResult {
  end: number;
  writes: WriteRecord[];
}

/**
 * The critical section: writes at once, then every few ms (every few hundred ms in a long section)
 * until the hold time is over, and once more right before the end. Stops as soon as the loss signal
 * fires. After a rejected (stale) write it stops working and waits for the loss signal, which must
 * come: a newer holder exists.
 */
async function work(name: string, token: number, signal: AbortSignal, lock: S3Lock | undefined): Promise<WorkResult> {
  const writes: WriteRecord[] = [];
  const long = random.chance(config.longHoldProbability);
  const until = monoMs() + (long ? random.between(1.2, 2.2) * config.ttlMs : random.between(10, 150));
  let rejected = false;
  const write = async (): Promise<void> => {
    if (signal.aborted || rejected) return;
    const w = await fencedWrite(name, token, lock?.isHeld);
    writes.push(w);
    if (w.accepted === false) rejected = true;
  };
  await write();
  while (!signal.aborted && !rejected) {
    const left = until - monoMs();
    if (left <= 0) break;
    await sleep(Math.min(left, long ? random.between(100, 400) : random.between(5, 40)), signal);
    if (monoMs() >= until) break;
    await write();
  }
  await write(); // right before the end
  const end = monoMs();
  if (rejected && !signal.aborted) await sleep(config.ttlMs + 2_000, signal);
  return { end, writes };
}

/**
 * Lets timers that are already overdue run (a lease's deadline timer after a SIGSTOP, which fires
 * only after the I/O callbacks that resumed the section), so that a loss signalled right after the
 * section is still recorded with its time.
 */
function settleTimers(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/** Records when (and why) a lease's signal fires. */
function watchLoss(signal: AbortSignal): { readonly at: number | null; readonly reason: string | null } {
  const seen: { at: number | null; reason: string | null } = { at: null, reason: null };
  const mark = (): void => {
    seen.at = monoMs();
    const reason = signal.reason as { reason?: string; name?: string } | undefined;
    seen.reason = reason?.reason ?? reason?.name ?? 'unknown';
  };
  if (signal.aborted) mark();
  else signal.addEventListener('abort', mark, { once: true });
  return seen;
}

function outcomeOf(error: unknown): AttemptOutcome {
  switch ((error as { name?: string } | null)?.name) {
    case 'S3LockTimeoutError':
      return 'timeout';
    case 'S3LockNotAcquiredError':
      return 'not-acquired';
    case 'S3LockStoreError':
    case 'S3LockBucketMissingError':
      return 'store-error';
    default:
      return 'error';
  }
}

function reportIfUnexpected(error: unknown): void {
  if (!EXPECTED_ERRORS.has(describe(error).name)) crash('unexpectedError', error);
}

async function main(): Promise<void> {
  const client = new S3Client({
    endpoint: config.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // one request per connection, so that the fault proxy acts on each request
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
    // tells the fault proxy which worker sent a request
    customUserAgent: `verify-worker-${config.index}`,
  });
  const leases = new Map<string, { leaseId: string; ownerId: string }>();
  const byOwner = new Map<string, { leaseId: string; token: number }>();
  /** `renewed` events by lease id (deleted when the section is logged). */
  const renewals = new Map<string, number[]>();
  const newManager = (): S3LockManager => {
    const m = new S3LockManager({ client, bucket: config.bucket, prefix: config.prefix, protocol: config.protocol, ttlMs: config.ttlMs });
    m.on('acquired', (e) => {
      count('acquired');
      leases.set(`${e.name}#${e.fencingToken}`, { leaseId: e.leaseId, ownerId: e.ownerId });
      byOwner.set(e.ownerId, { leaseId: e.leaseId, token: e.fencingToken });
    });
    m.on('renewed', (e) => {
      count('renewed');
      const list = renewals.get(e.leaseId) ?? [];
      list.push(monoMs());
      renewals.set(e.leaseId, list);
    });
    m.on('released', () => count('released'));
    m.on('lost', (e) => count(`lost:${e.reason}`));
    m.on('storeError', (e) => count(`storeError:${e.operation}`));
    return m;
  };
  const manager = newManager();
  const takeRenewals = (leaseId: string | undefined): number[] => {
    if (leaseId === undefined) return [];
    const list = renewals.get(leaseId) ?? [];
    renewals.delete(leaseId);
    return list;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await manager.probe();
      break;
    } catch (error) {
      // The probe goes through the fault proxy too: retry store failures, give up on a refusal.
      if (!STORE_ERRORS.has(describe(error).name) || attempt >= 10) {
        say({ event: 'probe-failed', message: describe(error).message });
        process.exit(4);
      }
      await sleep(200);
    }
  }
  say({ event: 'ready' });
  const stopAt = await new Promise<number>((resolve) => {
    createInterface({ input: process.stdin }).on('line', (line) => {
      const m = /^go (\d+(?:\.\d+)?)$/.exec(line.trim());
      if (m) resolve(Number(m[1]));
    });
  });

  const loop = async (loopIndex: number): Promise<void> => {
    const base = { worker: config.index, pid: process.pid, loop: loopIndex };
    while (monoMs() < stopAt) {
      const name = random.pick(config.names);
      const r = random.next();
      const api: AcquireApi = r < 0.5 ? 'acquire' : r < 0.85 ? 'using' : 'tryAcquire';
      const waitMs = api === 'tryAcquire' ? 0 : random.pick(config.waitChoicesMs);
      const askedAt = monoMs();
      const attempt = (outcome: AttemptOutcome, doneAt: number, error?: unknown): void => {
        const d = error === undefined ? undefined : describe(error);
        log({ type: 'attempt', ...base, name, api, askedAt, doneAt, waitMs, outcome, ...(d ? { errorName: d.name, error: d.message } : {}) });
      };
      const errors: string[] = [];
      // A cold process: no view of the lock cached, no probe result (closed after the section).
      const cold = random.chance(config.coldProbability ?? 0);
      const m = cold ? newManager() : manager;
      if (api === 'using') {
        let section: { start: number; token: number; loss: ReturnType<typeof watchLoss>; result?: WorkResult } | undefined;
        try {
          await m.using(
            name,
            async ({ signal, fencingToken }) => {
              const start = monoMs();
              attempt('acquired', start);
              section = { start, token: fencingToken, loss: watchLoss(signal) };
              section.result = await work(name, fencingToken, signal, undefined);
            },
            { waitMs },
          );
        } catch (error) {
          if (!section) attempt(outcomeOf(error), monoMs(), error);
          else errors.push(describe(error).message);
          reportIfUnexpected(error);
        }
        if (section) {
          const releasedAt = monoMs();
          await settleTimers();
          const lease = leases.get(`${name}#${section.token}`);
          log({
            type: 'section',
            ...base,
            name,
            api,
            askedAt,
            start: section.start,
            end: section.result?.end ?? releasedAt,
            waitMs,
            waitedMs: section.start - askedAt,
            token: section.token,
            leaseId: lease?.leaseId ?? null,
            ownerId: lease?.ownerId ?? null,
            lossAt: section.loss.at,
            lossReason: section.loss.reason,
            heldAtStart: null,
            writes: section.result?.writes ?? [],
            releasedAt,
            releaseError: null,
            errors,
            renewals: takeRenewals(lease?.leaseId),
            cold,
          });
        }
      } else {
        const lock = m.lock(name);
        let acquired = false;
        let threw = false;
        try {
          if (api === 'acquire') {
            await lock.acquire({ waitMs });
            acquired = true;
          } else {
            acquired = await lock.tryAcquire();
          }
        } catch (error) {
          threw = true;
          attempt(outcomeOf(error), monoMs(), error);
          reportIfUnexpected(error);
        }
        if (!acquired && !threw) attempt('not-acquired', monoMs()); // tryAcquire() answered false
        if (acquired) {
          const start = monoMs();
          const heldAtStart = lock.isHeld;
          const signal = lock.signal;
          const loss = watchLoss(signal);
          attempt('acquired', start);
          const lease = byOwner.get(lock.id);
          const token = lock.fencingToken ?? lease?.token ?? null;
          let result: WorkResult | undefined;
          if (token !== null) result = await work(name, token, signal, lock);
          else errors.push('no fencing token after acquire');
          const end = result?.end ?? monoMs();
          let releaseError: string | null = null;
          try {
            await lock.release();
          } catch (error) {
            releaseError = describe(error).message;
            reportIfUnexpected(error);
          }
          const releasedAt = monoMs();
          await settleTimers();
          log({
            type: 'section',
            ...base,
            name,
            api,
            askedAt,
            start,
            end,
            waitMs,
            waitedMs: start - askedAt,
            token,
            leaseId: lease?.leaseId ?? null,
            ownerId: lock.id,
            lossAt: loss.at,
            lossReason: loss.reason,
            heldAtStart,
            writes: result?.writes ?? [],
            releasedAt,
            releaseError,
            errors,
            renewals: takeRenewals(lease?.leaseId),
            cold,
          });
        }
      }
      if (cold) await m.close().catch((error: unknown) => reportIfUnexpected(error));
      await sleep(random.between(0, 80));
    }
  };
  await Promise.all(Array.from({ length: config.loops }, (_, i) => loop(i)));
  await manager.close();
  client.destroy();
  resourceAgent.destroy();
  log({ type: 'done', worker: config.index, pid: process.pid, at: monoMs(), counts });
  closeSync(logFd);
  say({ event: 'done' });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    crash('fatal', error);
    say({ event: 'fatal', message: describe(error).message });
    process.exit(2);
  },
);
