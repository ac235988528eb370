/**
 * Checks what the instances reported (pure functions, no I/O): every cron tick ran once, no two
 * runs under one lock overlapped in time, fencing tokens only grew, the killed instance's lock was
 * taken over, the fenced ledger never went back to a lower token.
 *
 * Runs are the `run.start` / `run.end` lines the sample prints inside the locked method: `run.end`
 * is printed before the release is sent and `run.start` after the acquisition returned, so runs
 * under one lock are disjoint on the machine's monotonic clock whenever the lock works. A run
 * without `run.end` ends when its process was killed or exited.
 */
import type { DemoEvent } from './instance-process';

export const TICK_LOCK = 'tick-job';
export const WORKER_LOCK = 'queue-worker';

/** One HTTP request the demo sent to an instance. */
export interface RequestResult {
  readonly round: number;
  readonly instance: string;
  readonly report: string;
  /** HTTP status, or 0 when the request failed. */
  readonly status: number;
  readonly token?: number;
  /** Lock instance id of the holder named by a 423. */
  readonly holderOwner?: string;
  readonly error?: string;
  readonly sentAt: number;
  readonly doneAt: number;
}

export interface Run {
  readonly instance: string;
  readonly job: string;
  readonly lock: string;
  readonly token: number;
  readonly start: number;
  end: number;
  /** false: the process died before `run.end`; `end` is its death. */
  ended: boolean;
  readonly second?: number;
  outcome?: string;
  items?: number;
  /** Ledger versions written in this run. */
  readonly versions: number[];
}

export interface Takeover {
  readonly lock: string;
  readonly from: string;
  readonly to: string;
  readonly killedAt: number;
  readonly acquiredAt: number;
  readonly afterMs: number;
  readonly tokenBefore: number;
  readonly tokenAfter: number;
}

export interface Overlap {
  readonly lock: string;
  readonly first: { instance: string; token: number };
  readonly second: { instance: string; token: number };
  readonly overlapMs: number;
}

export interface TokenSeries {
  readonly lock: string;
  readonly runs: number;
  readonly first: number;
  readonly last: number;
  /** Runs in time order whose token was not above the previous run's. */
  readonly violations: { previous: number; token: number; instance: string }[];
}

export interface DemoSummary {
  readonly ok: boolean;
  readonly failures: string[];
  readonly instances: { name: string; pid: number | undefined; killed: boolean; exit: string }[];
  readonly ticks: {
    readonly seen: number;
    readonly runs: number;
    readonly firstSecond: number | undefined;
    readonly lastSecond: number | undefined;
    readonly duplicates: number[];
    readonly missed: number[];
    readonly perInstance: Record<string, number>;
  };
  readonly overlaps: Overlap[];
  readonly tokens: TokenSeries[];
  readonly takeovers: Takeover[];
  /** Instances killed, with the locks they held at that moment. */
  readonly kills: { instance: string; at: number; held: { lock: string; token: number }[] }[];
  readonly requests: { sent: number; byStatus: Record<string, number> };
  readonly ledger: { writes: number; refused: number; firstVersion: number | undefined; lastVersion: number | undefined; tokensNeverDecreased: boolean; byInstance: Record<string, number> };
  readonly lostLeases: { instance: string; lock: string; token: number; reason: string }[];
  readonly crashed: string[];
}

export interface AnalysisInput {
  readonly events: readonly DemoEvent[];
  readonly requests: readonly RequestResult[];
  /** Instances with their pid and how they ended. */
  readonly instances: readonly { name: string; pid: number | undefined; killedAt: number | undefined; stopRequested: boolean; exitCode: number | null; exitSignal: string | null; exitedAt: number | undefined }[];
}

