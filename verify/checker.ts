/**
 * Judges the history of a verification run. Reads only the JSON the workers and the runner wrote
 * (see ./history.ts); it imports nothing from the engine.
 *
 * Rules (docs/verification.md explains each):
 *  - mutual-exclusion   no two critical sections of one name overlap, unless the loss signal of the
 *                       stale one (lower token) fired before the overlap began. Belief ends at
 *                       min(end, lossAt). Excused: the stale holder was SIGSTOPped (before the
 *                       other section started) and its signal fired within `lossAfterResumeMs` of
 *                       SIGCONT: its lease ran out while it could not run.
 *  - fencing-order      fencing tokens strictly increase in start order per name (a section whose
 *                       worker was paused when the higher-token section started is excused).
 *  - acquire-overrun    no acquire()/using() takes longer than its waitMs + `acquireSlackMs`, no
 *                       tryAcquire() longer than `attemptBoundMs` (time the worker spent SIGSTOPped
 *                       is not counted).
 *  - loss-not-signalled a section whose lease was taken over (a higher-token section started while
 *                       it was running, or the resource rejected one of its writes) has a loss time.
 *  - acquired-not-held  acquire()/tryAcquire() never resolve with a lease that is already dead
 *                       (isHeld false), unless the worker was paused meanwhile.
 *  - crash              every worker exited 0 by itself and logged no unhandled rejection,
 *                       uncaught exception or error of a type the API does not throw.
 *  - loss-unnoticed     after a record loss (a wipe of the prefix, the bucket deleted and
 *                       re-created), at most one holder of a name still believes one TTL (plus
 *                       `interferenceSlackMs`) after the loss ended: every other one's belief ended.
 *  - fencing-after-loss every token granted after a record loss exceeds every token granted before it.
 *  - early-takeover     no lease is taken over while its last confirmed write (the grant or a
 *                       renewal) may be younger than the TTL: that write was sent at or after a
 *                       bound the worker observed, and a higher token started before bound + TTL.
 *  - semaphore-capacity never more than `permits` holders of a semaphore believe they hold a permit
 *                       at once (run.semaphores), with the excuses of mutual-exclusion for each
 *                       stale holder (paused, force-released, across a record loss); and a permit
 *                       section's permit is one of the semaphore's (0 <= permit < permits) and its
 *                       lock name is that permit's (`<semaphore>#permit-<permit>`).
 *
 * Sections of every kind (history.ts, SectionKind) are judged by the per-name rules above under a
 * lock name:
 *  - a permit section under its permit's lock name `<semaphore>#permit-<i>`: mutual exclusion and
 *    fencing order per permit (tokens of different permits are unrelated);
 *  - a multi-name section under each of its names, with that name's token, lease, loss time and
 *    writes (lockSections): no overlap with any other holder of any of its names, tokens
 *    increasing per name. acquire-overrun bounds a multi-name using() by its waitMs + slack plus,
 *    per further name, one single attempt, plus one for the releases of a failed round: callers
 *    in a deadlock never return, and break that bound;
 *  - an election term under the election's name: at most one leader at a time is
 *    mutual-exclusion, term tokens increasing is fencing-order.
 * A permit attempt may try each permit once per round (and settle the permits with the store at a
 * manager's first use): its bound adds one single attempt per further permit (and four requests).
 *
 * Operator interference (run.operations): an overlap with a holder that was force-released, or that
 * held across a record loss, is excused when the stale holder's belief ended within one TTL (plus
 * `interferenceSlackMs`) of the end of the operation; such overlaps are counted, not reported.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SECTION_KINDS, type AttemptOutcome, type AttemptRecord, type CrashRecord, type DoneRecord, type History, type OperationRecord, type PauseRecord, type RunRecord, type SectionKind, type SectionRecord, type WorkerLogRecord } from './history';

export type ViolationRule =
  | 'mutual-exclusion'
  | 'fencing-order'
  | 'acquire-overrun'
  | 'loss-not-signalled'
  | 'acquired-not-held'
  | 'crash'
  | 'loss-unnoticed'
  | 'fencing-after-loss'
  | 'early-takeover'
  | 'semaphore-capacity';

export const VIOLATION_RULES: readonly ViolationRule[] = [
  'mutual-exclusion',
  'fencing-order',
  'acquire-overrun',
  'loss-not-signalled',
  'acquired-not-held',
  'crash',
  'loss-unnoticed',
  'fencing-after-loss',
  'early-takeover',
  'semaphore-capacity',
];

/** Used when an older run.json has no such bound. */
const DEFAULT_INTERFERENCE_SLACK_MS = 500;

export interface Violation {
  readonly rule: ViolationRule;
  readonly name?: string;
  /** When it happened (monotonic ms). */
  readonly at?: number;
  readonly pids?: readonly number[];
  readonly tokens?: ReadonlyArray<number | null>;
  readonly message: string;
}

