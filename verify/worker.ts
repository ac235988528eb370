/**
 * A verification worker: one OS process with one S3LockManager and several loops. Each iteration
 * of a loop picks, at random, one of:
 * - a lock: a lock name, acquired with acquire(), using() or tryAcquire();
 * - a permit of the semaphore (acquire() or tryAcquire());
 * - a multi-name using() over two of the lock names, asked in random order;
 * - a campaign in the election, leading for a term if it wins one, then stop();
 * and writes to the fencing resource inside the critical section (a permit's writes go to its lock
 * name, a multi-name section's to each name, a term's to the election's name), then releases.
 * Every acquisition attempt and every critical section is appended to its log file as a JSON line
 * (./history.ts).
 *
 *   node -r ts-node/register/transpile-only -r verify/skew-clock.ts verify/worker.ts '<json config>'
 *
 * Prints `{"event":"ready"}` once the store probe passed, then waits for `go <stopAtMonoMs>` on
 * stdin; loops until that time, closes the manager and prints `{"event":"done"}`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { endpointClient } from '../test/support/endpoint-client';
import { S3LockManager, type S3Lock, type S3LockContext, type S3MultiLockContext, type S3Semaphore } from '../src';
import type { AcquireApi, AttemptOutcome, AttemptRecord, MultiLeaseRecord, SectionKind, SectionRecord, WorkerLogRecord, WriteRecord } from './history';
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
  /** The semaphore permit iterations take a permit of. */
  readonly semaphore?: { readonly name: string; readonly permits: number };
  /** The election's name, which campaign iterations run in. */
  readonly election?: string;
  /** Shares of the iterations that take a permit, a multi-name using() and a campaign; the rest take a lock. */
  readonly mix?: { readonly permit: number; readonly multi: number; readonly term: number };
}

/** Errors the API documents for these calls under store faults; anything else is a bug. */
/** Store errors: the base class and its subclasses (a missing bucket while the record-loss schedule re-creates it). */
const STORE_ERRORS = new Set(['S3LockStoreError', 'S3LockBucketMissingError']);
const EXPECTED_ERRORS = new Set(['S3LockTimeoutError', 'S3LockNotAcquiredError', ...STORE_ERRORS]);
/**
 * A multi-name using() throws the loss of a lease it took when that lease is lost before every
 * name is held (documented; the window spans the other names' attempts, e.g. a SIGSTOP in it).
 */
const MULTI_EXPECTED_ERRORS = new Set([...EXPECTED_ERRORS, 'S3LockLostError']);

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

/** One fenced write to the resource (`named`: the record names the resource, for multi-name sections). */
function fencedWrite(name: string, token: number, held: boolean | undefined, named = false): Promise<WriteRecord> {
  const sentAt = monoMs();
  const tag = named ? { name } : {};
  const url = `${config.resourceUrl}/write?name=${encodeURIComponent(name)}&token=${token}&pid=${process.pid}`;
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: resourceAgent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(body) as { accepted: boolean; highest: number };
          resolve({ sentAt, at: monoMs(), ...tag, token, accepted: parsed.accepted, highest: parsed.highest, ...(held === undefined ? {} : { held }) });
        } catch {
          resolve({ sentAt, at: monoMs(), ...tag, token, accepted: null, error: `bad answer ${res.statusCode}: ${body.slice(0, 80)}` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('resource timeout')));
    req.on('error', (e) => resolve({ sentAt, at: monoMs(), ...tag, token, accepted: null, error: e.message }));
    req.end();
  });
}

interface WorkResult {
  end: number;
  writes: WriteRecord[];
}

/** A lease a critical section writes under: the resource name, its token, its own loss signal, and `isHeld` (diagnostic). */
interface WorkTarget {
  readonly name: string;
  readonly token: number;
  readonly signal: AbortSignal;
  readonly held?: () => boolean;
}

/**
 * The critical section: writes at once, then every few ms (every few hundred ms in a long section)
 * until the hold time is over, and once more right before the end; each write goes to every
 * target (one for a lock, a permit or a term; each name of a multi-name section). Stops as soon as
 * `signal` fires. After a rejected (stale) write it stops working and waits for the loss signal
 * of each target that was rejected, which must come: a newer holder exists.
 */