/** The runs, in start order. */
export function collectRuns(events: readonly DemoEvent[], deaths: ReadonlyMap<string, number>): Run[] {
  const open = new Map<string, Run>();
  const runs: Run[] = [];
  const key = (instance: string, lock: string, token: number): string => `${instance}\u0000${lock}\u0000${token}`;
  for (const e of events) {
    if ((e.event === 'run.start' || e.event === 'run.end') && typeof e.lock === 'string' && typeof e.token === 'number') {
      const k = key(e.instance, e.lock, e.token);
      if (e.event === 'run.start') {
        const run: Run = {
          instance: e.instance,
          job: String(e.job),
          lock: e.lock,
          token: e.token,
          start: e.mono,
          end: Number.POSITIVE_INFINITY,
          ended: false,
          second: typeof e.second === 'number' ? e.second : undefined,
          versions: [],
        };
        open.set(k, run);
        runs.push(run);
      } else {
        const run = open.get(k);
        if (run) {
          run.end = e.mono;
          run.ended = true;
          run.outcome = typeof e.outcome === 'string' ? e.outcome : undefined;
          run.items = typeof e.items === 'number' ? e.items : undefined;
          open.delete(k);
        }
      }
    } else if (e.event === 'ledger.write' && typeof e.lock === 'string' && typeof e.token === 'number' && typeof e.version === 'number') {
      open.get(key(e.instance, e.lock, e.token))?.versions.push(e.version);
    }
  }
  for (const run of open.values()) run.end = deaths.get(run.instance) ?? Number.POSITIVE_INFINITY;
  return runs.sort((a, b) => a.start - b.start);
}

