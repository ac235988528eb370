/** The markdown report of a bench run (stdout and results.md). */
import { perHour } from './beyond';
import { formatCounts, formatScaledCounts, type RequestCounts } from './request-counter';
import type { BenchResults, ColumnResults } from './results';
import type { Summary } from './stats';
import { TARGETS, judge } from './targets';

type Row = readonly string[];

export function renderReport(results: BenchResults): string {
  const cols = results.columns;
  const out: string[] = [];
  const m = results.machine;
  out.push(`# nestjs-s3-lock bench${results.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(
    `\`${results.command}\` · ${results.startedAt} · ${results.durationS.toFixed(0)} s · ${m.cpus} CPUs (${m.cpuModel}), ` +
      `${m.memoryGiB.toFixed(0)} GiB, Node ${m.node}, ${m.os} · load average ${m.loadAverage.start.toFixed(2)} → ${m.loadAverage.end.toFixed(2)}` +
      Object.entries(m.storeVersions)
        .map(([k, v]) => ` · ${k} ${v}`)
        .join(''),
  );
  if (cols.length > 0) {
    section(out, 'S3 requests per operation', cols, [
      row(cols, 'store probe (once per manager)', (c) => counts(c.counts?.probe), true),
      row(cols, 'acquire + release, warm', (c) => counts(c.counts?.warmCycle), true),
      row(cols, 'acquire + release, cold (no view)', (c) => counts(c.counts?.coldCycle), true),
      row(cols, 'renewal (`extend()`)', (c) => counts(c.counts?.renewal), true),
      row(cols, 'takeover of an expired lock', (c) => c.counts && `${counts(c.counts.takeover)}${c.counts.takeoverAttempts > 1 ? ` (${c.counts.takeoverAttempts} tries)` : ''}`, true),
      row(cols, 'first 1 s of waiting (one process)', (c) => counts(c.counts?.firstSecondOfWaiting), true),
    ]);
    section(out, 'Warm acquire + release latency (ms) vs the same S3 calls made directly', cols, [
      row(cols, 'lock: median / p99', (c) => c.latency && medP99(c.latency.engine)),
      row(cols, 'raw SDK calls: median / p99', (c) => c.latency && medP99(c.latency.raw)),
      row(cols, 'overhead: median / p99', (c) => c.latency && `${pct(c.latency.overheadMedianPct)} / ${pct(c.latency.overheadP99Pct)}`),
      row(cols, 'requests replayed', (c) => c.latency?.plan),
      row(cols, 'cycles', (c) => c.latency && String(c.latency.engine.n)),
    ]);
    section(out, 'Hand-off latency (ms): from release() to the next holder', cols, [
      row(cols, 'waiter in another process: median (min–max)', (c) => c.handOff && `${ms(c.handOff.otherProcess.median)} (${ms(c.handOff.otherProcess.min)}–${ms(c.handOff.otherProcess.max)}), n=${c.handOff.otherProcess.n}`),
      row(cols, 'waiter in the same process: median / p99', (c) => c.handOff && medP99(c.handOff.sameProcess)),
      row(cols, '… of which S3 requests: count, time median', (c) => c.handOff && `${c.handOff.sameProcessRequests}, ${ms(c.handOff.sameProcessStoreMs.median)}`),
      row(cols, 'one S3 round trip (its first request, raw): median / p99', (c) => c.handOff && medP99(c.handOff.roundTrip)),
    ]);
    const waiterCounts = [...new Set(cols.flatMap((c) => c.waiting?.requestsPerSecond.map((r) => r.waiters) ?? []))];
    section(
      out,
      'Waiting cost: S3 requests per second of one waiting process',
      cols,
      waiterCounts.map((n) =>
        row(cols, `${n} waiter${n === 1 ? '' : 's'} in it: req/s (requests in the window)`, (c) => {
          const r = c.waiting?.requestsPerSecond.find((w) => w.waiters === n);
          return r && `${num(r.perSecond)} (${r.requests})`;
        }),
      ),
    );
    const nameCounts = [...new Set(cols.flatMap((c) => c.throughput?.map((t) => t.names) ?? []))];
    const shape = cols.flatMap((c) => c.throughput ?? [])[0];
    section(
      out,
      `Throughput under contention${shape ? ` (${shape.processes} processes × ${shape.workersPerProcess} workers, ${(shape.durationMs / 1000).toFixed(1)} s)` : ''}: cycles/s (requests per cycle; cycles per process)`,
      cols,
      nameCounts.map((n) =>
        row(cols, `${n} lock name${n === 1 ? '' : 's'}`, (c) => {
          const t = c.throughput?.find((r) => r.names === n);
          return t && `${num(t.cyclesPerSecond)} (${num(t.requestsPerCycle)}; ${t.cyclesPerProcess.join('/')})${t.errors > 0 ? `, ${t.errors} errors` : ''}`;
        }),
      ),
    );
    const retained = cols.find((c) => c.retention)?.retention;
    section(out, `Memory per lock name${retained ? ` (${retained.names} ever-new names, then ${retained.names} more)` : ''}`, cols, [
      row(cols, 'bytes per name retained after the names go idle', (c) => c.retention && num(c.retention.bytesPerName)),
      row(cols, 'map entries once idle (all maps)', (c) => c.retention && String(Object.values(c.retention.entriesIdle).reduce((a, b) => a + b, 0))),
      row(cols, 'map entries right after the names (fresh caches)', (c) => c.retention && String(Object.values(c.retention.entriesWhileFresh).reduce((a, b) => a + b, 0))),
    ]);
    renderCapacity(out, cols);
    renderBeyond(out, cols);
    section(out, 'Targets', cols, TARGETS.map((t, i) => row(cols, t, (c) => verdict(c, i))));
  }
  renderContext(out, results);
  const errorRuns = (c: ColumnResults) => (c.throughput ?? []).filter((t) => t.errors > 0);
  const notes = cols.filter((c) => c.unavailable || Object.keys(c.failures).length > 0 || c.storeErrors > 0 || errorRuns(c).length > 0);
  if (notes.length > 0) {
    out.push('', '### Notes', '');
    for (const c of notes) {
      if (c.unavailable) out.push(`- ${c.label}: n/a (${c.unavailable})`);
      for (const [s, e] of Object.entries(c.failures)) out.push(`- ${c.label}: ${s} failed: ${e}`);
      if (c.storeErrors > 0) out.push(`- ${c.label}: ${c.storeErrors} storeError events reported by the lock managers`);
      for (const t of errorRuns(c)) out.push(`- ${c.label}: throughput on ${t.names} name(s): ${t.errors} errors, first: ${t.firstError ?? '?'}`);
    }
  }
  return out.join('\n') + '\n';
}

