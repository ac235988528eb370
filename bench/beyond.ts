/**
 * Beyond the mutex (`--only beyond`): what a semaphore, a multi-name `using()` and a leader
 * election cost, per column.
 *
 * - Requests per warm, uncontended cycle (mean over a few cycles, background work included) of a
 *   semaphore with {@link SEMAPHORE_PERMITS} permits, of `using()` on {@link MULTI_NAMES} names,
 *   and of a plain lock for comparison; and a semaphore's first use (it declares its permits) and
 *   first use by another manager (the declaration exists, no view of the permits).
 * - Their latency, the three kinds interleaved in one loop (so drift hits them alike).
 * - A semaphore's waiting cost: requests per second of one waiting manager while another manager
 *   holds all {@link WAITING_PERMITS} permits, with 1 and with 20 waiters in it, and its permit
 *   tries (one `attempt` event per permit per round); the lock's waiting cost (waiting-cost.ts)
 *   runs at the same time for comparison.
 * - An election's steady state: a leader and one follower (another manager) on one name,
 *   requests of each over a window that starts halfway between two renewals and spans whole
 *   renewal periods (TTL / 3), extrapolated to an hour.
 *
 * The waiting and election measurements run at the same time on different names; the cycle
 * counts and latencies run alone before them. Each manager stands for a process, as in
 * waiting-cost.ts.
 */
import { setMaxListeners } from 'node:events';
import type { S3Election } from '../src/core/leader-election';
import type { CountedManager } from './counted-manager';
import type { LockColumn } from './lock-column';
import { emptyCounts, type RequestCounts } from './request-counter';
import { summarize, type Summary } from './stats';
import { monoMs, repeatBounded, sleep, withDeadline } from './timing';
import { measureWaitingCost, perSecond, type WaitingCostResults } from './waiting-cost';

export const SEMAPHORE_PERMITS = 3;
export const MULTI_NAMES = 2;
export const WAITING_PERMITS = 2;
const WARM_UP = 5;
/** After the counted cycles, time for their background work (garbage collection) to be sent. */
const TAIL_MS = 300;

export interface CycleCost {
  /** Cycles counted, and the requests of all of them together (divide for a mean per cycle). */
  readonly cycles: number;
  readonly counts: RequestCounts;
}

export interface SemaphoreWaitingRow {
  readonly waiters: number;
  /** Requests per second of the waiting manager (mean gap between requests), and how many in the window. */
  readonly perSecond: number;
  readonly requests: number;
  readonly counts: RequestCounts;
  /** Permit tries in the window (one `attempt` event each), and their rate. */
  readonly attempts: number;
  readonly attemptsPerSecond: number;
  /** Waiters that got a permit (0 expected: every permit is held elsewhere). */
  readonly acquired: number;
}

export interface ElectionCost {
  readonly ttlMs: number;
  /** The window: whole renewal periods (TTL / 3), ms; and as measured on the monotonic clock (sleeps overshoot a little). */
  readonly windowMs: number;
  readonly measuredMs: number;
  readonly leader: RequestCounts;
  readonly follower: RequestCounts;
  /** The leader's `renewed` events in the window. */
  readonly renewals: number;
}

export interface BeyondResults {
  readonly semaphorePermits: number;
  readonly multiNames: number;
  readonly cycles: { readonly lock: CycleCost; readonly semaphore: CycleCost; readonly multi: CycleCost };
  /** First acquire + release of a semaphore name new to the store (declares its permits). */
  readonly semaphoreFirstUse: RequestCounts;
  /** First acquire + release by another manager (declaration exists; no view of the permits, each already used). */
  readonly semaphoreOtherManager: RequestCounts;
  /** The same two for a plain lock, for comparison. */
  readonly lockFirstUse: RequestCounts;
  readonly lockOtherManager: RequestCounts;
  readonly latency: { readonly lock: Summary; readonly semaphore: Summary; readonly multi: Summary };
  readonly semaphoreWaiting: {
    readonly permits: number;
    readonly settleMs: number;
    readonly windowMs: number;
    readonly rows: readonly SemaphoreWaitingRow[];
  };
  /** The lock's waiting cost measured at the same time (see waiting-cost.ts). */
  readonly lockWaiting: WaitingCostResults;
  readonly election: ElectionCost;
}

export interface BeyondOptions {
  /** Counted cycles per kind (bounded by {@link BeyondOptions.budgetMs} too). */
  readonly countCycles: number;
  readonly latencyCycles: number;
  readonly budgetMs: number;
  readonly waiterCounts: readonly number[];
  readonly settleMs: number;
  readonly windowMs: number;
  readonly electionTtlMs: number;
  readonly electionWindowMs: number;
}

type Cycle = () => Promise<void>;

