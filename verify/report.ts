/** The summary of a verification: a table on stdout and a JSON document. */
import type { CheckResult, Distribution } from './checker';
import { VIOLATION_RULES } from './checker';
import { FAULT_KINDS } from './fault-proxy';
import type { ProtocolRun, VerifyOptions } from './runner';

export interface SummaryRow {
  readonly protocol: string;
  readonly status: 'PASS' | 'FAIL' | 'SKIPPED';
  readonly skipped?: string;
  readonly dir: string;
  readonly seconds?: number;
  readonly workers?: number;
  readonly skewedWorkers?: number;
  readonly requests?: number;
  readonly acquireAttempts?: number;
  readonly attemptsByOutcome?: Readonly<Record<string, number>>;
  readonly criticalSections?: number;
  /** Critical sections by kind (lock, permit, multi, term), and per lock name (a multi-name section once per name). */
  readonly sectionsByKind?: Readonly<Record<string, number>>;
  readonly lockSections?: number;
  /** Semaphores and their permits; most holders seen at once; moments over capacity that were excused. */
  readonly semaphores?: Readonly<Record<string, number>>;
  readonly semaphorePeakHolders?: Readonly<Record<string, number>>;
  readonly capacityOverlapsExcused?: number;
  readonly worstOverrunByKind?: Readonly<Record<string, number | null>>;
  readonly lossesByReason?: Readonly<Record<string, number>>;
  readonly faults?: Readonly<Record<string, number>>;
  readonly pauses?: number;
  readonly violations?: number;
  readonly violationsByRule?: Readonly<Record<string, number>>;
  readonly firstViolations?: readonly string[];
  readonly fencedWrites?: { readonly accepted: number; readonly rejected: number };
  readonly staleWritesRejected?: number;
  readonly pausedOverlapsExcused?: number;
  readonly forceReleaseOverlapsExcused?: number;
  readonly lossOverlapsExcused?: number;
  readonly forcedInversionsExcused?: number;
  readonly sameSecondLossesExcused?: number;
  readonly lossOverrunsExcused?: number;
  readonly schedules?: readonly string[];
  /** Operator actions by kind, force releases also by trigger (random / claim) and by result. */
  readonly operations?: Readonly<Record<string, number>>;
  readonly foreign?: { readonly prefix: string; readonly names: number; readonly strayKeys: number; readonly refused?: string };
  readonly worstLossAfterResumeMs?: number | null;
  readonly resumedBeforeLoss?: { readonly sections: number; readonly writes: number; readonly writesAccepted: number };
  readonly handOffMs?: Distribution;
  readonly takeoverMs?: Distribution;
  readonly worstAcquireOverrunMs?: number | null;
  readonly worstTryAcquireMs?: number | null;
  readonly bounds?: { readonly acquireSlackMs: number; readonly attemptBoundMs: number; readonly lossAfterResumeMs: number };
}

export interface Summary {
  readonly store: string;
  readonly endpoint: string;
  readonly options: VerifyOptions;
  readonly ok: boolean;
  readonly runs: readonly SummaryRow[];
}

export function summaryRow(r: ProtocolRun): SummaryRow {
  if (r.skipped || !r.run || !r.check) return { protocol: r.protocol, status: 'SKIPPED', skipped: r.skipped ?? 'not run', dir: r.dir };
  const { run, check } = r;
  const s = check.stats;
  return {
    protocol: r.protocol,
    status: check.ok ? 'PASS' : 'FAIL',
    dir: r.dir,
    seconds: run.seconds,
    workers: run.workers.length,
    skewedWorkers: run.workers.filter((w) => w.skewMs !== 0).length,
    requests: run.faultCounts.requests ?? 0,
    acquireAttempts: s.attempts,
    attemptsByOutcome: s.attemptsByOutcome,
    criticalSections: s.sections,
    sectionsByKind: s.sectionsByKind,
    lockSections: s.lockSections,
    semaphores: run.semaphores ?? {},
    semaphorePeakHolders: s.semaphorePeakHolders,
    capacityOverlapsExcused: s.capacityOverlapsExcused,
    worstOverrunByKind: Object.fromEntries(Object.entries(s.worstOverrunByKind ?? {}).map(([k, v]) => [k, v === null ? null : Math.round(v)])),
    lossesByReason: s.lossesByReason,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, run.faultCounts[k] ?? 0])),
    pauses: run.pauses.length,
    violations: check.violations.length,
    violationsByRule: check.violationsByRule,
    firstViolations: check.violations.slice(0, 20).map((v) => `[${v.rule}] ${v.message}`),
    fencedWrites: { accepted: run.resource.accepted, rejected: run.resource.rejected },
    staleWritesRejected: run.resource.rejected,
    pausedOverlapsExcused: s.pausedOverlapsExcused,
    forceReleaseOverlapsExcused: s.forceReleaseOverlapsExcused,
    lossOverlapsExcused: s.lossOverlapsExcused,
    forcedInversionsExcused: s.forcedInversionsExcused,
    sameSecondLossesExcused: s.sameSecondLossesExcused,
    lossOverrunsExcused: s.lossOverrunsExcused,
    schedules: run.schedules ?? [],
    operations: operationCounts(run),
    ...(run.foreign ? { foreign: run.foreign } : {}),
    worstLossAfterResumeMs: s.worstLossAfterResumeMs === null ? null : Math.round(s.worstLossAfterResumeMs),
    resumedBeforeLoss: s.resumedBeforeLoss,
    handOffMs: s.handOffMs,
    takeoverMs: s.takeoverMs,
    worstAcquireOverrunMs: s.worstAcquireOverrunMs === null ? null : Math.round(s.worstAcquireOverrunMs),
    worstTryAcquireMs: s.worstTryAcquireMs === null ? null : Math.round(s.worstTryAcquireMs),
    bounds: run.bounds,
  };
}