/** Capacity: one row per number of locks tried; then the overload phases. */
function renderCapacity(out: string[], cols: readonly ColumnResults[]): void {
  const measured = cols.filter((c) => c.capacity);
  const first = measured[0]?.capacity;
  if (!first) return;
  const sizes = [...new Set(measured.flatMap((c) => c.capacity!.steps.map((s) => s.locks)))].sort((a, b) => a - b);
  section(
    out,
    `Capacity: locks held by one process (TTL ${first.ttlMs / 1000} s, ${first.steps[0]?.holdS ?? '?'} s hold): held, lost, renewal median / p99 ms, requests/s`,
    cols,
    sizes.map((n) =>
      row(cols, `${n} locks tried`, (c) => {
        const s = c.capacity?.steps.find((x) => x.locks === n);
        if (!s) return undefined;
        const refused = s.acquired < s.locks ? ` (${s.locks - s.acquired} not acquired in ${Math.round(s.acquireS)} s: store at capacity)` : '';
        return `held ${s.acquired}${refused}, lost ${s.lost}, ${medP99(s.renewalMs)}, ${Math.round(s.requestsPerS)}/s`;
      }),
    ),
  );
  const causes = measured.flatMap((c) => c.capacity!.steps.flatMap((s) => Object.entries(s.lostByCause).map(([cause, n]) => `- ${c.label}, ${s.locks} locks: ${n} lost: ${cause}`)));
  if (causes.length > 0) out.push('', 'Causes of the lost leases:', '', ...causes);
  const overload = measured.find((c) => c.capacity!.overload)?.capacity!.overload;
  if (!overload) return;
  section(
    out,
    `Overload: ${overload.locks} locks held while other clients send PUTs (that many in flight), ${overload.phaseS} s a phase: lost, renewal p99 ms`,
    cols,
    overload.phases.map((p, i) =>
      row(cols, `${p.loadConcurrency} PUTs in flight from others`, (c) => {
        const q = c.capacity?.overload?.phases[i];
        return q && `lost ${q.lost}, p99 ${ms(q.renewalP99Ms)}${Object.keys(q.lostByCause).length > 0 ? ` (${Object.keys(q.lostByCause).join('; ')})` : ''}`;
      }),
    ),
  );
}

