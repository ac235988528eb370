/**
 * The records a verification run leaves behind, as JSON. Workers write one JSON object per line to
 * `worker-<index>.jsonl`; the runner writes `run.json`. The checker reads only these files: it
 * never imports the engine (src/), so it judges what the processes observed, not what the engine
 * says about itself.
 *
 * Every time is in milliseconds of the machine-wide monotonic clock (process.hrtime, i.e.
 * CLOCK_MONOTONIC), comparable across processes on one machine.
 */

/** How a worker asked for the lock (`elect`: a leadership term of `manager.elect()`). */
export type AcquireApi = 'acquire' | 'using' | 'tryAcquire' | 'elect';

/**
 * What a section held (absent in logs of older runs: a lock):
 * - `lock`: one lock name (`manager.lock()` or `using(name)`);
 * - `permit`: a permit of a semaphore (`manager.semaphore()`); its `name` is the permit's lock
 *   name `<semaphore>#permit-<i>`, so that every per-name rule applies to the permit;
 * - `multi`: a multi-name `using([a, b])`; its `names` and `leases` give each name's lease, and
 *   the checker counts each name as a section of that name;
 * - `term`: a leadership term of `manager.elect()`; its `name` is the election's lock name.
 */
export type SectionKind = 'lock' | 'permit' | 'multi' | 'term';

export const SECTION_KINDS: readonly SectionKind[] = ['lock', 'permit', 'multi', 'term'];

/** One name's lease in a multi-name section. */
export interface MultiLeaseRecord {
  /** Fencing token of the name's lease (`fencingTokens[name]` of the context). */
  readonly token: number | null;
  readonly leaseId: string | null;
  readonly ownerId: string | null;
  /** When this name's own lease signal fired (`leases[name].signal`), if it did by the time the section was logged. */
  readonly lossAt: number | null;
  readonly lossReason: string | null;
  /** `leases[name].isHeld` when the callback began. */
  readonly heldAtStart: boolean | null;
  /** When each `renewed` event of this lease arrived. */
  readonly renewals?: readonly number[];
}

/** One write of a critical section to the fencing resource. */
export interface WriteRecord {
  /** When the write was sent. */
  readonly sentAt: number;
  /** When its answer arrived. */
  readonly at: number;
  readonly token: number;
  /** The resource name written (multi-name sections write each name; absent: the section's name). */
  readonly name?: string;
  /** true: accepted; false: rejected as stale (a higher token was accepted before); null: no answer (error). */
  readonly accepted: boolean | null;
  /** Highest token the resource had accepted for the name when it answered. */
  readonly highest?: number;
  /** `lock.isHeld` when the write was sent (instance API only; diagnostic). */
  readonly held?: boolean;
  readonly error?: string;
}

