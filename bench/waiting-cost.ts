/**
 * Cost of waiting: S3 requests per second sent by one waiting process (a manager) while another
 * process holds the lock, with 1 and with many waiters in it. Waiters of one name in one manager
 * share one poller, so the rate should not grow with their number. The configurations run at the
 * same time (on different lock names), so load on the machine hits them alike.
 */
import { setMaxListeners } from 'node:events';
import type { LockColumn } from './lock-column';
import { sleep } from './timing';

export interface WaitingCostResults {
  /** Waiters in the waiting process -> its S3 requests per second (after the back-off settled). */
  readonly requestsPerSecond: ReadonlyArray<{ readonly waiters: number; readonly perSecond: number; readonly requests: number }>;
}

export interface WaitingCostOptions {
  readonly waiterCounts: readonly number[];
  /** Waiting before the window opens (lets the back-off reach its ceiling). */
  readonly settleMs: number;
  readonly windowMs: number;
}

export async function measureWaitingCost(column: LockColumn, options: WaitingCostOptions): Promise<WaitingCostResults> {
  const setups = await Promise.all(options.waiterCounts.map((waiters) => startWaiting(column, waiters, options)));
  await sleep(options.settleMs);
  const marks = setups.map((s) => s.waiting.counter.mark());
  await sleep(options.windowMs);
  const requestsPerSecond = setups.map((s, i) => {
    const times = s.waiting.counter.since(marks[i]!).map((r) => r.startMs);
    return { waiters: s.waiters, perSecond: perSecond(times, options.windowMs), requests: times.length };
  });
  await Promise.all(setups.map((s) => s.stop()));
  return { requestsPerSecond };
}

/** A holder in one manager, and `waiters` instances of another manager waiting for the same name. */
async function startWaiting(column: LockColumn, waiters: number, options: WaitingCostOptions) {
  const name = column.lockName(`waiting-${waiters}`);
  const holder = await column.probedManager();
  const held = holder.manager.lock(name);
  await held.acquire();
  const waiting = await column.probedManager();
  const abort = new AbortController();
  setMaxListeners(waiters + 10, abort.signal); // each waiter listens to it
  const budget = options.settleMs + options.windowMs + 30_000;
  const all = Array.from({ length: waiters }, () =>
    waiting.manager.lock(name).acquire({ signal: abort.signal, waitMs: budget }).catch(() => undefined),
  );
  const stop = async (): Promise<void> => {
    abort.abort();
    await Promise.all(all);
    await held.release();
  };
  return { waiters, waiting, stop };
}

/**
 * Rate of requests sent at `times` (ms): from the mean gap between the first and the last one, which
 * is not quantised to whole requests per window as a plain count is; the count when there are too few.
 */
export function perSecond(times: readonly number[], windowMs: number): number {
  if (times.length < 3) return times.length / (windowMs / 1000);
  return ((times.length - 1) / (times[times.length - 1]! - times[0]!)) * 1000;
}