async function work(targets: readonly WorkTarget[], signal: AbortSignal): Promise<WorkResult> {
  const writes: WriteRecord[] = [];
  const long = random.chance(config.longHoldProbability);
  const until = monoMs() + (long ? random.between(1.2, 2.2) * config.ttlMs : random.between(10, 150));
  const named = targets.length > 1;
  const rejected = new Set<WorkTarget>();
  const write = async (): Promise<void> => {
    if (signal.aborted || rejected.size > 0) return;
    const done = await Promise.all(targets.map(async (t) => ({ t, w: await fencedWrite(t.name, t.token, t.held?.(), named) })));
    for (const { t, w } of done) {
      writes.push(w);
      if (w.accepted === false) rejected.add(t);
    }
  };
  await write();
  while (!signal.aborted && rejected.size === 0) {
    const left = until - monoMs();
    if (left <= 0) break;
    await sleep(Math.min(left, long ? random.between(100, 400) : random.between(5, 40)), signal);
    if (monoMs() >= until) break;
    await write();
  }
  await write(); // right before the end
  const end = monoMs();
  const waitFor = [...rejected].filter((t) => !t.signal.aborted);
  if (waitFor.length > 0) {
    const by = monoMs() + config.ttlMs + 2_000;
    for (const t of waitFor) await sleep(by - monoMs(), t.signal);
  }
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

/**
 * Records when (and why) a lease's signal fires. `ignoreResign`: a term's signal aborted by the
 * worker's own stop() (reason `resigned`, a string) is no loss.
 */
function watchLoss(signal: AbortSignal, ignoreResign = false): { readonly at: number | null; readonly reason: string | null } {
  const seen: { at: number | null; reason: string | null } = { at: null, reason: null };
  const mark = (): void => {
    if (ignoreResign && typeof signal.reason === 'string') return;
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
    case 'S3LockLostError':
      return 'lost';
    default:
      return 'error';
  }
}

function reportIfUnexpected(error: unknown, expected: ReadonlySet<string> = EXPECTED_ERRORS): void {
  if (!expected.has(describe(error).name)) crash('unexpectedError', error);
}

/** Picks what an iteration holds, by the configured mix. */
function pickKind(): SectionKind {
  const mix = config.mix ?? { permit: 0, multi: 0, term: 0 };
  const r = random.next();
  if (r < mix.permit && config.semaphore) return 'permit';
  if (r < mix.permit + mix.multi && config.names.length > 1) return 'multi';
  if (r < mix.permit + mix.multi + mix.term && config.election) return 'term';
  return 'lock';
}

async function main(): Promise<void> {
  const client = endpointClient(config, {
    // one request per connection, so that the fault proxy acts on each request
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
    // tells the fault proxy which worker sent a request
    customUserAgent: `verify-worker-${config.index}`,
  });
  const leases = new Map<string, { leaseId: string; ownerId: string }>();
  const byOwner = new Map<string, { leaseId: string; token: number }>();
  /** `renewed` events by lease id (deleted when the section is logged). */
  const renewals = new Map<string, number[]>();
  /** Per manager, the last `acquired` event of each name (a term's token when its context has none). */
  const lastAcquired = new WeakMap<S3LockManager, Map<string, { leaseId: string; ownerId: string; token: number }>>();
  const newManager = (): S3LockManager => {
    const m = new S3LockManager({ client, bucket: config.bucket, prefix: config.prefix, protocol: config.protocol, ttlMs: config.ttlMs });
    const last = new Map<string, { leaseId: string; ownerId: string; token: number }>();
    lastAcquired.set(m, last);
    m.on('acquired', (e) => {
      count('acquired');
      last.set(e.name, { leaseId: e.leaseId, ownerId: e.ownerId, token: e.fencingToken });
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

  type Base = { readonly worker: number; readonly pid: number; readonly loop: number };
  type AttemptFields = Omit<AttemptRecord, 'type' | 'worker' | 'pid' | 'loop' | 'doneAt' | 'outcome' | 'errorName' | 'error'>;
  const logAttempt = (base: Base, fields: AttemptFields, outcome: AttemptOutcome, doneAt: number, error?: unknown): void => {
    const d = error === undefined ? undefined : describe(error);
    log({ type: 'attempt', ...base, ...fields, doneAt, outcome, ...(d ? { errorName: d.name, error: d.message } : {}) });
  };
  const logSection = (base: Base, fields: Omit<SectionRecord, 'type' | 'worker' | 'pid' | 'loop'>): void => {
    log({ type: 'section', ...base, ...fields });
  };
  /** The main manager settled the semaphore's permits with the store (its later permit attempts do not settle again). */
  let semaphoreSettled = false;

  /** A lock name: acquire() then release(), using(), or tryAcquire() then release(). */
  const lockIteration = async (base: Base, m: S3LockManager, cold: boolean): Promise<void> => {
    const name = random.pick(config.names);
    const r = random.next();
    const api: AcquireApi = r < 0.5 ? 'acquire' : r < 0.85 ? 'using' : 'tryAcquire';
    const waitMs = api === 'tryAcquire' ? 0 : random.pick(config.waitChoicesMs);
    const askedAt = monoMs();
    const fields: AttemptFields = { kind: 'lock', name, api, askedAt, waitMs };
    const errors: string[] = [];
    if (api === 'using') {
      let section: { start: number; token: number; loss: ReturnType<typeof watchLoss>; result?: WorkResult } | undefined;
      try {
        await m.using(
          name,
          async ({ signal, fencingToken }) => {
            const start = monoMs();
            logAttempt(base, fields, 'acquired', start);
            section = { start, token: fencingToken, loss: watchLoss(signal) };
            section.result = await work([{ name, token: fencingToken, signal }], signal);
          },
          { waitMs },
        );
      } catch (error) {
        if (!section) logAttempt(base, fields, outcomeOf(error), monoMs(), error);
        else errors.push(describe(error).message);
        reportIfUnexpected(error);
      }
      if (section) {
        const releasedAt = monoMs();
        await settleTimers();
        const lease = leases.get(`${name}#${section.token}`);
        logSection(base, {
          kind: 'lock',
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
      return;
    }
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
      logAttempt(base, fields, outcomeOf(error), monoMs(), error);
      reportIfUnexpected(error);
    }
    if (!acquired && !threw) logAttempt(base, fields, 'not-acquired', monoMs()); // tryAcquire() answered false
    if (!acquired) return;
    const start = monoMs();
    const heldAtStart = lock.isHeld;
    const signal = lock.signal;
    const loss = watchLoss(signal);
    logAttempt(base, fields, 'acquired', start);
    const lease = byOwner.get(lock.id);
    const token = lock.fencingToken ?? lease?.token ?? null;
    let result: WorkResult | undefined;
    if (token !== null) result = await work([{ name, token, signal, held: () => lock.isHeld }], signal);
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
    logSection(base, {
      kind: 'lock',
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
  };

  /** A permit of the semaphore: acquire() or tryAcquire(), then release(); the section is the permit's lock name. */
  const permitIteration = async (base: Base, m: S3LockManager, cold: boolean): Promise<void> => {
    const { name: semaphore, permits } = config.semaphore!;
    const sem: S3Semaphore = m.semaphore(semaphore, { permits });
    const api: AcquireApi = random.chance(0.7) ? 'acquire' : 'tryAcquire';
    const waitMs = api === 'tryAcquire' ? 0 : random.pick(config.waitChoicesMs);
    const askedAt = monoMs();
    const fields: AttemptFields = { kind: 'permit', name: semaphore, api, askedAt, waitMs, permits, settles: cold || !semaphoreSettled };
    const errors: string[] = [];
    let acquired = false;
    let threw = false;
    try {
      if (api === 'acquire') {
        await sem.acquire({ waitMs });
        acquired = true;
      } else {
        acquired = await sem.tryAcquire();
      }
    } catch (error) {
      threw = true;
      logAttempt(base, fields, outcomeOf(error), monoMs(), error);
      reportIfUnexpected(error);
      if (!cold && outcomeOf(error) === 'timeout') semaphoreSettled = true;
    }
    if (!threw && !cold) semaphoreSettled = true;
    if (!acquired && !threw) logAttempt(base, fields, 'not-acquired', monoMs());
    if (!acquired) return;
    const start = monoMs();
    const heldAtStart = sem.isHeld;
    const signal = sem.signal;
    const loss = watchLoss(signal);
    logAttempt(base, fields, 'acquired', start);
    // A lease already dead when acquire() resolved (a SIGSTOP right then) has no public permit or
    // token any more: read them from the instance's permit lock (diagnostic, so the section is still judged).
    const inner = sem as unknown as { held?: S3Lock; heldPermit?: number };
    const permit = sem.permit ?? inner.heldPermit ?? null;
    const lockName = inner.held?.name ?? `${semaphore}#permit-${String(permit)}`;
    const ownerId = inner.held?.id ?? null;
    const lease = ownerId === null ? undefined : byOwner.get(ownerId);
    const token = sem.fencingToken ?? lease?.token ?? null;
    let result: WorkResult | undefined;
    if (token !== null) result = await work([{ name: lockName, token, signal, held: () => sem.isHeld }], signal);
    else errors.push('no fencing token after acquire');
    const end = result?.end ?? monoMs();
    let releaseError: string | null = null;
    try {
      await sem.release();
    } catch (error) {
      releaseError = describe(error).message;
      reportIfUnexpected(error);
    }
    const releasedAt = monoMs();
    await settleTimers();
    const leaseId = lease?.leaseId ?? leases.get(`${lockName}#${String(token)}`)?.leaseId;
    logSection(base, {
      kind: 'permit',
      name: lockName,
      api,
      semaphore,
      permits: sem.permits,
      ...(permit === null ? {} : { permit }),
      askedAt,
      start,
      end,
      waitMs,
      waitedMs: start - askedAt,
      token,
      leaseId: leaseId ?? null,
      ownerId,
      lossAt: loss.at,
      lossReason: loss.reason,
      heldAtStart,
      writes: result?.writes ?? [],
      releasedAt,
      releaseError,
      errors,
      renewals: takeRenewals(leaseId),
      cold,
    });
  };

  /** using([x, y]) over two different lock names, asked in random order. */
  const multiIteration = async (base: Base, m: S3LockManager, cold: boolean): Promise<void> => {
    const n = config.names.length;
    const i = random.int(n);
    const asked = [config.names[i]!, config.names[(i + 1 + random.int(n - 1)) % n]!];
    const waitMs = random.pick(config.waitChoicesMs);
    const askedAt = monoMs();
    const fields: AttemptFields = { kind: 'multi', name: asked.join('+'), api: 'using', names: asked, askedAt, waitMs };
    const errors: string[] = [];
    type PerName = { name: string; token: number; heldAtStart: boolean; loss: ReturnType<typeof watchLoss> };
    let section: { start: number; names: readonly string[]; per: PerName[]; loss: ReturnType<typeof watchLoss>; result?: WorkResult } | undefined;
    try {
      await m.using(
        asked,
        async (ctx: S3MultiLockContext) => {
          const start = monoMs();
          logAttempt(base, fields, 'acquired', start);
          const per = ctx.names.map((name) => ({ name, token: ctx.fencingTokens[name]!, heldAtStart: ctx.leases[name]!.isHeld, loss: watchLoss(ctx.leases[name]!.signal) }));
          section = { start, names: [...ctx.names], per, loss: watchLoss(ctx.signal) };
          const targets = ctx.names.map((name) => ({ name, token: ctx.fencingTokens[name]!, signal: ctx.leases[name]!.signal, held: () => ctx.leases[name]!.isHeld }));
          section.result = await work(targets, ctx.signal);
        },
        { waitMs },
      );
    } catch (error) {
      if (!section) logAttempt(base, fields, outcomeOf(error), monoMs(), error);
      else errors.push(describe(error).message);
      reportIfUnexpected(error, section ? EXPECTED_ERRORS : MULTI_EXPECTED_ERRORS);
    }
    if (!section) return;
    const releasedAt = monoMs();
    await settleTimers();
    const perName: Record<string, MultiLeaseRecord> = {};
    for (const p of section.per) {
      const lease = leases.get(`${p.name}#${p.token}`);
      perName[p.name] = {
        token: p.token,
        leaseId: lease?.leaseId ?? null,
        ownerId: lease?.ownerId ?? null,
        lossAt: p.loss.at,
        lossReason: p.loss.reason,
        heldAtStart: p.heldAtStart,
        renewals: takeRenewals(lease?.leaseId),
      };
    }
    logSection(base, {
      kind: 'multi',
      name: section.names.join('+'),
      api: 'using',
      names: section.names,
      leases: perName,
      askedAt,
      start: section.start,
      end: section.result?.end ?? releasedAt,
      waitMs,
      waitedMs: section.start - askedAt,
      token: null,
      leaseId: null,
      ownerId: null,
      lossAt: section.loss.at,
      lossReason: section.loss.reason,
      heldAtStart: null,
      writes: section.result?.writes ?? [],
      releasedAt,
      releaseError: null,
      errors,
      cold,
    });
  };

  /**
   * A campaign in the election for up to a wait's length: a term it wins is led (the election
   * name's critical section) for the usual hold time; then stop() resigns. A term lost meanwhile
   * ends early, and the campaign may win another before stop().
   */
  const termIteration = async (base: Base, m: S3LockManager, cold: boolean): Promise<void> => {
    const name = config.election!;
    const campaignMs = random.pick(config.waitChoicesMs.filter((w) => w > 0));
    let from = monoMs();
    type Term = { askedAt: number; start: number; token: number | null; heldAtStart: boolean | null; loss: ReturnType<typeof watchLoss>; errors: string[]; result?: WorkResult; ended?: true };
    const terms: Term[] = [];
    const works: Array<Promise<void>> = [];
    let firstEnded!: () => void;
    const ended = new Promise<void>((resolve) => (firstEnded = resolve));
    const election = m.elect(name, {
      onElected: (ctx: S3LockContext) => {
        const start = monoMs();
        const errors: string[] = [];
        // the context of a term whose lease died before onElected ran has no token: the grant's event does
        let token: number | null = ctx.fencingToken ?? null;
        if (token === null) {
          errors.push('no fencing token in the onElected context');
          token = lastAcquired.get(m)?.get(name)?.token ?? null;
        }
        // a term resigned before it began (stop() while the grant came in) is not judged as held
        const resigned = ctx.signal.aborted && typeof ctx.signal.reason === 'string';
        const term: Term = { askedAt: from, start, token, heldAtStart: resigned ? null : ctx.isHeld, loss: watchLoss(ctx.signal, true), errors };
        terms.push(term);
        count('term');
        const t = token;
        works.push(
          (async () => {
            if (t !== null) term.result = await work([{ name, token: t, signal: ctx.signal, held: () => ctx.isHeld }], ctx.signal);
            term.ended = true;
            firstEnded();
          })(),
        );
      },
      onRevoked: () => {
        from = monoMs();
      },
    });
    await Promise.race([ended, sleep(campaignMs)]);
    // a term in progress when the campaign's time is up is led to its end
    if (terms.some((t) => !t.ended)) await ended;
    await election.stop();
    await Promise.all(works);
    const releasedAt = monoMs();
    await settleTimers();
    if (terms.length === 0) count('campaign without a term');
    for (const term of terms) {
      const lease = leases.get(`${name}#${String(term.token)}`);
      logSection(base, {
        kind: 'term',
        name,
        api: 'elect',
        askedAt: term.askedAt,
        start: term.start,
        end: term.result?.end ?? term.start,
        waitMs: campaignMs,
        waitedMs: term.start - term.askedAt,
        token: term.token,
        leaseId: lease?.leaseId ?? null,
        ownerId: lease?.ownerId ?? null,
        lossAt: term.loss.at,
        lossReason: term.loss.reason,
        heldAtStart: term.heldAtStart,
        writes: term.result?.writes ?? [],
        releasedAt,
        releaseError: null,
        errors: term.errors,
        renewals: takeRenewals(lease?.leaseId),
        cold,
      });
    }
  };

  const loop = async (loopIndex: number): Promise<void> => {
    const base = { worker: config.index, pid: process.pid, loop: loopIndex };
    while (monoMs() < stopAt) {
      const kind = pickKind();
      // A cold process: no view of the lock cached, no probe result (closed after the section).
      const cold = random.chance(config.coldProbability ?? 0);
      const m = cold ? newManager() : manager;
      if (kind === 'permit') await permitIteration(base, m, cold);
      else if (kind === 'multi') await multiIteration(base, m, cold);
      else if (kind === 'term') await termIteration(base, m, cold);
      else await lockIteration(base, m, cold);
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
