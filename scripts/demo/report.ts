/**
 * The demo's printed output: the timeline (one column per instance, times in seconds since the
 * instances were started) and the summary.
 */
import { collectRuns, heldAt, TICK_LOCK, WORKER_LOCK, type DemoSummary, type RequestResult, type Takeover } from './analysis';
import type { DemoEvent } from './instance-process';

const TIME_WIDTH = 9;
const COLUMN_WIDTH = 32;

export interface TimelineInput {
  readonly t0: number;
  readonly instances: readonly string[];
  readonly events: readonly DemoEvent[];
  readonly requests: readonly RequestResult[];
  readonly takeovers: readonly Takeover[];
  /** Lock instance id -> demo instance name, for the holders named by 423 answers. */
  readonly owners: ReadonlyMap<string, string>;
  readonly deaths: ReadonlyMap<string, number>;
}

interface Row {
  readonly mono: number;
  readonly order: number;
  /** Column (instance) or undefined for a full-width line. */
  readonly instance: string | undefined;
  readonly text: string;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function clock(second: number): string {
  return new Date(second * 1000).toTimeString().slice(0, 8);
}

/** `A 200 #3`, `B 423 (held by A)`, `C failed: ...` */
export function describeRequest(r: RequestResult, owners: ReadonlyMap<string, string>): string {
  if (r.status >= 200 && r.status < 300) return `${r.instance} ${r.status} #${r.token ?? '?'}`;
  if (r.status === 423) {
    const holder = r.holderOwner ? owners.get(r.holderOwner) : undefined;
    return `${r.instance} 423 (held by ${holder ?? 'another instance'})`;
  }
  return `${r.instance} ${r.status === 0 ? `failed: ${r.error ?? 'no answer'}` : String(r.status)}`;
}

/** The requests of one round, as one line. */
export function describeRound(round: readonly RequestResult[], owners: ReadonlyMap<string, string>): string {
  const reports = [...new Set(round.map((r) => r.report))];
  const parts = reports.map((report) => {
    const list = round.filter((r) => r.report === report);
    return `POST /reports/${report} on ${list.map((r) => r.instance).join(', ')}: ${list.map((r) => describeRequest(r, owners)).join(', ')}`;
  });
  return parts.join('; ');
}

export function describeTakeover(t: Takeover): string {
  return `${t.to} took over '${t.lock}' ${seconds(t.afterMs)} after ${t.from} was killed, token ${t.tokenAfter} > ${t.tokenBefore}`;
}

export function formatTimeline(input: TimelineInput): string {
  const rows: Row[] = [];
  let order = 0;
  const add = (mono: number, instance: string | undefined, text: string): void => void rows.push({ mono, order: order++, instance, text });

  const runs = collectRuns(input.events, input.deaths);
  for (const run of runs) {
    if (run.job === 'tick') add(run.start, run.instance, `tick ${run.second === undefined ? '?' : clock(run.second)} ran #${run.token}`);
    else if (run.job === 'worker') {
      add(run.start, run.instance, `worker batch #${run.token} started`);
      const items = run.versions.length === 0 ? 'no item' : run.versions.length === 1 ? `item ${run.versions[0]}` : `items ${run.versions[0]}-${run.versions[run.versions.length - 1]}`;
      if (run.ended) add(run.end, run.instance, `worker #${run.token} ${run.outcome ?? 'ended'}: ${items}`);
      else if (input.deaths.has(run.instance)) add(run.end, run.instance, `KILLED mid-batch: ${items} done`);
    } else if (run.job === 'report') {
      add(run.start, run.instance, `${run.lock} #${run.token} started`);
      if (run.ended) add(run.end, run.instance, `${run.lock} #${run.token} done`);
    }
  }
  for (const e of input.events) {
    switch (e.event) {
      case 'listening':
        add(e.mono, e.instance, `up, port ${String(e.port)}`);
        break;
      case 'lost':
        if (e.reason !== 'closed') add(e.mono, e.instance, `LOST ${String(e.lock)} #${String(e.token)} (${String(e.reason)})`);
        break;
      case 'ledger.refused':
        add(e.mono, e.instance, `ledger REFUSED #${String(e.token)} < #${String(e.newestToken)}`);
        break;
      case 'worker.error':
        add(e.mono, e.instance, `worker error`);
        break;
      case 'storeError':
        add(e.mono, e.instance, `store error (${String(e.operation)})`);
        break;
      case 'kill': {
        const held = heldDescription(input.events, e.instance, e.mono);
        add(e.mono, undefined, `>>> SIGKILL ${e.instance} (pid ${String(e.pid)}) while it holds ${held}`);
        if (!runs.some((r) => r.instance === e.instance && r.job === 'worker' && !r.ended)) add(e.mono, e.instance, 'KILLED');
        break;
      }
      case 'exit':
        if (!input.deaths.has(e.instance) || input.deaths.get(e.instance) !== e.mono) break;
        add(e.mono, e.instance, e.signal === 'SIGKILL' ? 'gone' : `exited (${e.signal ? String(e.signal) : `code ${String(e.code)}`})`);
        break;
      case 'stop':
        add(e.mono, e.instance, 'SIGTERM: shutting down');
        break;
      default:
        break;
    }
  }
  const rounds = new Map<number, RequestResult[]>();
  for (const r of input.requests) rounds.set(r.round, [...(rounds.get(r.round) ?? []), r]);
  for (const round of rounds.values()) add(Math.min(...round.map((r) => r.sentAt)), undefined, `>>> ${describeRound(round, input.owners)}`);
  for (const t of input.takeovers) add(t.acquiredAt, undefined, `>>> ${describeTakeover(t)}`);

  // full-width lines first among rows of the same instant
  rows.sort((a, b) => a.mono - b.mono || Number(a.instance !== undefined) - Number(b.instance !== undefined) || a.order - b.order);
  const header = `${'time'.padStart(TIME_WIDTH - 2)}  ${input.instances.map((i) => i.padEnd(COLUMN_WIDTH)).join('')}`.trimEnd();
  const lines = [header, `${'-'.repeat(TIME_WIDTH - 2)}  ${input.instances.map(() => '-'.repeat(COLUMN_WIDTH - 2).padEnd(COLUMN_WIDTH)).join('')}`.trimEnd()];
  for (const row of rows) {
    const time = `${((row.mono - input.t0) / 1000).toFixed(2)}s`.padStart(TIME_WIDTH - 2);
    if (row.instance === undefined) {
      lines.push(`${time}  ${row.text}`);
      continue;
    }
    const column = input.instances.indexOf(row.instance);
    const cells = input.instances.map((_, k) => (k === column ? fit(row.text) : '').padEnd(COLUMN_WIDTH));
    lines.push(`${time}  ${cells.join('')}`.trimEnd());
  }
  return lines.join('\n');
}

export function formatSummary(summary: DemoSummary, context: { store: string; ttlMs: number; t0: number }): string {
  const out: string[] = [];
  const label = (name: string): string => `  ${name.padEnd(16)} `;
  const line = (name: string, text: string): void => void out.push(`${label(name)}${text}`);
  const more = (text: string): void => void out.push(`${' '.repeat(19)}${text}`);

  out.push('Summary');
  line('store', `${context.store}, lock TTL ${seconds(context.ttlMs)}`);
  const instance = (i: DemoSummary['instances'][number]): string => {
    const kill = summary.kills.find((k) => k.instance === i.name);
    return `${i.name} (pid ${i.pid ?? '?'}${kill ? `, SIGKILLed at ${((kill.at - context.t0) / 1000).toFixed(1)} s` : ''})`;
  };
  line('instances', summary.instances.map(instance).join(', '));
  const t = summary.ticks;
  if (t.firstSecond === undefined) line(`cron ${TICK_LOCK}`, 'no tick ran');
  else {
    line(`cron ${TICK_LOCK}`, `${t.seen} ticks seen (${clock(t.firstSecond)} to ${clock(t.lastSecond!)}), ${t.runs} runs: ${t.duplicates.length === 0 ? 'each tick ran exactly once' : 'SOME TICKS RAN MORE THAN ONCE'}`);
    more(`duplicates: ${t.duplicates.length}   missed: ${t.missed.length}${t.missed.length > 0 ? ` (${t.missed.map(clock).join(', ')})` : ''}   runs per instance: ${Object.entries(t.perInstance).map(([i, n]) => `${i} ${n}`).join(', ')}`);
  }
  if (summary.kills.length === 0) line('takeover', 'no instance was killed');
  for (const k of summary.kills) {
    const ts = summary.takeovers.filter((x) => x.from === k.instance);
    if (ts.length === 0) line('takeover', `NONE: nobody took over from ${k.instance}`);
    for (const x of ts) line('takeover', describeTakeover(x));
  }
  const increasing = summary.tokens.every((s) => s.violations.length === 0);
  line('fencing tokens', increasing ? 'strictly increasing, run after run, for every lock:' : 'NOT INCREASING for some lock:');
  for (const s of summary.tokens) {
    more(`${`'${s.lock}'`.padEnd(16)} ${`#${s.first} .. #${s.last}`.padEnd(12)} ${String(s.runs).padStart(3)} run(s)${s.violations.length > 0 ? `  ${s.violations.length} VIOLATION(S)` : ''}`);
  }
  line('overlaps', summary.overlaps.length === 0 ? '0: no two runs under one lock were ever at the same time' : `${summary.overlaps.length}: ${summary.overlaps.map((o) => `'${o.lock}' ${o.first.instance} #${o.first.token} / ${o.second.instance} #${o.second.token}`).join('; ')}`);
  const l = summary.ledger;
  line(
    'fenced ledger',
    `${l.writes} queue items written (${l.firstVersion ?? '-'}..${l.lastVersion ?? '-'}; ${Object.entries(l.byInstance).sort(([a], [b]) => a.localeCompare(b)).map(([i, n]) => `${i} ${n}`).join(', ') || 'none'}), tokens never decreased: ${l.tokensNeverDecreased ? 'yes' : 'NO'}, refused writes: ${l.refused}`,
  );
  line('requests', `${summary.requests.sent} sent: ${Object.entries(summary.requests.byStatus).map(([s, n]) => `${s} x${n}`).join(', ') || 'none'}`);
  if (summary.lostLeases.length > 0) line('leases lost', summary.lostLeases.map((x) => `${x.instance} '${x.lock}' #${x.token} (${x.reason})`).join(', '));
  out.push('');
  if (summary.ok) {
    out.push(`RESULT: PASS  duplicates 0, overlaps 0, takeover seen, fencing tokens increasing`);
  } else {
    out.push('RESULT: FAIL');
    for (const f of summary.failures) out.push(`  - ${f}`);
  }
  return out.join('\n');
}

/** `'queue-worker' #37 (batch in progress)` for the locks `instance` held at `at`. */
function heldDescription(events: readonly DemoEvent[], instance: string, at: number): string {
  const held = heldAt(events, instance, at);
  if (held.length === 0) return 'no lock';
  return held.map((h) => `'${h.lock}' #${h.token}${h.lock === WORKER_LOCK ? ' (batch in progress)' : ''}`).join(' and ');
}

function fit(text: string): string {
  return text.length < COLUMN_WIDTH ? text : `${text.slice(0, COLUMN_WIDTH - 2)}…`;
}
