/** Everything one bench run measured (written as results.json). */
import type { BeyondResults } from './beyond';
import type { CapacityResult } from './capacity';
import type { CpuResult } from './cpu';
import type { TelemetryCpuResult } from './telemetry-cpu';
import type { HandOffResults } from './hand-off';
import type { LatencyResults } from './latency';
import type { BenchProtocol } from './counted-manager';
import type { RedlockResults } from './redlock';
import type { RequestCountResults } from './request-counts';
import type { RetentionResult } from './retention';
import type { ThroughputRun } from './throughput';
import type { WaitingCostResults } from './waiting-cost';

export interface ColumnResults {
  readonly id: string;
  readonly label: string;
  readonly store: string;
  readonly protocol: BenchProtocol;
  /** Why the column was not measured at all. */
  readonly unavailable: string | undefined;
  counts?: RequestCountResults;
  latency?: LatencyResults;
  handOff?: HandOffResults;
  waiting?: WaitingCostResults;
  throughput?: ThroughputRun[];
  retention?: RetentionResult;
  capacity?: CapacityResult;
  beyond?: BeyondResults;
  /** Sections that failed, with the error. */
  readonly failures: Record<string, string>;
  /** storeError events the column's managers reported (0 expected). */
  storeErrors: number;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** 1-minute load average at the start and end of the run: other work on the machine shows here. */
  readonly loadAverage: { start: number; end: number };
  /** Store versions as reported by bench.sh (BENCH_VERSION_RGW / BENCH_VERSION_MOTO). */
  readonly storeVersions: Record<string, string>;
}

export interface BenchResults {
  readonly command: string;
  readonly quick: boolean;
  readonly startedAt: string;
  durationS: number;
  readonly machine: MachineInfo;
  readonly columns: ColumnResults[];
  cpu?: CpuResult[];
  telemetryCpu?: TelemetryCpuResult;
  redlock?: RedlockResults;
}