function operationCounts(run: NonNullable<ProtocolRun['run']>): Record<string, number> {
  const ops = run.operations ?? [];
  const n = (f: (o: (typeof ops)[number]) => boolean): number => ops.filter(f).length;
  return {
    'force-release': n((o) => o.kind === 'force-release'),
    'force-release at a claim': n((o) => o.kind === 'force-release' && o.trigger === 'claim'),
    'force-release that ended a lease': n((o) => o.kind === 'force-release' && o.result === true),
    wipe: n((o) => o.kind === 'wipe'),
    'recreate-bucket': n((o) => o.kind === 'recreate-bucket'),
    'failed operations': n((o) => o.error !== undefined),
  };
}

const dist = (d: Distribution | undefined): string => (!d || d.count === 0 ? '-' : `${d.max} (p50 ${d.p50}, p95 ${d.p95}, n ${d.count})`);
const kv = (o: Readonly<Record<string, number>> | undefined, keys?: readonly string[]): string =>
  !o ? '-' : (keys ?? Object.keys(o)).filter((k) => (o[k] ?? 0) > 0 || keys).map((k) => `${k} ${o[k] ?? 0}`).join(', ') || '0';

/** `sem 2/2` per semaphore: most holders seen at once / permits. */
function kvPeak(r: SummaryRow): string {
  const names = Object.keys(r.semaphores ?? {});
  if (names.length === 0) return '-';
  return names.map((n) => `${n} ${r.semaphorePeakHolders?.[n] ?? 0}/${r.semaphores![n]}`).join(', ');
}