/** Semaphore, multi-name using() and election (`--only beyond`). */
function renderBeyond(out: string[], cols: readonly ColumnResults[]): void {
  const first = cols.find((c) => c.beyond)?.beyond;
  if (!first) return;
  const mean = (cost: { cycles: number; counts: RequestCounts }): string => formatScaledCounts(cost.counts, 1 / cost.cycles);
  section(out, `Semaphore (${first.semaphorePermits} permits) and \`using()\` on ${first.multiNames} names, uncontended: S3 requests per acquire + release`, cols, [
    row(cols, 'lock, warm (for comparison): mean per cycle', (c) => c.beyond && mean(c.beyond.cycles.lock), true),
    row(cols, 'semaphore, warm: mean per cycle', (c) => c.beyond && mean(c.beyond.cycles.semaphore)),
    row(cols, `\`using([${Array.from({ length: first.multiNames }, (_, i) => String.fromCharCode(97 + i)).join(', ')}], fn)\`, warm: mean per cycle`, (c) => c.beyond && mean(c.beyond.cycles.multi)),
    row(cols, 'warm cycles counted (each kind)', (c) => c.beyond && [c.beyond.cycles.lock, c.beyond.cycles.semaphore, c.beyond.cycles.multi].map((k) => k.cycles).join(' / ')),
    row(cols, 'lock, first use of a new name (for comparison)', (c) => counts(c.beyond?.lockFirstUse)),
    row(cols, 'semaphore, first use of a new name (declares the permits)', (c) => counts(c.beyond?.semaphoreFirstUse)),
    row(cols, 'lock, first use by another manager (no view; for comparison)', (c) => counts(c.beyond?.lockOtherManager)),
    row(cols, 'semaphore, first use by another manager (declared; no view)', (c) => counts(c.beyond?.semaphoreOtherManager)),
  ]);
  section(out, 'Semaphore and multi-name `using()`, warm and uncontended: latency (ms), the kinds taking turns', cols, [
    row(cols, 'lock acquire + release: median / p99', (c) => c.beyond && medP99(c.beyond.latency.lock)),
    row(cols, 'semaphore acquire + release: median / p99', (c) => c.beyond && medP99(c.beyond.latency.semaphore)),
    row(cols, `\`using()\` on ${first.multiNames} names: median / p99`, (c) => c.beyond && medP99(c.beyond.latency.multi)),
    row(cols, 'cycles (each kind)', (c) => c.beyond && String(c.beyond.latency.lock.n)),
  ]);
  const w = first.semaphoreWaiting;
  const waiterCounts = [...new Set(cols.flatMap((c) => c.beyond?.semaphoreWaiting.rows.map((r) => r.waiters) ?? []))];
  section(
    out,
    `Semaphore waiting cost (${w.permits} permits, all held by another process): S3 requests per second of one waiting process (${(w.windowMs / 1000).toFixed(1)} s after ${(w.settleMs / 1000).toFixed(1)} s)`,
    cols,
    waiterCounts.flatMap((n) => {
      const waiters = `${n} waiter${n === 1 ? '' : 's'}`;
      const sem = (c: ColumnResults) => c.beyond?.semaphoreWaiting.rows.find((r) => r.waiters === n);
      return [
        row(cols, `semaphore, ${waiters} in it: req/s (requests in the window)`, (c) => {
          const r = sem(c);
          return r && `${num(r.perSecond)} (${r.requests})${r.acquired > 0 ? `, **${r.acquired} acquired**` : ''}`;
        }),
        row(cols, `… permit tries/s (rounds/s per waiter); requests per try`, (c) => {
          const r = sem(c);
          return r && `${num(r.attemptsPerSecond)} (${num(r.attemptsPerSecond / w.permits / n)}); ${r.attempts > 0 ? formatScaledCounts(r.counts, 1 / r.attempts) : '–'}`;
        }),
        row(cols, `lock, ${waiters} in it, at the same time: req/s (requests)`, (c) => {
          const r = c.beyond?.lockWaiting.requestsPerSecond.find((x) => x.waiters === n);
          return r && `${num(r.perSecond)} (${r.requests})`;
        }),
      ];
    }),
  );
  const e = first.election;
  const periods = Math.round(e.windowMs / (e.ttlMs / 3));
  section(
    out,
    `Election steady state (TTL ${e.ttlMs / 1000} s): S3 requests per hour, extrapolated from a ${(e.windowMs / 1000).toFixed(0)} s window (${periods} renewal period${periods === 1 ? '' : 's'})`,
    cols,
    [
      row(cols, 'leader: per hour (requests in the window; renewals)', (c) => {
        const x = c.beyond?.election;
        return x && `${formatScaledCounts(perHour(x.leader, x.windowMs), 1, 0)} (${x.leader.total}; ${x.renewals})`;
      }),
      row(cols, 'one follower: per hour (requests in the window)', (c) => {
        const x = c.beyond?.election;
        return x && `${formatScaledCounts(perHour(x.follower, x.windowMs), 1, 0)} (${x.follower.total})`;
      }),
    ],
  );
}