/** One critical section: from the moment the worker learnt it holds the lock to the moment it stopped working. */
export interface SectionRecord {
  readonly type: 'section';
  /** Worker index (0-based) and its OS pid. */
  readonly worker: number;
  readonly pid: number;
  /** Loop inside the worker (workers run several loops on one lock manager). */
  readonly loop: number;
  /** What was held (absent: a lock). */
  readonly kind?: SectionKind;
  /**
   * The lock name: for a permit `<semaphore>#permit-<i>`, for a term the election's name, for a
   * multi-name section its names joined by `+` (a label only: the checker reads `names`).
   */
  readonly name: string;
  readonly api: AcquireApi;
  /** Permit sections: the semaphore's name, its permits (as the instance reported them) and the permit held. */
  readonly semaphore?: string;
  readonly permits?: number;
  readonly permit?: number;
  /** Multi-name sections: the names in the order the context gave them (canonical), and each one's lease. */
  readonly names?: readonly string[];
  readonly leases?: Readonly<Record<string, MultiLeaseRecord>>;
  /**
   * When the worker asked for the lock. For a term: when the campaign began, or when the previous
   * term of the same campaign was revoked (the campaign waits again from there).
   */
  readonly askedAt: number;
  /** When `acquire()` resolved (or `using()` called back, or `tryAcquire()` returned true). */
  readonly start: number;
  /** When the worker stopped working: after its last write, or when it saw the loss signal or a rejected write. */
  readonly end: number;
  /** The waitMs the acquisition used (0 for tryAcquire; for a term, how long the campaign was to wait for one). */
  readonly waitMs: number;
  /** start - askedAt. */
  readonly waitedMs: number;
  /** Fencing token of the lease (from the `acquired` event / `using` context), null if none was known (multi: see `leases`). */
  readonly token: number | null;
  readonly leaseId: string | null;
  readonly ownerId: string | null;
  /**
   * When the lease's loss signal fired, if it did by the time the section was logged (one timer
   * tick after the release returned); null otherwise. Multi: the context's signal (the first loss
   * of any name). Terms: the term's signal, unless it aborted because the worker resigned (`stop()`).
   */
  readonly lossAt: number | null;
  /** S3LockLostError.reason of the loss, when it fired. */
  readonly lossReason: string | null;
  /** `lock.isHeld` right after acquire() resolved (instance APIs only; null for using()). */
  readonly heldAtStart: boolean | null;
  readonly writes: readonly WriteRecord[];
  /** When release() (or using()) returned. */
  readonly releasedAt: number | null;
  readonly releaseError: string | null;
  /** Errors seen inside the section (unexpected ones are also reported as `crash` records). */
  readonly errors: readonly string[];
  /** When each `renewed` event of this lease arrived (absent in logs of older runs). */
  readonly renewals?: readonly number[];
  /** The acquisition used a lock manager made for it alone (a cold process: no cached view of the lock). */
  readonly cold?: boolean;
}

/**
 * Outcome of one acquisition attempt. `lost`: a multi-name `using()` found a lease it had taken
 * already lost before it could call back (it throws the loss, as documented).
 */
export type AttemptOutcome = 'acquired' | 'timeout' | 'not-acquired' | 'store-error' | 'lost' | 'error';

/** One acquisition attempt, successful or not. */
export interface AttemptRecord {
  readonly type: 'attempt';
  readonly worker: number;
  readonly pid: number;
  readonly loop: number;
  /** What was asked for (absent: a lock). Campaigns of elections are not attempts: they have no time bound. */
  readonly kind?: SectionKind;
  /** The lock name; a semaphore's name (permit attempts); the names joined by `+` (multi-name). */
  readonly name: string;
  readonly api: AcquireApi;
  /** Multi-name attempts: the names, in the order asked (before the engine sorts them). */
  readonly names?: readonly string[];
  /** Permit attempts: the semaphore's permits (each attempt tries each permit once). */
  readonly permits?: number;
  /**
   * Permit attempts that may have settled the semaphore's permits with the store first (the
   * manager's first use of the name: a cold manager, or the worker's first permit attempts).
   */
  readonly settles?: boolean;
  readonly askedAt: number;
  readonly doneAt: number;
  readonly waitMs: number;
  readonly outcome: AttemptOutcome;
  readonly errorName?: string;
  readonly error?: string;
}

/** Something that must never happen in a worker: an unhandled rejection, an uncaught exception, an error of a type the API never throws. */
export interface CrashRecord {
  readonly type: 'crash';
  readonly worker: number;
  readonly pid: number;
  readonly at: number;
  readonly kind: 'unhandledRejection' | 'uncaughtException' | 'unexpectedError' | 'fatal';
  readonly message: string;
}

/** Engine events a worker counted (storeError, lost), summarised at the end of the run. */
export interface DoneRecord {
  readonly type: 'done';
  readonly worker: number;
  readonly pid: number;
  readonly at: number;
  readonly counts: Readonly<Record<string, number>>;
}

export type WorkerLogRecord = SectionRecord | AttemptRecord | CrashRecord | DoneRecord;