export function analyze(input: AnalysisInput): DemoSummary {
  const events = [...input.events].sort((a, b) => a.mono - b.mono);
  const deaths = new Map<string, number>();
  for (const i of input.instances) {
    const died = i.killedAt ?? i.exitedAt;
    if (died !== undefined) deaths.set(i.name, died);
  }
  const runs = collectRuns(events, deaths);
  const failures: string[] = [];

  // ---- cron ticks: one run per second
  const tickRuns = runs.filter((r) => r.lock === TICK_LOCK && r.second !== undefined);
  const bySecond = new Map<number, Run[]>();
  for (const r of tickRuns) bySecond.set(r.second!, [...(bySecond.get(r.second!) ?? []), r]);
  const seconds = [...bySecond.keys()].sort((a, b) => a - b);
  const firstSecond = seconds[0];
  const lastSecond = seconds[seconds.length - 1];
  const duplicates = seconds.filter((s) => bySecond.get(s)!.length > 1);
  const missed: number[] = [];
  if (firstSecond !== undefined && lastSecond !== undefined) {
    for (let s = firstSecond; s <= lastSecond; s++) if (!bySecond.has(s)) missed.push(s);
  }
  const perInstance: Record<string, number> = {};
  for (const i of input.instances) perInstance[i.name] = 0;
  for (const r of tickRuns) perInstance[r.instance] = (perInstance[r.instance] ?? 0) + 1;
  if (tickRuns.length === 0) failures.push(`no run of the cron job '${TICK_LOCK}' was seen`);
  if (duplicates.length > 0) failures.push(`${duplicates.length} cron tick(s) ran more than once: ${duplicates.map((s) => `${s} (${bySecond.get(s)!.map((r) => `${r.instance} #${r.token}`).join(', ')})`).join('; ')}`);

  // ---- overlaps and token order, per lock
  const byLock = new Map<string, Run[]>();
  for (const r of runs) byLock.set(r.lock, [...(byLock.get(r.lock) ?? []), r]);
  const overlaps: Overlap[] = [];
  const tokens: TokenSeries[] = [];
  for (const [lock, list] of [...byLock.entries()].sort(([a], [b]) => lockOrder(a) - lockOrder(b) || a.localeCompare(b))) {
    let latest: Run | undefined;
    const violations: TokenSeries['violations'] = [];
    let previous: Run | undefined;
    for (const r of list) {
      if (latest && r.start < latest.end) {
        overlaps.push({ lock, first: { instance: latest.instance, token: latest.token }, second: { instance: r.instance, token: r.token }, overlapMs: Math.min(latest.end, r.end) - r.start });
      }
      if (!latest || r.end > latest.end) latest = r;
      if (previous && r.token <= previous.token) violations.push({ previous: previous.token, token: r.token, instance: r.instance });
      previous = r;
    }
    tokens.push({ lock, runs: list.length, first: list[0]!.token, last: list[list.length - 1]!.token, violations });
  }
  if (overlaps.length > 0) {
    failures.push(`${overlaps.length} overlap(s): ${overlaps.map((o) => `'${o.lock}' ${o.first.instance} #${o.first.token} and ${o.second.instance} #${o.second.token} (${o.overlapMs.toFixed(1)} ms)`).join('; ')}`);
  }
  for (const t of tokens) {
    if (t.violations.length > 0) failures.push(`fencing tokens of '${t.lock}' did not increase: ${t.violations.map((v) => `#${v.token} (${v.instance}) after #${v.previous}`).join(', ')}`);
  }

  // ---- kills and takeovers
  const kills: DemoSummary['kills'] = [];
  const takeovers: Takeover[] = [];
  for (const i of input.instances) {
    if (i.killedAt === undefined) continue;
    const held = heldAt(events, i.name, i.killedAt);
    kills.push({ instance: i.name, at: i.killedAt, held });
    for (const h of held) {
      const next = events.find((e) => e.event === 'acquired' && e.lock === h.lock && e.instance !== i.name && e.mono > i.killedAt!);
      if (next && typeof next.token === 'number') {
        takeovers.push({ lock: h.lock, from: i.name, to: next.instance, killedAt: i.killedAt, acquiredAt: next.mono, afterMs: next.mono - i.killedAt, tokenBefore: h.token, tokenAfter: next.token });
      } else {
        failures.push(`nobody took over '${h.lock}' after ${i.name} was killed holding it`);
      }
    }
    if (held.length === 0) failures.push(`${i.name} was killed while holding no lock: nothing to take over`);
  }
  for (const t of takeovers) {
    if (t.tokenAfter <= t.tokenBefore) failures.push(`takeover of '${t.lock}' by ${t.to}: token ${t.tokenAfter} is not above ${t.tokenBefore}`);
  }

  // ---- fenced ledger
  const writes = events.filter((e) => e.event === 'ledger.write' && typeof e.version === 'number' && typeof e.token === 'number').sort((a, b) => (a.version as number) - (b.version as number));
  let tokensNeverDecreased = true;
  const ledgerBy: Record<string, number> = {};
  for (let k = 0; k < writes.length; k++) {
    const w = writes[k]!;
    ledgerBy[w.instance] = (ledgerBy[w.instance] ?? 0) + 1;
    if (k > 0 && (w.token as number) < (writes[k - 1]!.token as number)) tokensNeverDecreased = false;
  }
  const refused = events.filter((e) => e.event === 'ledger.refused').length;
  if (!tokensNeverDecreased) failures.push('the fenced ledger accepted an entry with a lower token than the one before');

  // ---- requests
  const byStatus: Record<string, number> = {};
  for (const r of input.requests) {
    const k = r.status === 0 ? 'failed' : String(r.status);
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }

  // ---- leases lost and processes that died on their own
  const lostLeases = events
    .filter((e) => e.event === 'lost' && e.reason !== 'closed')
    .map((e) => ({ instance: e.instance, lock: String(e.lock), token: Number(e.token), reason: String(e.reason) }));
  const crashed = input.instances.filter((i) => i.killedAt === undefined && !i.stopRequested && i.exitedAt !== undefined).map((i) => i.name);
  if (crashed.length > 0) failures.push(`instance(s) exited on their own: ${crashed.join(', ')}`);

  return {
    ok: failures.length === 0,
    failures,
    instances: input.instances.map((i) => ({
      name: i.name,
      pid: i.pid,
      killed: i.killedAt !== undefined,
      exit: i.exitedAt === undefined ? 'running' : i.exitSignal ? i.exitSignal : `code ${String(i.exitCode)}`,
    })),
    ticks: { seen: seconds.length, runs: tickRuns.length, firstSecond, lastSecond, duplicates, missed, perInstance },
    overlaps,
    tokens,
    takeovers,
    kills,
    requests: { sent: input.requests.length, byStatus },
    ledger: { writes: writes.length, refused, firstVersion: writes[0]?.version as number | undefined, lastVersion: writes[writes.length - 1]?.version as number | undefined, tokensNeverDecreased, byInstance: ledgerBy },
    lostLeases,
    crashed,
  };
}

/** Locks `instance` held at `at`: acquired and neither released nor lost since. */
export function heldAt(events: readonly DemoEvent[], instance: string, at: number): { lock: string; token: number }[] {
  const held = new Map<string, number>();
  for (const e of events) {
    if (e.mono > at) break;
    if (e.instance !== instance || typeof e.lock !== 'string') continue;
    if (e.event === 'acquired' && typeof e.token === 'number') held.set(e.lock, e.token);
    else if ((e.event === 'released' || e.event === 'lost') && held.get(e.lock) === e.token) held.delete(e.lock);
  }
  return [...held.entries()].map(([lock, token]) => ({ lock, token }));
}

/** tick-job, queue-worker, then the reports. */
function lockOrder(lock: string): number {
  return lock === TICK_LOCK ? 0 : lock === WORKER_LOCK ? 1 : 2;
}