function renderContext(out: string[], results: BenchResults): void {
  const rows: Row[] = [];
  for (const c of results.cpu ?? []) {
    rows.push(
      c.unavailable
        ? [`${c.protocol} on the in-memory store (in-process)`, `n/a (${c.unavailable})`, '', '']
        : [`${c.protocol} on the in-memory store (in-process)`, `${c.engineUs.toFixed(0)} µs`, `${c.rawUs.toFixed(0)} µs (+${(c.engineUs - c.rawUs).toFixed(0)} µs by the lock)`, ''],
    );
  }
  const t = results.telemetryCpu;
  if (t) {
    for (const store of t.stores) {
      const m = store.medianUs;
      const q = store.ratioToAbsent;
      const where = store.label === 'memory' ? 'in-memory store, in-process' : `${store.label}, this client's CPU`;
      const pct = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;
      const vs = (v: keyof typeof m): string => `${m[v].toFixed(0)} µs (${pct(q[v])} per round)`;
      const spread = (v: keyof typeof m): string => `${Math.min(...store.samplesUs[v]).toFixed(0)}–${Math.max(...store.samplesUs[v]).toFixed(0)} µs over ${store.rounds} processes`;
      rows.push([`create-only (${where}), without \`@opentelemetry/api\``, `${m.absent.toFixed(0)} µs`, spread('absent'), '']);
      rows.push([`create-only (${where}), telemetry \`enabled: false\``, vs('off'), spread('off'), '']);
      rows.push([`create-only (${where}), \`@opentelemetry/api\` with no provider (no-op)`, vs('noop'), spread('noop'), '']);
      rows.push([`create-only (${where}), the application runs the SDK (context manager, providers), lock telemetry \`enabled: false\``, vs('sdk-off'), spread('sdk-off'), '']);
      rows.push([`create-only (${where}), the SDK and lock telemetry (metrics, every span sampled and batch-exported)`, `${vs('sdk')}; ${pct(store.sdkOverSdkOff)} over the SDK without lock telemetry`, spread('sdk'), '']);
    }
    const base = t.stores[0]!.medianUs.absent;
    const share = (us: number): string => `${us.toFixed(1)} µs (${((us / base) * 100).toFixed(2)}% of an in-memory cycle)`;
    rows.push(['the telemetry calls of one cycle, alone: no-op API / SDK', `${share(t.callsNoopUs)} / ${share(t.callsSdkUs)}`, '', '']);
  }
  const r = results.redlock;
  if (r) {
    rows.push(
      r.unavailable
        ? ['redlock on a local Redis', `n/a (${r.unavailable})`, '', '']
        : [`redlock on a local Redis ${r.redisVersion}`, `${r.cpuUs!.toFixed(0)} µs (client only)`, `${r.commandsPerCycle!.toFixed(1)} Redis commands`, medP99(r.latency!)],
    );
  }
  if (rows.length === 0) return;
  out.push('', '### CPU per acquire + release, and redlock for context', '');
  table(out, ['', 'CPU per cycle', 'raw SDK calls / requests', 'latency median / p99 (ms)'], rows);
}

function section(out: string[], title: string, cols: readonly ColumnResults[], rows: Row[]): void {
  if (rows.every((r) => r.slice(1).every((cell) => cell === '–' || cell.startsWith('n/a')))) return;
  out.push('', `### ${title}`, '');
  table(out, ['', ...cols.map((c) => c.label)], rows);
}

function table(out: string[], header: Row, rows: readonly Row[]): void {
  out.push(`| ${header.join(' | ')} |`);
  out.push(`|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) out.push(`| ${r.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`);
}

/** One row: n/a (with the reason in the first section), or the value, or – when not run. */
function row(cols: readonly ColumnResults[], label: string, value: (c: ColumnResults) => string | undefined, withReason = false): Row {
  return [
    label,
    ...cols.map((c) => {
      if (c.unavailable) return withReason ? `n/a (${short(c.unavailable)})` : 'n/a';
      return value(c) ?? (Object.keys(c.failures).length > 0 ? 'error (see notes)' : '–');
    }),
  ];
}

function verdict(c: ColumnResults, index: number): string | undefined {
  if (c.unavailable) return undefined;
  const v = judge(c)[index]!;
  return v.met === undefined ? undefined : `${v.met ? 'met' : '**missed**'}: ${v.detail}`;
}

function short(reason: string): string {
  return reason.length > 80 ? `${reason.slice(0, 77)}…` : reason;
}

function counts(c: RequestCounts | undefined): string | undefined {
  return c && formatCounts(c);
}

export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

function medP99(s: Summary): string {
  return `${ms(s.median)} / ${ms(s.p99)}`;
}

function pct(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
}

function num(x: number | undefined): string | undefined {
  if (x === undefined) return undefined;
  return Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '–';
}
