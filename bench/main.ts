/**
 * `npm run bench` (scripts/bench.sh starts the stores): measures the lock on each chosen store
 * with both protocols side by side, prints a markdown report and writes results.md,
 * results.json and latency.svg to the output directory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { startChildren, type LockChild } from './child-process';
import { measureBeyond } from './beyond';
import { measureCapacity, measureOverload } from './capacity';
import { measureCpu } from './cpu';
import { measureTelemetryCpu, type TelemetryCpuResult } from './telemetry-cpu';
import { measureHandOff } from './hand-off';
import { measureLatency } from './latency';
import { LockColumn } from './lock-column';
import { parseOptions, type BenchOptions, type Section } from './options';
import { measureRedlock } from './redlock';
import { renderReport } from './report';
import { measureRequestCounts } from './request-counts';
import { measureRetention } from './retention';
import type { BenchResults, ColumnResults } from './results';
import { firstLine, openStore, type BenchStore } from './stores';
import { renderLatencyChart } from './svg-chart';
import { measureThroughput } from './throughput';
import { monoMs } from './timing';
import { measureWaitingCost } from './waiting-cost';

const T0 = monoMs();

function log(message: string): void {
  process.stderr.write(`[bench +${((monoMs() - T0) / 1000).toFixed(1)}s] ${message}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results: BenchResults = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    quick: options.quick,
    startedAt: new Date().toISOString(),
    durationS: 0,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? '?',
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      os: `${osType()} ${release()}`,
      loadAverage: { start: loadavg()[0]!, end: NaN },
      storeVersions: storeVersions(),
    },
    columns: [],
  };
  for (const name of options.stores) {
    const store = await openStore(name);
    log(store.unavailable ? `${store.label}: n/a (${store.unavailable})` : `${store.label}: ${store.target!.endpoint}`);
    try {
      for (const protocol of options.protocols) {
        const t = monoMs();
        const column = await LockColumn.open(store, protocol);
        log(`${column.label}: bucket and probe ${((monoMs() - t) / 1000).toFixed(1)} s`);
        try {
          results.columns.push(await measureColumn(column, options));
        } finally {
          const tc = monoMs();
          await column.close();
          log(`${column.label}: managers closed in ${((monoMs() - tc) / 1000).toFixed(1)} s`);
        }
      }
    } finally {
      const t = monoMs();
      await store.target?.close(); // deletes the buckets it made (rgw, moto)
      log(`${store.label}: closed in ${((monoMs() - t) / 1000).toFixed(1)} s`);
    }
  }
  if (options.sections.has('cpu')) {
    log('CPU per cycle on the in-process in-memory store');
    const t = monoMs();
    results.cpu = await measureCpu({ cycles: options.sizes.cpuCycles, budgetMs: options.sizes.cpuBudgetMs });
    log('CPU per cycle without @opentelemetry/api, with telemetry off, with the no-op API, with the SDK (a process each)');
    results.telemetryCpu = await measureTelemetryOnStores(options);
    log(`CPU ${((monoMs() - t) / 1000).toFixed(1)} s`);
  }
  if (options.sections.has('redlock')) {
    log('redlock on a local redis-server');
    results.redlock = await measureRedlock({ cycles: options.sizes.redlockCycles, budgetMs: options.sizes.redlockBudgetMs });
  }
  results.machine.loadAverage.end = loadavg()[0]!;
  results.durationS = (monoMs() - T0) / 1000;

  const report = renderReport(results);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'results.md'), report);
  writeFileSync(join(options.outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(options.outDir, 'latency.svg'), renderLatencyChart(results));
  process.stdout.write(report);
  log(`done in ${results.durationS.toFixed(0)} s; wrote ${options.outDir}/results.md, results.json, latency.svg`);
}

async function measureColumn(column: LockColumn, options: BenchOptions): Promise<ColumnResults> {
  const result: ColumnResults = {
    id: column.id,
    label: column.label,
    store: column.store.label,
    protocol: column.protocol,
    unavailable: column.unavailable,
    failures: {},
    storeErrors: 0,
  };
  if (!column.available) {
    log(`${column.label}: n/a (${column.unavailable})`);
    return result;
  }
  const { sections, sizes } = options;
  const wantChildren = sections.has('hand-off') || sections.has('throughput');
  // The children compile and start while the request counts run (those do not mind the CPU use).
  const starting = wantChildren ? startChildren(column.config, sizes.throughputProcesses) : undefined;
  starting?.catch(() => undefined);
  let children: LockChild[] | undefined;
  const step = async (section: Section, fn: () => Promise<void>): Promise<void> => {
    if (!sections.has(section)) return;
    const t = monoMs();
    try {
      await fn();
    } catch (error) {
      result.failures[section] = firstLine(error);
    }
    log(`${column.label}: ${section} ${((monoMs() - t) / 1000).toFixed(1)} s${result.failures[section] ? ` FAILED: ${result.failures[section]}` : ''}`);
  };
  // a failed start is reported by the sections that need the children
  const childrenReady = async (): Promise<LockChild[]> => (children ??= await starting!);
  try {
    await step('counts', async () => {
      result.counts = await measureRequestCounts(column);
    });
    if (starting) children = await starting.catch(() => undefined); // started before the latency is timed
    await step('latency', async () => {
      result.latency = await measureLatency(column, { cycles: sizes.latencyCycles, budgetMs: sizes.latencyBudgetMs });
    });
    await step('hand-off', async () => {
      const [child] = await childrenReady();
      result.handOff = await measureHandOff(column, child!, {
        rounds: sizes.handOffRounds,
        localRounds: sizes.localHandOffRounds,
        budgetMs: sizes.handOffBudgetMs,
      });
    });
    await step('waiting', async () => {
      result.waiting = await measureWaitingCost(column, { waiterCounts: sizes.waiterCounts, settleMs: sizes.waitSettleMs, windowMs: sizes.waitWindowMs });
    });
    await step('beyond', async () => {
      result.beyond = await measureBeyond(column, {
        countCycles: sizes.beyondCountCycles,
        latencyCycles: sizes.beyondLatencyCycles,
        budgetMs: sizes.beyondBudgetMs,
        waiterCounts: sizes.waiterCounts,
        settleMs: sizes.waitSettleMs,
        windowMs: sizes.waitWindowMs,
        electionTtlMs: sizes.electionTtlMs,
        electionWindowMs: sizes.electionWindowMs,
      });
    });
    await step('throughput', async () => {
      result.throughput = await measureThroughput(column, await childrenReady(), {
        nameCounts: sizes.throughputNameCounts,
        workersPerProcess: sizes.throughputWorkers,
        durationMs: sizes.throughputMs,
      });
    });
    await step('memory', async () => {
      result.retention = await measureRetention(column, sizes.retentionNames);
    });
    await step('capacity', async () => {
      const capacity = await measureCapacity(column, { locks: sizes.capacityLocks, ttlMs: sizes.capacityTtlMs, holdMs: sizes.capacityHoldMs, log });
      result.capacity = capacity;
      const overload = await measureOverload(column, { locks: sizes.overloadLocks, ttlMs: sizes.capacityTtlMs, phaseMs: sizes.overloadPhaseMs, loads: sizes.overloadLoads });
      result.capacity = { ...capacity, overload };
    });
  } finally {
    const t = monoMs();
    if (children) await Promise.allSettled(children.map((c) => c.stop()));
    log(`${column.label}: children stopped in ${((monoMs() - t) / 1000).toFixed(1)} s`);
  }
  result.storeErrors = column.storeErrors();
  return result;
}

/** Store versions bench.sh found (BENCH_VERSION_<STORE>=...). */
function storeVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    const m = /^BENCH_VERSION_(\w+)$/.exec(k);
    if (m && v) versions[m[1]!.toLowerCase()] = v;
  }
  return versions;
}

process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${firstLine(reason)}`));

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

/** The OpenTelemetry CPU rows: on the in-memory store, and on each real store asked for (a bucket of its own). */
async function measureTelemetryOnStores(options: BenchOptions): Promise<TelemetryCpuResult> {
  const opened: BenchStore[] = [];
  try {
    const endpoints: Array<{ label: string; endpoint: { url: string; accessKeyId: string; secretAccessKey: string; bucket: string } }> = [];
    for (const name of options.stores.filter((s) => s !== 'memory')) {
      const store = await openStore(name);
      opened.push(store);
      if (!store.target) continue;
      const bucket = await store.target.createBucket();
      endpoints.push({ label: store.label, endpoint: { url: store.target.endpoint, ...store.target.credentials, bucket } });
    }
    return await measureTelemetryCpu({ cycles: options.sizes.telemetryCycles, rounds: options.sizes.telemetryRounds, endpoints });
  } finally {
    for (const store of opened) await store.target?.close();
  }
}
