/**
 * S3 requests per lock operation, counted by a client middleware and split by type.
 */
import type { LockColumn } from './lock-column';
import type { RequestCounts } from './request-counter';
import { sleep } from './timing';

export interface RequestCountResults {
  /** The store probe a manager runs once, at first use. */
  readonly probe: RequestCounts;
  /** acquire + release by a manager that wrote the lock's newest record itself (< 30 s ago). */
  readonly warmCycle: RequestCounts;
  /** acquire + release of a lock with history by a manager that has no view of it. */
  readonly coldCycle: RequestCounts;
  /** One `extend()` of a held lease. */
  readonly renewal: RequestCounts;
  /** tryAcquire by a manager without a view, once the holder's lease expired (it stopped renewing). */
  readonly takeover: RequestCounts;
  /** How many tryAcquire calls the takeover took (1 unless the expiry estimate was early). */
  readonly takeoverAttempts: number;
  /** The first second of acquire() by a process waiting for a held lock (includes its first attempt). */
  readonly firstSecondOfWaiting: RequestCounts;
}

/** Shortest TTL the engine accepts: keeps the takeover scenario short. */
const SHORT_TTL_MS = 2_000;

export async function measureRequestCounts(column: LockColumn): Promise<RequestCountResults> {
  const probe = await countProbe(column);
  const { warmCycle, coldCycle } = await countCycles(column);
  const renewal = await countRenewal(column);
  const { takeover, attempts } = await countTakeover(column);
  const firstSecondOfWaiting = await countWaiting(column, 1_000);
  return { probe, warmCycle, coldCycle, renewal, takeover, takeoverAttempts: attempts, firstSecondOfWaiting };
}

async function countProbe(column: LockColumn): Promise<RequestCounts> {
  const { manager, counter } = column.manager();
  return (await counter.during(() => manager.probe())).counts;
}

async function countCycles(column: LockColumn): Promise<{ warmCycle: RequestCounts; coldCycle: RequestCounts }> {
  const name = column.lockName('counts');
  const first = await column.probedManager();
  const lock = first.manager.lock(name);
  const cycle = async (): Promise<void> => {
    await lock.acquire();
    await lock.release();
  };
  await cycle(); // the manager's view of the lock is now fresh
  const warmCycle = (await first.counter.during(cycle)).counts;
  const other = await column.probedManager();
  const otherLock = other.manager.lock(name);
  const coldCycle = (
    await other.counter.during(async () => {
      await otherLock.acquire();
      await otherLock.release();
    })
  ).counts;
  return { warmCycle, coldCycle };
}

async function countRenewal(column: LockColumn): Promise<RequestCounts> {
  const { manager, counter } = await column.probedManager();
  const lock = manager.lock(column.lockName('renewal'));
  await lock.acquire();
  const { counts } = await counter.during(() => lock.extend());
  await lock.release();
  return counts;
}

async function countTakeover(column: LockColumn): Promise<{ takeover: RequestCounts; attempts: number }> {
  const name = column.lockName('takeover');
  const holder = await column.probedManager({ ttlMs: SHORT_TTL_MS });
  await holder.manager.lock(name).acquire();
  holder.partitioned = true; // the holder stops renewing and cannot release: its lease expires
  const observer = await column.probedManager();
  const state = await observer.manager.inspect(name);
  const expiresInMs = state.expiresAt ? state.expiresAt.getTime() - state.serverTime.getTime() : SHORT_TTL_MS + 2_500;
  await sleep(expiresInMs + 200);
  const taker = await column.probedManager();
  const lock = taker.manager.lock(name);
  const mark = taker.counter.mark();
  let attempts = 0;
  for (let acquired = false; !acquired && attempts < 8; attempts++) {
    if (attempts > 0) await sleep(500);
    acquired = await lock.tryAcquire();
  }
  const takeover = taker.counter.countsSince(mark);
  if (!lock.isHeld) throw new Error(`takeover: the expired lock was not taken over after ${attempts} attempts`);
  await lock.release();
  return { takeover, attempts };
}

/** Requests of one waiting process during its first `windowMs` of acquire() on a held lock. */
export async function countWaiting(column: LockColumn, windowMs: number): Promise<RequestCounts> {
  const name = column.lockName('waiting');
  const holder = await column.probedManager();
  const held = holder.manager.lock(name);
  await held.acquire();
  const waiter = await column.probedManager();
  const stop = new AbortController();
  const mark = waiter.counter.mark();
  const waiting = waiter.manager.lock(name).acquire({ signal: stop.signal, waitMs: windowMs + 30_000 }).catch(() => undefined);
  await sleep(windowMs);
  const counts = waiter.counter.countsSince(mark);
  stop.abort();
  await waiting;
  await held.release();
  return counts;
}