export interface Distribution {
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

export interface CheckStats {
  /** Critical sections logged (a multi-name section counts once). */
  readonly sections: number;
  /** Critical sections by kind: lock, permit, multi(-name), term (of the election). */
  readonly sectionsByKind: Readonly<Record<SectionKind, number>>;
  /** Sections per lock name as the per-name rules judge them (a multi-name section once per name). */
  readonly lockSections: number;
  readonly sectionsByApi: Readonly<Record<string, number>>;
  readonly attempts: number;
  readonly attemptsByOutcome: Readonly<Record<AttemptOutcome, number>>;
  readonly lossesByReason: Readonly<Record<string, number>>;
  readonly writes: { readonly total: number; readonly accepted: number; readonly rejected: number; readonly failed: number };
  /** Overlaps of a SIGSTOPped holder with its successor, excused because its signal fired right after SIGCONT. */
  readonly pausedOverlapsExcused: number;
  /** Latest a paused holder's loss signal fired after SIGCONT, ms. */
  readonly worstLossAfterResumeMs: number | null;
  /** Overlaps with a force-released holder whose belief ended within one TTL of the force release. */
  readonly forceReleaseOverlapsExcused: number;
  /** Overlaps after a record loss that ended within one TTL of it. */
  readonly lossOverlapsExcused: number;
  /**
   * Token inversions excused because a force release of the name began while the lower-token
   * acquisition was in flight and ended before the higher token's section started (an answer
   * produced before the force release and delivered after it: docs/protocol.md, "Force release").
   */
  readonly forcedInversionsExcused: number;
  /**
   * Token inversions or repeats across a record loss between generations whose bases were taken in
   * the same second of the store's clock: the documented exception (docs/protocol.md, "Record
   * loss": Dates have 1 s resolution), not a violation.
   */
  readonly sameSecondLossesExcused: number;
  /** Attempts over their time bound that overlapped a record loss (+ TTL): the store did not answer then. */
  readonly lossOverrunsExcused: number;
  /** Moments a semaphore had more believing holders than permits, all excused (a stale holder paused, force-released or across a record loss). */
  readonly capacityOverlapsExcused: number;
  /** Most holders of each semaphore at once (excused stale holders included). */
  readonly semaphorePeakHolders: Readonly<Record<string, number>>;
  /** Operator actions by kind (force-release, wipe, recreate-bucket). */
  readonly operations: Readonly<Record<string, number>>;
  /**
   * Sections paused past their lease that went on after SIGCONT (finished, or wrote) before their
   * loss signal fired: the event loop runs pending I/O callbacks before overdue timers.
   */
  readonly resumedBeforeLoss: { readonly sections: number; readonly writes: number; readonly writesAccepted: number };
  /** Release to next start, when the next holder was already waiting and the previous one released normally. */
  readonly handOffMs: Distribution;
  /** SIGSTOP of a holder (or its loss signal, for losses without a pause), or the next holder's request if later, to the next holder's start. */
  readonly takeoverMs: Distribution;
  /** Largest (elapsed - waitMs) over acquire() and using(), pauses not counted. */
  readonly worstAcquireOverrunMs: number | null;
  /** Longest tryAcquire(), pauses not counted. */
  readonly worstTryAcquireMs: number | null;
  /** Permit and multi-name attempts: largest elapsed - waitMs (a single attempt's elapsed time), pauses not counted. */
  readonly worstOverrunByKind: Readonly<Record<'permit' | 'multi', number | null>>;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly violationsByRule: Readonly<Record<ViolationRule, number>>;
  readonly stats: CheckStats;
}

/** Reads a run directory: run.json and every worker-*.jsonl. Lines that do not parse are reported as crashes. */
export function loadHistory(dir: string): History {
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const sections: SectionRecord[] = [];
  const attempts: AttemptRecord[] = [];
  const crashes: CrashRecord[] = [];
  const done: DoneRecord[] = [];
  for (const file of readdirSync(dir).filter((f) => /^worker-\d+\.jsonl$/.test(f)).sort()) {
    const worker = Number(/\d+/.exec(file)![0]);
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let record: WorkerLogRecord;
      try {
        record = JSON.parse(line) as WorkerLogRecord;
      } catch {
        // A torn last line is what a killed worker leaves; anything else is a broken log.
        crashes.push({ type: 'crash', worker, pid: -1, at: 0, kind: 'fatal', message: `${file} line ${i + 1} is not JSON: ${line.slice(0, 120)}` });
        return;
      }
      if (record.type === 'section') sections.push(record);
      else if (record.type === 'attempt') attempts.push(record);
      else if (record.type === 'crash') crashes.push(record);
      else if (record.type === 'done') done.push(record);
    });
  }
  return { run, sections, attempts, crashes, done };
}