export async function measureBeyond(column: LockColumn, options: BeyondOptions): Promise<BeyondResults> {
  const lockM = await column.probedManager();
  const lock = lockM.manager.lock(column.lockName('beyond-lock'));
  const lockCycle: Cycle = async () => {
    await lock.acquire();
    await lock.release();
  };
  const lockFirstUse = await countOnce(lockM, lockCycle);
  const lockOther = await column.probedManager();
  const otherLock = lockOther.manager.lock(lock.name);
  const lockOtherManager = await countOnce(lockOther, async () => {
    await otherLock.acquire();
    await otherLock.release();
  });

  const semM = await column.probedManager();
  const semName = column.lockName('beyond-semaphore');
  const semaphore = semM.manager.semaphore(semName, { permits: SEMAPHORE_PERMITS });
  const semCycle: Cycle = async () => {
    await semaphore.acquire();
    await semaphore.release();
  };
  const semaphoreFirstUse = await countOnce(semM, semCycle);
  await holdEveryPermit(semM, semName);
  const other = await column.probedManager();
  const otherSemaphore = other.manager.semaphore(semName, { permits: SEMAPHORE_PERMITS });
  const semaphoreOtherManager = await countOnce(other, async () => {
    await otherSemaphore.acquire();
    await otherSemaphore.release();
  });
  await holdEveryPermit(semM, semName); // the other manager wrote one permit: fresh views of all again

  const multiM = await column.probedManager();
  const names = Array.from({ length: MULTI_NAMES }, (_, i) => column.lockName(`beyond-multi-${i}`));
  const multiCycle: Cycle = () => multiM.manager.using(names, async () => undefined);

  const cycles = {
    lock: await countCycles(lockM, lockCycle, options),
    semaphore: await countCycles(semM, semCycle, options),
    multi: await countCycles(multiM, multiCycle, options),
  };
  const latency = await interleavedLatency([lockCycle, semCycle, multiCycle], options);

  const waitingOptions = { settleMs: options.settleMs, windowMs: options.windowMs };
  const [semaphoreRows, lockWaiting, election] = await Promise.all([
    semaphoreWaiting(column, options.waiterCounts, waitingOptions),
    measureWaitingCost(column, { waiterCounts: options.waiterCounts, ...waitingOptions }),
    electionCost(column, options),
  ]);
  return {
    semaphorePermits: SEMAPHORE_PERMITS,
    multiNames: MULTI_NAMES,
    cycles,
    semaphoreFirstUse,
    semaphoreOtherManager,
    lockFirstUse,
    lockOtherManager,
    latency: { lock: latency[0]!, semaphore: latency[1]!, multi: latency[2]! },
    semaphoreWaiting: { permits: WAITING_PERMITS, ...waitingOptions, rows: semaphoreRows },
    lockWaiting,
    election,
  };
}

/** Requests of one run of `fn`, including background work sent within {@link TAIL_MS} after it. */
async function countOnce(counted: CountedManager, fn: () => Promise<void>): Promise<RequestCounts> {
  const mark = counted.counter.mark();
  await fn();
  await sleep(TAIL_MS);
  return counted.counter.countsSince(mark);
}

/** Holds every permit of the semaphore at once, then releases them: the manager has a fresh view of each. */
async function holdEveryPermit(counted: CountedManager, name: string): Promise<void> {
  const all = Array.from({ length: SEMAPHORE_PERMITS }, () => counted.manager.semaphore(name, { permits: SEMAPHORE_PERMITS }));
  for (const s of all) await s.acquire({ waitMs: 0 });
  for (const s of all) await s.release();
}

async function countCycles(counted: CountedManager, cycle: Cycle, options: BeyondOptions): Promise<CycleCost> {
  for (let i = 0; i < WARM_UP; i++) await cycle();
  await sleep(TAIL_MS);
  let cycles = 0;
  const counts = await countOnce(counted, async () => {
    cycles = await repeatBounded(options.countCycles, options.budgetMs / 3, cycle);
  });
  return { cycles, counts };
}

/** Latency of each kind of cycle, the kinds taking turns in a rotating order. */
async function interleavedLatency(kinds: readonly Cycle[], options: BeyondOptions): Promise<Summary[]> {
  const samples = kinds.map(() => [] as number[]);
  await repeatBounded(options.latencyCycles, options.budgetMs, async (i) => {
    for (let k = 0; k < kinds.length; k++) {
      const kind = (i + k) % kinds.length;
      const t0 = monoMs();
      await kinds[kind]!();
      samples[kind]!.push(monoMs() - t0);
    }
  });
  return samples.map(summarize);
}