/** A worker process as the runner saw it. */
export interface WorkerInfo {
  readonly index: number;
  readonly pid: number;
  /** Wall-clock skew preloaded into the worker, ms. */
  readonly skewMs: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The runner had to kill it (it did not exit in time after the end of the run). */
  readonly killed: boolean;
  readonly stderrTail: string;
}

/** A SIGSTOP ... SIGCONT of one worker by the runner. */
export interface PauseRecord {
  readonly pid: number;
  readonly worker: number;
  readonly stopAt: number;
  readonly contAt: number;
}

/** What the runner's operator did to the store while the workers ran (fault schedules, see docs/verification.md). */
export type OperationKind = 'force-release' | 'wipe' | 'recreate-bucket';

/** One operator action. Record losses (`wipe`, `recreate-bucket`) concern every name. */
export interface OperationRecord {
  readonly kind: OperationKind;
  /** The lock name (force-release only). */
  readonly name?: string;
  /** What triggered it: `random`, or `claim` (a force release timed between a worker's claim and its re-read). */
  readonly trigger?: 'random' | 'claim';
  readonly startAt: number;
  readonly endAt: number;
  /** forceRelease() resolved true (there was a lease to end); objects deleted by a wipe. */
  readonly result?: boolean | number;
  readonly error?: string;
}

/** Totals of the fencing resource. */
export interface ResourceStats {
  readonly accepted: number;
  readonly rejected: number;
  readonly byName: Readonly<Record<string, { accepted: number; rejected: number; highest: number }>>;
}

/** Everything the runner knows about one run (run.json). */
export interface RunRecord {
  readonly store: string;
  readonly endpoint: string;
  readonly protocol: string;
  readonly seconds: number;
  readonly ttlMs: number;
  readonly names: readonly string[];
  readonly faults: boolean;
  readonly startedAt: number;
  readonly stoppedAt: number;
  readonly workers: readonly WorkerInfo[];
  readonly pauses: readonly PauseRecord[];
  readonly faultCounts: Readonly<Record<string, number>>;
  readonly resource: ResourceStats;
  /** Bounds the checker applies (see docs/verification.md). */
  readonly bounds: CheckBounds;
  /** Fault schedules that were on (absent in older runs: the network faults, pauses and skew only). */
  readonly schedules?: readonly string[];
  /** Operator actions (force releases, record losses), in start order (absent in older runs). */
  readonly operations?: readonly OperationRecord[];
  /** Semaphores the workers used: name -> permits (absent in older runs). */
  readonly semaphores?: Readonly<Record<string, number>>;
  /** Elections the workers campaigned in (absent in older runs). */
  readonly elections?: readonly string[];
  /** The foreign keys planted under the prefix (schedule foreign-keys). */
  readonly foreign?: { readonly prefix: string; readonly names: number; readonly strayKeys: number; readonly refused?: string };
}

/** The tolerances of the checks, chosen by the runner from the TTL. */
export interface CheckBounds {
  /** acquire() / using() may end this long after their waitMs (one request in flight when the wait ran out). */
  readonly acquireSlackMs: number;
  /** tryAcquire() (one attempt: up to a LIST, a HEAD, a PUT and a read-back HEAD) must end within this. */
  readonly attemptBoundMs: number;
  /** A paused holder's loss signal must fire within this long after SIGCONT. */
  readonly lossAfterResumeMs: number;
  /**
   * The engine's request timeout: a renewal's write was sent at most this long (times four
   * requests of one renewal) before its `renewed` event (early-takeover rule).
   */
  readonly requestTimeoutMs?: number;
  /**
   * Scheduling slack on "within one TTL": a holder must learn of a record loss or force release
   * within TTL + this after the operation ended.
   */
  readonly interferenceSlackMs?: number;
}

/** The whole history of one run: what the checker judges. */
export interface History {
  readonly run: RunRecord;
  readonly sections: readonly SectionRecord[];
  readonly attempts: readonly AttemptRecord[];
  readonly crashes: readonly CrashRecord[];
  readonly done: readonly DoneRecord[];
}