/** Applies every rule to a history. Pure: the same history always gives the same result. */
export function checkHistory(history: History): CheckResult {
  const violations: Violation[] = [];
  const pauses = new PauseIndex(history.run.pauses);
  const { acquireSlackMs, attemptBoundMs, lossAfterResumeMs } = history.run.bounds;
  const ttlMs = history.run.ttlMs;
  const slackMs = history.run.bounds.interferenceSlackMs ?? DEFAULT_INTERFERENCE_SLACK_MS;
  const requestTimeoutMs = history.run.bounds.requestTimeoutMs ?? Math.min(10_000, Math.max(2_000, Math.floor(ttlMs / 2)));
  const operations = [...(history.run.operations ?? [])].sort((a, b) => a.startAt - b.startAt);
  const losses = operations.filter(isRecordLoss);
  let forceReleaseOverlapsExcused = 0;
  let lossOverlapsExcused = 0;
  let forcedInversionsExcused = 0;
  let sameSecondLossesExcused = 0;
  let lossOverrunsExcused = 0;

  /**
   * Operator actions that can explain why `stale` still believed it held `name` at `overlapStart`:
   * a force release of the name that wrote (or may have) after `stale` asked for the lock, or a
   * record loss during or shortly before `stale`'s acquisition; either begun by `overlapStart`.
   */
  const interference = (name: string, stale: SectionRecord, overlapStart: number): OperationRecord[] =>
    operations.filter(
      (o) =>
        o.startAt <= overlapStart &&
        (o.kind === 'force-release' ? o.name === name && o.result !== false && stale.askedAt <= o.endAt : stale.askedAt < o.endAt + ttlMs + slackMs),
    );
  const withinOneTtl = (o: OperationRecord, t: number): boolean => t <= o.endAt + ttlMs + slackMs;

  const judged = lockSections(history.sections);
  const byName = groupBy(judged, (s) => s.name);
  let pausedOverlapsExcused = 0;
  let worstLossAfterResumeMs: number | null = null;
  const takenOver = new Set<SectionRecord>();

  /**
   * The lower-token section `stale` overlapped `fresh` because its worker was stopped (before
   * `fresh` started, during `stale`'s acquisition or section), and its loss signal fired within
   * `lossAfterResumeMs` of SIGCONT: its lease ran out while it could not run.
   */
  const pauseExcuse = (stale: SectionRecord, fresh: SectionRecord): PauseRecord | undefined => {
    if (stale.lossAt === null) return undefined;
    const p = pauses.lastStartedBy(stale.pid, fresh.start);
    if (!p || p.contAt < stale.askedAt || stale.lossAt < p.stopAt || stale.lossAt > p.contAt + lossAfterResumeMs) return undefined;
    return p;
  };

  for (const [name, list] of byName) {
    const sections = [...list].sort((a, b) => a.start - b.start || (a.token ?? 0) - (b.token ?? 0));

    // mutual exclusion: belief intervals [start, min(end, lossAt)] must not overlap
    for (let i = 0; i < sections.length; i++) {
      const a = sections[i]!;
      const aBelief = beliefEnd(a);
      for (let j = i + 1; j < sections.length && sections[j]!.start < aBelief; j++) {
        const b = sections[j]!;
        if (Math.min(b.end, b.lossAt ?? Infinity) <= b.start) continue; // b knew it had lost before it began
        const [stale, fresh] = order(a, b);
        const excuse = pauseExcuse(stale, fresh);
        if (excuse) {
          pausedOverlapsExcused++;
          const late = stale.lossAt! - excuse.contAt;
          worstLossAfterResumeMs = Math.max(worstLossAfterResumeMs ?? late, late);
          continue;
        }
        const lateBy = stale.lossAt === null ? 'its loss signal never fired' : `its loss signal fired ${fmt(stale.lossAt - b.start)} ms after the overlap began`;
        const overlapEnd = Math.min(aBelief, beliefEnd(b));
        const ops = interference(name, stale, b.start);
        const excusing = ops.find((o) => withinOneTtl(o, overlapEnd));
        if (excusing) {
          if (excusing.kind === 'force-release') forceReleaseOverlapsExcused++;
          else lossOverlapsExcused++;
          continue;
        }
        const loss = ops.find(isRecordLoss);
        if (loss) {
          violations.push({
            rule: 'loss-unnoticed',
            name,
            at: loss.endAt + ttlMs,
            pids: [stale.pid, fresh.pid],
            tokens: [stale.token, fresh.token],
            message:
              `"${name}": worker ${stale.worker} (pid ${stale.pid}, token ${String(stale.token)}, ${stale.start.toFixed(1)}..${stale.end.toFixed(1)}) and worker ${fresh.worker} (pid ${fresh.pid}, token ${String(fresh.token)}, from ${fresh.start.toFixed(1)}) ` +
              `both believed they held the lock ${fmt(overlapEnd - loss.endAt)} ms after the ${loss.kind} that ended at ${loss.endAt.toFixed(1)}, more than one TTL (${ttlMs} ms): ${lateBy}`,
          });
          continue;
        }
        const forced = ops.find((o) => o.kind === 'force-release');
        const note = forced ? `; it was force-released at ${forced.startAt.toFixed(1)}..${forced.endAt.toFixed(1)}, more than one TTL before the overlap ended` : '';
        violations.push({
          rule: 'mutual-exclusion',
          name,
          at: b.start,
          pids: [stale.pid, fresh.pid],
          tokens: [stale.token, fresh.token],
          message:
            `"${name}": worker ${stale.worker} (pid ${stale.pid}, token ${String(stale.token)}, ${stale.start.toFixed(1)}..${stale.end.toFixed(1)}${held(stale)}) ` +
            `still believed it held the lock when worker ${fresh.worker} (pid ${fresh.pid}, token ${String(fresh.token)}${held(fresh)}) started at ${fresh.start.toFixed(1)}: ${lateBy}${note}`,
        });
      }
    }

    // fencing: tokens strictly increase in start order
    let maxSoFar = -Infinity;
    for (let j = 0; j < sections.length; j++) {
      const s = sections[j]!;
      if (s.token === null) {
        violations.push({ rule: 'fencing-order', name, at: s.start, pids: [s.pid], tokens: [null], message: `"${name}": worker ${s.worker} (pid ${s.pid}) held the lock at ${s.start.toFixed(1)} without a fencing token` });
        continue;
      }
      if (s.token > maxSoFar) {
        maxSoFar = s.token;
        continue;
      }
      for (let i = j - 1; i >= 0; i--) {
        const earlier = sections[i]!;
        if (earlier.token === null || earlier.token < s.token) continue;
        if (losses.some((o) => earlier.start < o.startAt && o.endAt < s.start)) continue; // a record loss in between: fencing-after-loss
        if (sameBaseSecond(earlier.token, s.token) && losses.some((o) => o.startAt < s.start && o.endAt > earlier.start)) {
          sameSecondLossesExcused++; // a loss during or between them, both bases of one second: the documented exception
          continue;
        }
        if (earlier.token === s.token) {
          violations.push({ rule: 'fencing-order', name, at: s.start, pids: [earlier.pid, s.pid], tokens: [earlier.token, s.token], message: `"${name}": token ${s.token} was given to two sections (pids ${earlier.pid} at ${earlier.start.toFixed(1)} and ${s.pid} at ${s.start.toFixed(1)})` });
          continue;
        }
        if (pauses.at(s.pid, earlier.start)) continue; // s acquired first, but its worker was stopped before it could start
        // s's acquisition was in flight when a force release of the name began, the higher token was
        // granted after that force release, and s's belief ended within one TTL of it: an answer
        // produced before the force release and delivered after it (no protocol can prevent that;
        // fencing rejects s's writes). Duplicate tokens are never excused.
        const forcedInFlight = operations.some(
          (o) => o.kind === 'force-release' && o.name === name && o.result !== false && s.askedAt <= o.startAt && o.endAt <= earlier.start && (s.lossAt ?? s.end) <= o.endAt + ttlMs + slackMs,
        );
        if (forcedInFlight) {
          forcedInversionsExcused++;
          continue;
        }
        violations.push({
          rule: 'fencing-order',
          name,
          at: s.start,
          pids: [earlier.pid, s.pid],
          tokens: [earlier.token, s.token],
          message: `"${name}": token ${s.token} (pid ${s.pid}) started at ${s.start.toFixed(1)}, after token ${earlier.token} (pid ${earlier.pid}) started at ${earlier.start.toFixed(1)}`,
        });
      }
    }

    // across a record loss: every token after it above every token before it
    for (const o of losses) {
      let maxBefore = -Infinity;
      let holderBefore: SectionRecord | undefined;
      for (const s of sections) {
        if (s.start < o.startAt && s.token !== null && s.token > maxBefore) {
          maxBefore = s.token;
          holderBefore = s;
        }
      }
      const reset = sections.filter((s) => {
        if (!(s.start > o.endAt && s.token !== null && s.token <= maxBefore && !(s.askedAt <= o.endAt && pauses.overlaps(s.pid, s.askedAt, s.start)))) return false;
        if (!sameBaseSecond(maxBefore, s.token)) return true;
        sameSecondLossesExcused++;
        return false;
      });
      if (reset.length === 0 || !holderBefore) continue;
      const lowest = reset.reduce((m, s) => (s.token! < m.token! ? s : m));
      violations.push({
        rule: 'fencing-after-loss',
        name,
        at: reset[0]!.start,
        pids: [holderBefore.pid, lowest.pid],
        tokens: [maxBefore, lowest.token],
        message:
          `"${name}": ${reset.length} section(s) started after the ${o.kind} at ${o.startAt.toFixed(1)}..${o.endAt.toFixed(1)} with a token not above ${maxBefore}, the highest granted before it (pid ${holderBefore.pid}); ` +
          `lowest: token ${String(lowest.token)} (pid ${lowest.pid}${lowest.cold ? ', a cold manager' : ''}) at ${lowest.start.toFixed(1)}`,
      });
    }

    // early takeover: a higher token started while the lease's last confirmed write may have been younger than the TTL
    for (const fresh of sections) {
      if (fresh.token === null) continue;
      // the lease it took over: the highest lower token granted before it started
      let stale: SectionRecord | undefined;
      for (const s of sections) {
        if (s.token !== null && s.token < fresh.token && s.start <= fresh.start && (!stale || s.token > stale.token!)) stale = s;
      }
      if (!stale || stale.token === null) continue;
      {
        if (!(fresh.start < stale.end || stale.lossReason === 'taken-over')) continue; // released (or ended) before
        const write = lastConfirmedWrite(stale, fresh.start, requestTimeoutMs);
        if (!write || fresh.start >= write.sentAfter + ttlMs) continue;
        // a force release after that write, or a record loss whose window (one TTL) holds the takeover
        const excused = operations.some((o) =>
          o.kind === 'force-release'
            ? o.name === name && o.endAt >= write.sentAfter && o.startAt <= fresh.start
            : o.startAt <= fresh.start && withinOneTtl(o, fresh.start) && stale.askedAt < o.endAt + ttlMs + slackMs,
        );
        if (excused) continue;
        violations.push({
          rule: 'early-takeover',
          name,
          at: fresh.start,
          pids: [stale.pid, fresh.pid],
          tokens: [stale.token, fresh.token],
          message:
            `"${name}": worker ${fresh.worker} (pid ${fresh.pid}, token ${fresh.token}) took over at ${fresh.start.toFixed(1)}, ${fmt(write.sentAfter + ttlMs - fresh.start)} ms before the lease of worker ${stale.worker} ` +
            `(pid ${stale.pid}, token ${stale.token}) could have expired: its ${write.what} confirmed at ${write.confirmedAt.toFixed(1)} was sent after ${write.sentAfter.toFixed(1)}`,
        });
      }
    }

    // taken over while still working: a higher token started before this section ended
    for (const s of sections) {
      if (s.token === null) continue;
      for (const o of sections) {
        if (o.start >= s.end) break;
        if (o !== s && o.start >= s.start && o.token !== null && o.token > s.token) {
          takenOver.add(s);
          break;
        }
      }
    }
  }

  // semaphore capacity: at each start of a permit section, the believing holders of its semaphore
  // (stale ones that mutual-exclusion would excuse left out) are at most its permits
  let capacityOverlapsExcused = 0;
  const semaphorePeakHolders: Record<string, number> = {};
  const permitSections = history.sections.filter((s) => s.kind === 'permit');
  for (const [semaphore, list] of groupBy(permitSections, (s) => s.semaphore ?? s.name.replace(/#permit-\d+$/, ''))) {
    const permits = history.run.semaphores?.[semaphore] ?? Math.max(...list.map((s) => s.permits ?? 1));
    const sections = [...list].sort((a, b) => a.start - b.start || (a.token ?? 0) - (b.token ?? 0));
    for (const s of sections) {
      const expected = `${semaphore}#permit-${String(s.permit)}`;
      const wrong =
        s.permit === undefined || !Number.isInteger(s.permit) || s.permit < 0 || s.permit >= permits
          ? `permit ${String(s.permit)}, not one of the ${permits} permits`
          : s.name !== expected
            ? `the lock "${s.name}" as permit ${s.permit} (its lock is "${expected}")`
            : s.permits !== undefined && s.permits !== permits
              ? `a permit of an instance with ${s.permits} permits, where the semaphore has ${permits}`
              : undefined;
      if (wrong) {
        violations.push({ rule: 'semaphore-capacity', name: semaphore, at: s.start, pids: [s.pid], tokens: [s.token], message: `"${semaphore}": worker ${s.worker} (pid ${s.pid}, token ${String(s.token)}) held ${wrong}, at ${s.start.toFixed(1)}` });
      }
    }
    let peak = 0;
    for (const fresh of sections) {
      if (beliefEnd(fresh) <= fresh.start) continue; // it knew it had lost before it began
      const others = sections.filter((s) => s !== fresh && s.start <= fresh.start && fresh.start < beliefEnd(s));
      peak = Math.max(peak, others.length + 1);
      if (others.length + 1 <= permits) continue;
      const excused = (stale: SectionRecord): boolean => {
        if (pauseExcuse(stale, fresh)) return true;
        const overlapEnd = Math.min(beliefEnd(stale), beliefEnd(fresh));
        return interference(stale.name, stale, fresh.start).some((o) => withinOneTtl(o, overlapEnd));
      };
      const believing = others.filter((s) => !excused(s));
      if (believing.length + 1 <= permits) {
        capacityOverlapsExcused++;
        continue;
      }
      const holders = [...believing, fresh].map((s) => `worker ${s.worker} (pid ${s.pid}) ${s.name} token ${String(s.token)} from ${s.start.toFixed(1)}`);
      violations.push({
        rule: 'semaphore-capacity',
        name: semaphore,
        at: fresh.start,
        pids: [...believing, fresh].map((s) => s.pid),
        tokens: [...believing, fresh].map((s) => s.token),
        message: `"${semaphore}": ${believing.length + 1} holders believed they held a permit at ${fresh.start.toFixed(1)}, more than its ${permits} permits: ${holders.join('; ')}`,
      });
    }
    semaphorePeakHolders[semaphore] = peak;
  }

  // every loss signalled: taken-over sections and sections with a rejected write (a section that
  // ended within one TTL of a force release or record loss in its time may not have learnt it yet)
  for (const s of judged) {
    const rejected = s.writes.filter((w) => w.accepted === false);
    const interfered = interference(s.name, s, s.end).some((o) => withinOneTtl(o, s.end));
    if ((takenOver.has(s) || rejected.length > 0) && s.lossAt === null && !interfered) {
      const why = rejected.length > 0 ? `the resource rejected ${rejected.length} of its writes as stale` : 'a section with a higher token started before it ended';
      violations.push({ rule: 'loss-not-signalled', name: s.name, at: s.end, pids: [s.pid], tokens: [s.token], message: `"${s.name}": worker ${s.worker} (pid ${s.pid}, token ${String(s.token)}) lost its lease (${why}) but its loss signal never fired` });
    }
    if (s.heldAtStart === false && !pauses.overlaps(s.pid, s.askedAt, s.start)) {
      violations.push({
        rule: 'acquired-not-held',
        name: s.name,
        at: s.start,
        pids: [s.pid],
        tokens: [s.token],
        message: `"${s.name}": ${s.api}() of worker ${s.worker} (pid ${s.pid}, token ${String(s.token)}) resolved after ${fmt(s.waitedMs)} ms with a lease that was no longer held (isHeld false)`,
      });
    }
  }

  // acquisitions end within waitMs + slack; a single attempt (tryAcquire, or waitMs 0, which makes
  // exactly one attempt) within one attempt's bound: its requests are bounded by request timeouts.
  // A permit attempt tries each permit once per round, a multi-name one each further name once
  // after its wait (and releases what a failed round took): one more attempt's bound each.
  let worstAcquireOverrunMs: number | null = null;
  let worstTryAcquireMs: number | null = null;
  const worstOverrunByKind: Record<'permit' | 'multi', number | null> = { permit: null, multi: null };
  for (const a of history.attempts) {
    const elapsed = a.doneAt - a.askedAt - pauses.pausedMs(a.pid, a.askedAt, a.doneAt);
    const single = a.api === 'tryAcquire' || a.waitMs === 0;
    const names = a.kind === 'multi' ? new Set(a.names ?? [a.name]).size : 1;
    const tries = a.kind === 'permit' ? Math.max(1, a.permits ?? 1) : names;
    const extraMs = (tries - 1) * attemptBoundMs + (names > 1 ? attemptBoundMs : 0) + (a.kind === 'permit' && a.settles ? 4 * requestTimeoutMs : 0);
    const limit = (single ? attemptBoundMs : a.waitMs + acquireSlackMs) + extraMs;
    const over = single ? elapsed : elapsed - a.waitMs;
    if (a.kind === 'permit' || a.kind === 'multi') worstOverrunByKind[a.kind] = Math.max(worstOverrunByKind[a.kind] ?? over, over);
    else if (single) worstTryAcquireMs = Math.max(worstTryAcquireMs ?? elapsed, elapsed);
    else worstAcquireOverrunMs = Math.max(worstAcquireOverrunMs ?? over, over);
    if (elapsed > limit) {
      // during a record loss the proxy holds requests while the bucket is re-created (a store that
      // does not answer): the time bounds assume one that does
      if (losses.some((o) => a.askedAt < o.endAt + ttlMs + slackMs && a.doneAt > o.startAt)) {
        lossOverrunsExcused++;
        continue;
      }
      const bound = single ? `${attemptBoundMs + extraMs}` : `waitMs + ${acquireSlackMs + extraMs}`;
      const what = a.kind === 'permit' ? `semaphore ${a.api}()` : a.kind === 'multi' ? `using([${(a.names ?? []).join(', ')}])` : `${a.api}()`;
      violations.push({
        rule: 'acquire-overrun',
        name: a.name,
        at: a.doneAt,
        pids: [a.pid],
        message: `"${a.name}": ${what} of worker ${a.worker} (pid ${a.pid}) with waitMs ${a.waitMs} took ${fmt(elapsed)} ms (outcome ${a.outcome}${a.errorName ? ` ${a.errorName}` : ''}), more than ${bound}`,
      });
    }
  }

  // crashes
  for (const w of history.run.workers) {
    if (w.killed || w.exitCode !== 0 || w.signal !== null) {
      const how = w.killed ? 'did not exit in time and was killed' : w.signal !== null ? `was terminated by ${w.signal}` : `exited with code ${String(w.exitCode)}`;
      violations.push({ rule: 'crash', pids: [w.pid], message: `worker ${w.index} (pid ${w.pid}) ${how}${w.stderrTail ? `; stderr: ${w.stderrTail.slice(-400)}` : ''}` });
    } else if (!history.done.some((d) => d.worker === w.index)) {
      violations.push({ rule: 'crash', pids: [w.pid], message: `worker ${w.index} (pid ${w.pid}) exited 0 without finishing its loops (no done record)` });
    }
  }
  for (const c of history.crashes) {
    violations.push({ rule: 'crash', at: c.at, pids: [c.pid], message: `worker ${c.worker} (pid ${c.pid}): ${c.kind}: ${c.message}` });
  }

  const violationsByRule = Object.fromEntries(VIOLATION_RULES.map((r) => [r, violations.filter((v) => v.rule === r).length])) as Record<ViolationRule, number>;
  return {
    ok: violations.length === 0,
    violations,
    violationsByRule,
    stats: {
      sections: history.sections.length,
      sectionsByKind: { ...(Object.fromEntries(SECTION_KINDS.map((k) => [k, 0])) as Record<SectionKind, number>), ...countBy(history.sections, kindOf) },
      lockSections: judged.length,
      sectionsByApi: countBy(history.sections, (s) => s.api),
      attempts: history.attempts.length,
      attemptsByOutcome: { acquired: 0, timeout: 0, 'not-acquired': 0, 'store-error': 0, lost: 0, error: 0, ...countBy(history.attempts, (a) => a.outcome) },
      // per lease: a multi-name section's names each count
      lossesByReason: countBy(
        judged.filter((s) => s.lossAt !== null),
        (s) => s.lossReason ?? 'unknown',
      ),
      writes: {
        total: sum(history.sections, (s) => s.writes.length),
        accepted: sum(history.sections, (s) => s.writes.filter((w) => w.accepted === true).length),
        rejected: sum(history.sections, (s) => s.writes.filter((w) => w.accepted === false).length),
        failed: sum(history.sections, (s) => s.writes.filter((w) => w.accepted === null).length),
      },
      pausedOverlapsExcused,
      worstLossAfterResumeMs,
      forceReleaseOverlapsExcused,
      lossOverlapsExcused,
      forcedInversionsExcused,
      sameSecondLossesExcused,
      lossOverrunsExcused,
      capacityOverlapsExcused,
      semaphorePeakHolders,
      operations: countBy(operations, (o) => o.kind),
      resumedBeforeLoss: resumedBeforeLoss(judged, pauses, history.run.ttlMs),
      ...handOffs(byName, pauses),
      worstAcquireOverrunMs,
      worstTryAcquireMs,
      worstOverrunByKind,
    },
  };
}

/** What a section held (logs of older runs have no kind: a lock). */
export function kindOf(s: SectionRecord): SectionKind {
  return s.kind ?? 'lock';
}

/**
 * The sections as the per-name rules judge them: one per lock name held. A multi-name section
 * becomes one section per name, with that name's token, lease, loss time, `isHeld` at the start,
 * renewals and writes (its start, end and everything else shared); every other section is its own.
 */
export function lockSections(sections: readonly SectionRecord[]): SectionRecord[] {
  const out: SectionRecord[] = [];
  for (const s of sections) {
    if (kindOf(s) !== 'multi') {
      out.push(s);
      continue;
    }
    const leases = s.leases ?? {};
    for (const name of s.names ?? Object.keys(leases)) {
      const lease = leases[name];
      out.push({
        ...s,
        name,
        token: lease?.token ?? null,
        leaseId: lease?.leaseId ?? null,
        ownerId: lease?.ownerId ?? null,
        lossAt: lease?.lossAt ?? null,
        lossReason: lease?.lossReason ?? null,
        heldAtStart: lease?.heldAtStart ?? null,
        renewals: lease?.renewals ?? [],
        writes: s.writes.filter((w) => w.name === undefined || w.name === name),
      });
    }
  }
  return out;
}

/** How a section held its name, for messages (empty for a lock). */
function held(s: SectionRecord): string {
  switch (kindOf(s)) {
    case 'multi':
      return `, in using([${(s.names ?? []).join(', ')}])`;
    case 'term':
      return ', a term';
    default:
      return '';
  }
}

/** Hand-off and takeover delays between consecutive holders (token order) of each name. */
function handOffs(byName: Map<string, SectionRecord[]>, pauses: PauseIndex): { handOffMs: Distribution; takeoverMs: Distribution } {
  const handOff: number[] = [];
  const takeover: number[] = [];
  for (const list of byName.values()) {
    const sections = list.filter((s) => s.token !== null).sort((a, b) => a.token! - b.token!);
    for (let i = 1; i < sections.length; i++) {
      const a = sections[i - 1]!;
      const b = sections[i]!;
      const paused = pauses.during(a.pid, a.start, a.end);
      if (paused) {
        if (b.start > paused.stopAt) takeover.push(b.start - Math.max(paused.stopAt, b.askedAt));
      } else if (a.lossAt !== null) {
        if (b.start > a.lossAt) takeover.push(b.start - Math.max(a.lossAt, b.askedAt));
      } else if (b.askedAt < a.end && b.start > a.end) {
        handOff.push(b.start - a.end);
      }
    }
  }
  return { handOffMs: distribution(handOff), takeoverMs: distribution(takeover) };
}

/** Sections whose worker was stopped longer than the TTL during the section and acted after SIGCONT before the loss signal fired. */
function resumedBeforeLoss(sections: readonly SectionRecord[], pauses: PauseIndex, ttlMs: number): CheckStats['resumedBeforeLoss'] {
  let count = 0;
  let writes = 0;
  let writesAccepted = 0;
  for (const s of sections) {
    const p = pauses.during(s.pid, s.start, s.end);
    if (!p || p.contAt - p.stopAt < ttlMs || s.end <= p.contAt) continue;
    const before = (t: number): boolean => t > p.contAt && (s.lossAt === null || t < s.lossAt);
    const late = s.writes.filter((w) => before(w.sentAt));
    if (before(s.end) || late.length > 0) count++;
    writes += late.length;
    writesAccepted += late.filter((w) => w.accepted === true).length;
  }
  return { sections: count, writes, writesAccepted };
}

/** SIGSTOP intervals per pid. */
class PauseIndex {
  private readonly byPid = new Map<number, PauseRecord[]>();

  constructor(pauses: readonly PauseRecord[]) {
    for (const p of pauses) {
      const list = this.byPid.get(p.pid) ?? [];
      list.push(p);
      this.byPid.set(p.pid, list);
    }
  }

  /** The pause of `pid` that contains `t`. */
  at(pid: number, t: number): PauseRecord | undefined {
    return this.byPid.get(pid)?.find((p) => p.stopAt <= t && t <= p.contAt);
  }

  /** The last pause of `pid` that began at or before `t` (it may have ended since). */
  lastStartedBy(pid: number, t: number): PauseRecord | undefined {
    let found: PauseRecord | undefined;
    for (const p of this.byPid.get(pid) ?? []) if (p.stopAt <= t && (!found || p.stopAt > found.stopAt)) found = p;
    return found;
  }

  /** The first pause of `pid` that began within [from, to]. */
  during(pid: number, from: number, to: number): PauseRecord | undefined {
    return this.byPid.get(pid)?.find((p) => p.stopAt >= from && p.stopAt <= to);
  }

  overlaps(pid: number, from: number, to: number): boolean {
    return this.pausedMs(pid, from, to) > 0;
  }

  /** Milliseconds of [from, to] during which `pid` was stopped. */
  pausedMs(pid: number, from: number, to: number): number {
    let total = 0;
    for (const p of this.byPid.get(pid) ?? []) total += Math.max(0, Math.min(to, p.contAt) - Math.max(from, p.stopAt));
    return total;
  }
}

function isRecordLoss(o: OperationRecord): boolean {
  return o.kind === 'wipe' || o.kind === 'recreate-bucket';
}

/**
 * The last write of `s`'s lease confirmed by `t` (the grant, at its start, or a `renewed` event),
 * with a time it was certainly sent after: the grant after the request (`askedAt`); a renewal after
 * the previous confirmed write (renewals run one at a time) and not more than four requests'
 * timeouts before its event (PUT, then the read that verifies it).
 */
function lastConfirmedWrite(s: SectionRecord, t: number, requestTimeoutMs: number): { what: string; confirmedAt: number; sentAfter: number } | undefined {
  if (s.start > t) return undefined;
  let last = { what: 'grant', confirmedAt: s.start, sentAfter: s.askedAt };
  let previous = s.askedAt;
  for (const [i, at] of (s.renewals ?? []).entries()) {
    if (at > t) break;
    last = { what: `renewal ${i + 1}`, confirmedAt: at, sentAfter: Math.max(previous, at - 4 * requestTimeoutMs) };
    previous = at;
  }
  return last;
}

function beliefEnd(s: SectionRecord): number {
  return Math.max(s.start, Math.min(s.end, s.lossAt ?? Infinity));
}

/** [lower token, higher token]; without tokens, [earlier start, later start]. */
function order(a: SectionRecord, b: SectionRecord): [SectionRecord, SectionRecord] {
  if (a.token !== null && b.token !== null && a.token > b.token) return [b, a];
  return [a, b];
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((acc, item) => acc + f(item), 0);
}

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: null, p95: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  return { count: sorted.length, p50: q(0.5), p95: q(0.95), max: Math.round(sorted[sorted.length - 1]!) };
}

function fmt(ms: number): string {
  return ms.toFixed(0);
}

/** Bases taken from the store's clock are seconds x 10^4; below this a token is not clock-based. */
const CLOCK_BASED_TOKENS_FROM = 1e13;

/**
 * Both tokens belong to generations whose bases were taken in the same second of the store's
 * clock (create-only bases are server seconds x 10^4).
 */
function sameBaseSecond(a: number, b: number): boolean {
  return a >= CLOCK_BASED_TOKENS_FROM && b >= CLOCK_BASED_TOKENS_FROM && Math.floor(a / 10_000) === Math.floor(b / 10_000);
}
