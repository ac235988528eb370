/** A workload to price in requests: how often locks are taken, by how many instances, for how long. */
export interface Workload {
  /** Acquisitions per minute, over every lock name. */
  readonly locksPerMinute: number;
  /** Instances that try each acquisition (e.g. every replica runs the cron job). */
  readonly instances: number;
  /** How long a lock is held, s. */
  readonly holdSeconds: number;
  /** The lease's TTL, s (renewal every TTL/3). */
  readonly ttlSeconds: number;
}

/** Request types S3 bills apart. */
export const REQUEST_TYPES = ['PUT', 'GET', 'HEAD', 'LIST', 'DELETE'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];
export type RequestCounts = Record<RequestType, number>;

/**
 * Parses `"<n> locks/min, <m> instances"` (also `lock/min`, `per minute`, `instance`), the
 * `--workload` flag. Throws a RangeError naming what it expected.
 */
export function parseWorkload(text: string, holdSeconds: number, ttlSeconds: number): Workload {
  const rate = /(\d+(?:\.\d+)?)\s*locks?\s*(?:\/|per)\s*min(?:ute)?/i.exec(text);
  const inst = /(\d+)\s*instances?/i.exec(text);
  if (!rate || !inst) throw new RangeError(`--workload must look like "120 locks/min, 3 instances", got ${JSON.stringify(text)}`);
  return checkWorkload({ locksPerMinute: Number(rate[1]), instances: Number(inst[1]), holdSeconds, ttlSeconds });
}

export function checkWorkload(w: Workload): Workload {
  if (!(w.locksPerMinute > 0) || !Number.isFinite(w.locksPerMinute)) throw new RangeError(`locks per minute must be a positive number, got ${w.locksPerMinute}`);
  if (!Number.isInteger(w.instances) || w.instances < 1) throw new RangeError(`instances must be a positive integer, got ${w.instances}`);
  if (!(w.holdSeconds >= 0) || !Number.isFinite(w.holdSeconds)) throw new RangeError(`--hold must be a number of seconds >= 0, got ${w.holdSeconds}`);
  if (!(w.ttlSeconds >= 2) || !Number.isFinite(w.ttlSeconds)) throw new RangeError(`--ttl must be a number of seconds >= 2, got ${w.ttlSeconds}`);
  return w;
}

/** Minutes in the 30-day month the estimate is for. */
export const MINUTES_PER_MONTH = 60 * 24 * 30;

/**
 * Requests per 30-day month, per request type, from the per-operation counts in
 * docs/protocol.md ("Requests per operation"): for each acquisition, the winner's cold acquire and
 * release, its renewals (one per TTL/3 held), and one look by each other instance that finds the
 * lock held and skips (as `@WithS3Lock` cron jobs do). Waiting callers add one poll (a GET;
 * versioned: a HEAD) per poll interval; the probe and declaration (once per process start) are
 * left out.
 */
export function monthlyRequests(w: Workload, protocol: 'create-only' | 'versioned'): RequestCounts {
  const renewals = Math.floor(w.holdSeconds / (w.ttlSeconds / 3));
  const others = w.instances - 1;
  const per: RequestCounts =
    protocol === 'create-only'
      ? // cold acquire GET, LIST, HEAD, PUT, GET; release PUT; renewal PUT ∥ GET; a look: GET, LIST, HEAD
        { PUT: 2 + renewals, GET: 2 + renewals + others, HEAD: 1 + others, LIST: 1 + others, DELETE: 0 }
      : // cold acquire LIST, PUT, LIST, HEAD; release LIST, PUT, 2 DELETE; renewal PUT, LIST, DELETE; a look: LIST, HEAD
        { PUT: 2 + renewals, GET: 0, HEAD: 1 + others, LIST: 3 + renewals + others, DELETE: 2 + renewals };
  const perMonth = w.locksPerMinute * MINUTES_PER_MONTH;
  const out = {} as RequestCounts;
  for (const t of REQUEST_TYPES) out[t] = Math.round(per[t] * perMonth);
  return out;
}
