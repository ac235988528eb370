/**
 * Latency of a warm, uncontended acquire + release against the same S3 requests sent directly
 * with the SDK (see raw-replay.ts). Engine and raw cycles alternate, so drift in the store or
 * the machine hits both alike.
 */
import { randomBytes } from 'node:crypto';
import type { LockColumn } from './lock-column';
import { RawReplayer, describePlan, planFrom } from './raw-replay';
import { overheadPct, summarize, type Summary } from './stats';
import { monoMs, repeatBounded } from './timing';

export interface LatencyResults {
  readonly engine: Summary;
  readonly raw: Summary;
  /** The requests of one cycle, as replayed: `PutObject → PutObject`. */
  readonly plan: string;
  readonly overheadMedianPct: number;
  readonly overheadP99Pct: number;
}

export interface LatencyOptions {
  readonly cycles: number;
  readonly budgetMs: number;
}

const WARM_UP = 5;

export async function measureLatency(column: LockColumn, options: LatencyOptions): Promise<LatencyResults> {
  const { manager, counter } = await column.probedManager();
  const lock = manager.lock(column.lockName('latency'));
  const cycle = async (): Promise<void> => {
    await lock.acquire();
    await lock.release();
  };
  for (let i = 0; i < WARM_UP; i++) await cycle();
  counter.capture = true;
  const previous = (await counter.during(cycle)).requests;
  const { requests } = await counter.during(cycle);
  counter.capture = false;
  const plan = planFrom(requests, previous);
  const raw = new RawReplayer(column.store.target!.createClient(), randomBytes(4).toString('hex'));
  for (let i = 0; i < WARM_UP; i++) await raw.run(plan);

  const engineMs: number[] = [];
  const rawMs: number[] = [];
  const timed = async (into: number[], fn: () => Promise<void>): Promise<void> => {
    const t0 = monoMs();
    await fn();
    into.push(monoMs() - t0);
  };
  await repeatBounded(options.cycles, options.budgetMs, async (i) => {
    if (i % 2 === 0) {
      await timed(engineMs, cycle);
      await timed(rawMs, () => raw.run(plan));
    } else {
      await timed(rawMs, () => raw.run(plan));
      await timed(engineMs, cycle);
    }
  });
  const engine = summarize(engineMs);
  const rawSummary = summarize(rawMs);
  return {
    engine,
    raw: rawSummary,
    plan: describePlan(plan),
    overheadMedianPct: overheadPct(engine.median, rawSummary.median),
    overheadP99Pct: overheadPct(engine.p99, rawSummary.p99),
  };
}
