/** The project's performance targets (issue 6), judged on one column's results. */
import type { ColumnResults } from './results';

export interface Verdict {
  readonly target: string;
  /** undefined when the column has no result for it. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

/**
 * Noise allowances: a hand-off "within one round trip" (10%), and a waiting rate "not growing"
 * (polls are jittered ±25% and a window holds about ten of them; a poller per waiter would be ×20).
 */
export const HAND_OFF_TOLERANCE = 1.1;
export const WAITING_TOLERANCE = 1.5;
export const OVERHEAD_TARGET_PCT = 10;

export const TARGETS = [
  '2 requests per warm uncontended cycle',
  `overhead ≤ ${OVERHEAD_TARGET_PCT}% over raw calls (median)`,
  'in-process hand-off within one S3 round trip',
  'waiting cost does not grow with waiters',
] as const;

export function judge(column: ColumnResults): Verdict[] {
  const [requests, overhead, handOff, waiting] = TARGETS;
  const verdicts: Verdict[] = [];
  const warm = column.counts?.warmCycle;
  verdicts.push(
    warm
      ? { target: requests, met: warm.total <= 2, detail: `${warm.total} requests${warm.total > 2 ? ` (+${warm.total - 2})` : ''}` }
      : none(requests),
  );
  const latency = column.latency;
  verdicts.push(
    latency
      ? { target: overhead, met: latency.overheadMedianPct <= OVERHEAD_TARGET_PCT, detail: `${signed(latency.overheadMedianPct)}% (p99 ${signed(latency.overheadP99Pct)}%)` }
      : none(overhead),
  );
  const h = column.handOff;
  if (h) {
    const ratio = h.sameProcess.median / h.roundTrip.median;
    verdicts.push({ target: handOff, met: ratio <= HAND_OFF_TOLERANCE, detail: `${ratio.toFixed(2)}× one round trip (${h.sameProcess.median.toFixed(2)} vs ${h.roundTrip.median.toFixed(2)} ms)` });
  } else {
    verdicts.push(none(handOff));
  }
  const rates = column.waiting?.requestsPerSecond;
  if (rates && rates.length >= 2) {
    const first = rates[0]!;
    const last = rates[rates.length - 1]!;
    const ratio = last.perSecond / first.perSecond;
    verdicts.push({
      target: waiting,
      met: ratio <= WAITING_TOLERANCE,
      detail: `${first.perSecond.toFixed(1)} → ${last.perSecond.toFixed(1)} req/s (${first.waiters} → ${last.waiters} waiters, ×${ratio.toFixed(2)})`,
    });
  } else {
    verdicts.push(none(waiting));
  }
  return verdicts;
}

function none(target: string): Verdict {
  return { target, met: undefined, detail: 'n/a' };
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}
