/**
 * Throughput under contention: lock cycles (acquire + release, no work inside) per second with
 * several processes of several concurrent workers each, on one lock name and spread over many.
 */
import type { LockChild } from './child-process';
import type { LockColumn } from './lock-column';
import { addCounts, emptyCounts, type RequestCounts } from './request-counter';

export interface ThroughputRun {
  readonly names: number;
  readonly processes: number;
  readonly workersPerProcess: number;
  readonly durationMs: number;
  readonly cyclesPerSecond: number;
  /** S3 requests of all processes per completed cycle. */
  readonly requestsPerCycle: number;
  /** The same requests by type, in total. */
  readonly requests: RequestCounts;
  /** Cycles completed by each process (shows how evenly the lock was shared). */
  readonly cyclesPerProcess: number[];
  readonly errors: number;
  readonly firstError: string | undefined;
}

export interface ThroughputOptions {
  readonly nameCounts: readonly number[];
  readonly workersPerProcess: number;
  readonly durationMs: number;
}

export async function measureThroughput(column: LockColumn, children: readonly LockChild[], options: ThroughputOptions): Promise<ThroughputRun[]> {
  const runs: ThroughputRun[] = [];
  for (const count of options.nameCounts) {
    const names = Array.from({ length: count }, () => column.lockName(`throughput-${count}`));
    for (const child of children) child.send({ cmd: 'contend', names, workers: options.workersPerProcess, durationMs: options.durationMs });
    const reports = await Promise.all(children.map((c) => c.next('contended', options.durationMs + 60_000)));
    const cyclesPerProcess = reports.map((r) => r.cycles as number);
    const cycles = cyclesPerProcess.reduce((a, b) => a + b, 0);
    const counts = reports.map((r) => r.counts as RequestCounts).reduce(addCounts, emptyCounts());
    runs.push({
      names: count,
      processes: children.length,
      workersPerProcess: options.workersPerProcess,
      durationMs: options.durationMs,
      cyclesPerSecond: cycles / (options.durationMs / 1000),
      requestsPerCycle: cycles === 0 ? NaN : counts.total / cycles,
      requests: counts,
      cyclesPerProcess,
      errors: reports.reduce((n, r) => n + (r.errors as number), 0),
      firstError: reports.map((r) => r.firstError as string | undefined).find((e) => e !== undefined),
    });
  }
  return runs;
}