/** Every configuration at once: a holder of all permits in one manager, `waiters` semaphores waiting in another. */
async function semaphoreWaiting(column: LockColumn, waiterCounts: readonly number[], options: { settleMs: number; windowMs: number }): Promise<SemaphoreWaitingRow[]> {
  const setups = await Promise.all(waiterCounts.map((waiters) => startSemaphoreWaiting(column, waiters, options)));
  await sleep(options.settleMs);
  const marks = setups.map((s) => ({ requests: s.waiting.counter.mark(), attempts: s.attempts.length }));
  await sleep(options.windowMs);
  const rows = setups.map((s, i): SemaphoreWaitingRow => {
    const requests = s.waiting.counter.since(marks[i]!.requests);
    const times = requests.map((r) => r.startMs);
    const attempts = s.attempts.slice(marks[i]!.attempts);
    return {
      waiters: s.waiters,
      perSecond: perSecond(times, options.windowMs),
      requests: requests.length,
      counts: s.waiting.counter.countsSince(marks[i]!.requests),
      attempts: attempts.length,
      attemptsPerSecond: perSecond(attempts, options.windowMs),
      acquired: s.acquired(),
    };
  });
  await Promise.all(setups.map((s) => s.stop()));
  return rows;
}

async function startSemaphoreWaiting(column: LockColumn, waiters: number, options: { settleMs: number; windowMs: number }) {
  const name = column.lockName(`semaphore-waiting-${waiters}`);
  const holder = await column.probedManager();
  const held = Array.from({ length: WAITING_PERMITS }, () => holder.manager.semaphore(name, { permits: WAITING_PERMITS }));
  for (const s of held) await s.acquire({ waitMs: 0 });
  const waiting = await column.probedManager();
  const attempts: number[] = [];
  waiting.manager.on('attempt', () => attempts.push(monoMs()));
  const abort = new AbortController();
  setMaxListeners(waiters + 10, abort.signal); // each waiter listens to it
  const budget = options.settleMs + options.windowMs + 30_000;
  let acquired = 0;
  const all = Array.from({ length: waiters }, async () => {
    const semaphore = waiting.manager.semaphore(name, { permits: WAITING_PERMITS });
    try {
      await semaphore.acquire({ signal: abort.signal, waitMs: budget });
      acquired++;
      await semaphore.release();
    } catch {
      // aborted at the end, as planned
    }
  });
  const stop = async (): Promise<void> => {
    abort.abort();
    await Promise.all(all);
    for (const s of held) await s.release();
  };
  return { waiters, waiting, attempts, acquired: () => acquired, stop };
}

/**
 * A leader and one follower (managers of their own) on one name. The window opens halfway between
 * two of the leader's renewals (at least `settleMs` after the follower started, so that its
 * back-off has reached its ceiling) and lasts whole renewal periods.
 */
async function electionCost(column: LockColumn, options: BeyondOptions): Promise<ElectionCost> {
  const ttlMs = options.electionTtlMs;
  const name = column.lockName('election');
  const leaderM = await column.probedManager();
  const followerM = await column.probedManager();
  let electedAt: (t: number) => void = () => undefined;
  const elected = new Promise<number>((resolve) => (electedAt = resolve));
  const leader = leaderM.manager.elect(name, { ttlMs, onElected: () => electedAt(monoMs()) });
  let followerTerms = 0;
  let follower: S3Election | undefined;
  try {
    const grantedAt = await withDeadline(elected, 30_000, 'election: the first leader');
    follower = followerM.manager.elect(name, { ttlMs, onElected: () => void followerTerms++ });
    const followerStarted = monoMs();
    const period = ttlMs / 3;
    let start = grantedAt + period / 2;
    while (start < followerStarted + options.settleMs) start += period;
    const periods = Math.max(1, Math.round(options.electionWindowMs / period));
    await sleep(start - monoMs());
    const renewedAt: number[] = [];
    const unsubscribe = leaderM.manager.on('renewed', () => renewedAt.push(monoMs()));
    const leaderMark = leaderM.counter.mark();
    const followerMark = followerM.counter.mark();
    const t0 = monoMs();
    await sleep(periods * period);
    const measuredMs = monoMs() - t0;
    const result = { ttlMs, windowMs: periods * period, measuredMs, leader: leaderM.counter.countsSince(leaderMark), follower: followerM.counter.countsSince(followerMark), renewals: renewedAt.length };
    unsubscribe();
    if (followerTerms > 0 || !leader.isLeader) throw new Error(`election: the leader lost its term during the window (follower terms: ${followerTerms})`);
    return result;
  } finally {
    await follower?.stop(); // the follower first, so that it does not take over from the leader's resignation
    await leader.stop();
  }
}

/** Requests per hour by type, from counts over `windowMs`. */
export function perHour(counts: RequestCounts, windowMs: number): RequestCounts {
  const scaled = emptyCounts();
  const factor = 3_600_000 / windowMs;
  for (const key of Object.keys(scaled) as Array<keyof RequestCounts>) scaled[key] = counts[key] * factor;
  return scaled;
}