/** A two-column-per-protocol table for stdout. */
export function formatSummary(summary: Summary): string {
  const rows = summary.runs;
  const line = (label: string, f: (r: SummaryRow) => string): string[] => [label, ...rows.map((r) => (r.status === 'SKIPPED' ? (label === 'status' ? 'SKIPPED' : '') : f(r)))];
  const table: string[][] = [
    ['', ...rows.map((r) => r.protocol)],
    line('status', (r) => r.status),
    line('seconds', (r) => String(r.seconds)),
    line('workers (clock skewed ±1 h)', (r) => `${r.workers} (${r.skewedWorkers})`),
    line('S3 requests through the proxy', (r) => String(r.requests)),
    line('acquire attempts', (r) => String(r.acquireAttempts)),
    line('  outcomes', (r) => kv(r.attemptsByOutcome)),
    line('critical sections', (r) => String(r.criticalSections)),
    line('  by kind (lock / permit / multi-name / term)', (r) => ['lock', 'permit', 'multi', 'term'].map((k) => String(r.sectionsByKind?.[k] ?? (k === 'lock' ? r.criticalSections : 0))).join(' / ')),
    line('  sections per lock name (multi-name: each name)', (r) => String(r.lockSections ?? r.criticalSections)),
    line('  semaphore peak holders / permits', (r) => kvPeak(r)),
    line('  losses signalled', (r) => kv(r.lossesByReason)),
    line('faults injected', (r) => String(Object.entries(r.faults ?? {}).filter(([k]) => k !== 'latency').reduce((a, [, v]) => a + v, 0))),
    ...FAULT_KINDS.map((k) => line(`  ${k}`, (r) => String(r.faults?.[k] ?? 0))),
    line('  SIGSTOP pauses > TTL', (r) => String(r.pauses)),
    line('schedules', (r) => (r.schedules && r.schedules.length > 0 ? r.schedules.join(',') : 'none')),
    line('operator: force releases (at claims / ended a lease)', (r) => `${r.operations?.['force-release'] ?? 0} (${r.operations?.['force-release at a claim'] ?? 0} / ${r.operations?.['force-release that ended a lease'] ?? 0})`),
    line('operator: wipes / bucket re-creations / failed', (r) => `${r.operations?.wipe ?? 0} / ${r.operations?.['recreate-bucket'] ?? 0} / ${r.operations?.['failed operations'] ?? 0}`),
    line('foreign names / stray keys', (r) => (r.foreign ? `${r.foreign.names} / ${r.foreign.strayKeys}${r.foreign.refused ? ' (manager refused)' : ''}` : '-')),
    line('violations', (r) => String(r.violations)),
    ...VIOLATION_RULES.map((k) => line(`  ${k}`, (r) => String(r.violationsByRule?.[k] ?? 0))),
    line('fenced writes accepted', (r) => String(r.fencedWrites?.accepted)),
    line('stale writes rejected', (r) => String(r.staleWritesRejected)),
    line('paused-holder overlaps (fenced)', (r) => String(r.pausedOverlapsExcused)),
    line('force-released overlaps (< 1 TTL)', (r) => String(r.forceReleaseOverlapsExcused ?? 0)),
    line('overlaps after record loss (< 1 TTL)', (r) => String(r.lossOverlapsExcused ?? 0)),
    line('token inversions, force release in flight', (r) => String(r.forcedInversionsExcused ?? 0)),
    line('token repeats/inversions, loss in a base second', (r) => String(r.sameSecondLossesExcused ?? 0)),
    line('attempts past their bound during record loss', (r) => String(r.lossOverrunsExcused ?? 0)),
    line('semaphore over capacity, stale holder excused', (r) => String(r.capacityOverlapsExcused ?? 0)),
    line('worst loss signal after SIGCONT ms', (r) => (r.worstLossAfterResumeMs === null ? '-' : String(r.worstLossAfterResumeMs))),
    line('resumed before loss signal (sections/writes)', (r) => `${r.resumedBeforeLoss?.sections ?? 0}/${r.resumedBeforeLoss?.writes ?? 0}`),
    line('worst hand-off ms (release->next)', (r) => dist(r.handOffMs)),
    line('worst takeover ms (stop->next)', (r) => dist(r.takeoverMs)),
    line('worst acquire overrun ms (past waitMs)', (r) => (r.worstAcquireOverrunMs === null || r.worstAcquireOverrunMs === undefined ? '-' : String(r.worstAcquireOverrunMs))),
    line('slowest single attempt ms (tryAcquire, waitMs 0)', (r) => (r.worstTryAcquireMs === null || r.worstTryAcquireMs === undefined ? '-' : String(r.worstTryAcquireMs))),
    line('worst overrun ms, permit / multi-name', (r) => ['permit', 'multi'].map((k) => (r.worstOverrunByKind?.[k] ?? null) === null ? '-' : String(r.worstOverrunByKind![k])).join(' / ')),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  const out: string[] = [];
  out.push(`nestjs-s3-lock verification: store ${summary.store} (${summary.endpoint}), ttl ${summary.options.ttlMs} ms, ${summary.options.workers} workers x ${summary.options.loops} loops, ${summary.options.names} names, faults ${summary.options.faults ? 'on' : 'off'}, seed ${summary.options.seed}`);
  const b = rows.find((r) => r.bounds)?.bounds;
  if (b) out.push(`bounds: acquire()/using() within waitMs + ${b.acquireSlackMs} ms, tryAcquire() within ${b.attemptBoundMs} ms, loss signal within ${b.lossAfterResumeMs} ms of SIGCONT`);
  out.push('');
  for (const row of table) out.push(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  for (const r of rows) {
    if (r.status === 'SKIPPED') out.push('', `${r.protocol}: SKIPPED: ${r.skipped}`);
    if (r.firstViolations && r.firstViolations.length > 0) {
      out.push('', `${r.protocol}: ${r.violations} violation(s), first ${r.firstViolations.length}:`);
      for (const v of r.firstViolations) out.push(`  ${v}`);
    }
    out.push('', `${r.protocol}: logs in ${r.dir}`);
  }
  out.push('', summary.ok ? 'RESULT: PASS' : 'RESULT: FAIL');
  return out.join('\n');
}

export function isPass(result: CheckResult | undefined): boolean {
  return result?.ok === true;
}
