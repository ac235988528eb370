/** Command line of `npm run bench`. */
import { BENCH_PROTOCOLS, type BenchProtocol } from './counted-manager';
import type { BenchStoreName } from './stores';

export const SECTIONS = ['counts', 'latency', 'hand-off', 'waiting', 'throughput', 'memory', 'capacity', 'beyond', 'cpu', 'redlock'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  readonly stores: readonly BenchStoreName[];
  readonly quick: boolean;
  /** Protocols (columns) per store: both unless --protocol says one. */
  readonly protocols: readonly BenchProtocol[];
  readonly outDir: string;
  readonly sections: ReadonlySet<Section>;
  /** Sizes of the loops; every loop is bounded by a count and by time. */
  readonly sizes: BenchSizes;
}

export interface BenchSizes {
  readonly latencyCycles: number;
  readonly latencyBudgetMs: number;
  readonly handOffRounds: number;
  readonly localHandOffRounds: number;
  readonly handOffBudgetMs: number;
  readonly waitSettleMs: number;
  readonly waitWindowMs: number;
  readonly waiterCounts: readonly number[];
  readonly throughputMs: number;
  readonly throughputProcesses: number;
  readonly throughputWorkers: number;
  readonly throughputNameCounts: readonly number[];
  /** Ever-new names per round of the memory-per-name measurement (two rounds). */
  readonly retentionNames: number;
  /** Locks one process tries to hold, step by step (TTL `capacityTtlMs`, held `capacityHoldMs`). */
  readonly capacityLocks: readonly number[];
  readonly capacityTtlMs: number;
  readonly capacityHoldMs: number;
  /** Overload: locks held while other clients load the store with these PUT concurrencies, a phase each. */
  readonly overloadLocks: number;
  readonly overloadLoads: readonly number[];
  readonly overloadPhaseMs: number;
  /**
   * Beyond the mutex (semaphore, multi-name using(), election): counted cycles per kind, latency
   * cycles per kind and the time budget of both; the election's TTL and its window (whole renewal
   * periods). The semaphore's waiting cost uses the waiting sizes above.
   */
  readonly beyondCountCycles: number;
  readonly beyondLatencyCycles: number;
  readonly beyondBudgetMs: number;
  readonly electionTtlMs: number;
  readonly electionWindowMs: number;
  readonly cpuCycles: number;
  readonly cpuBudgetMs: number;
  /** OpenTelemetry CPU: cycles per process, and rounds (a process per variant per round). */
  readonly telemetryCycles: number;
  readonly telemetryRounds: number;
  readonly redlockCycles: number;
  readonly redlockBudgetMs: number;
}

const FULL: BenchSizes = {
  latencyCycles: 200,
  latencyBudgetMs: 8_000,
  handOffRounds: 8,
  localHandOffRounds: 30,
  handOffBudgetMs: 8_000,
  waitSettleMs: 1_000,
  waitWindowMs: 5_000,
  waiterCounts: [1, 20],
  throughputMs: 3_000,
  throughputProcesses: 3,
  throughputWorkers: 10,
  throughputNameCounts: [1, 100],
  retentionNames: 2_000,
  capacityLocks: [100, 200, 300, 400],
  capacityTtlMs: 3_000,
  capacityHoldMs: 30_000,
  overloadLocks: 80,
  overloadLoads: [0, 2, 4, 8],
  overloadPhaseMs: 15_000,
  beyondCountCycles: 20,
  beyondLatencyCycles: 200,
  beyondBudgetMs: 15_000,
  electionTtlMs: 30_000,
  electionWindowMs: 30_000,
  cpuCycles: 2_000,
  cpuBudgetMs: 4_000,
  telemetryCycles: 1_000,
  telemetryRounds: 15,
  redlockCycles: 1_000,
  redlockBudgetMs: 5_000,
};

const QUICK: BenchSizes = {
  ...FULL,
  latencyCycles: 30,
  latencyBudgetMs: 2_000,
  handOffRounds: 3,
  localHandOffRounds: 10,
  handOffBudgetMs: 5_000,
  waitSettleMs: 800,
  waitWindowMs: 1_500,
  throughputMs: 1_500,
  retentionNames: 300,
  capacityLocks: [20, 60],
  capacityHoldMs: 5_000,
  overloadLocks: 20,
  overloadLoads: [0, 2],
  overloadPhaseMs: 4_000,
  beyondCountCycles: 10,
  beyondLatencyCycles: 30,
  beyondBudgetMs: 3_000,
  electionTtlMs: 6_000,
  electionWindowMs: 4_000,
  cpuCycles: 300,
  cpuBudgetMs: 1_500,
  telemetryCycles: 200,
  telemetryRounds: 2,
  redlockCycles: 200,
  redlockBudgetMs: 1_500,
};

const USAGE = `npm run bench -- [--store memory|rgw|moto|all|endpoint[,...]] [--quick] [--out DIR] [--only SECTION[,...]]
  --store   stores to measure (default: endpoint when S3_ENDPOINT is set, else memory); 'endpoint'
            is S3_ENDPOINT with S3_ACCESS_KEY / S3_SECRET_KEY
  --quick   short loops (a smoke run; numbers are rough)
  --protocol  create-only or versioned: one column per store (default both)
  --out     output directory (default bench-out)
  --only    sections: ${SECTIONS.join(', ')}`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  let stores: BenchStoreName[] = [process.env.S3_ENDPOINT ? 'endpoint' : 'memory'];
  let quick = false;
  let protocols: readonly BenchProtocol[] = BENCH_PROTOCOLS;
  let outDir = 'bench-out';
  let sections = new Set<Section>(SECTIONS);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--store':
        stores = value().split(',').flatMap((s): BenchStoreName[] => {
          if (s === 'all') return ['memory', 'rgw', 'moto'];
          if (s === 'memory' || s === 'rgw' || s === 'moto' || s === 'endpoint') return [s];
          return fail(`unknown store '${s}'`);
        });
        break;
      case '--quick':
        quick = true;
        break;
      case '--protocol': {
        const p = value();
        if (!(BENCH_PROTOCOLS as readonly string[]).includes(p)) fail(`unknown protocol '${p}'`);
        protocols = [p as BenchProtocol];
        break;
      }
      case '--out':
        outDir = value();
        break;
      case '--only':
        sections = new Set(
          value()
            .split(',')
            .map((s) => ((SECTIONS as readonly string[]).includes(s) ? (s as Section) : fail(`unknown section '${s}'`))),
        );
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        fail(`unknown argument '${arg}'`);
    }
  }
  return { stores: [...new Set(stores)], quick, protocols, outDir, sections, sizes: quick ? QUICK : FULL };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}
