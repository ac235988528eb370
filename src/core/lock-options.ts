import type { S3LockTelemetryOptions } from './lock-telemetry';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { S3LockInvalidOptionsError } from './errors';
import { firstNonXmlCharacter, XML_RULE } from './lock-name';

/** Which protocol keeps the locks. */
export type S3LockProtocolName =
  /** Immutable records created with `If-None-Match: *` under ascending epochs (the default when the store honours it). */
  | 'create-only'
  /** The seed's state machine on a versioned bucket; needs no write condition. */
  | 'versioned'
  /**
   * The protocol the prefix is declared for; on a prefix nobody declared yet, probe the bucket at
   * first use: `create-only` if honoured, else `versioned` if the bucket is versioned, else refuse.
   */
  | 'auto';

/** A logger the library writes to. Nest's `Logger` fits. */
export interface S3LockLogger {
  debug?(message: string): void;
  log?(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Options of {@link S3LockManager}. */
export interface S3LockManagerOptions {
  /**
   * The application's `S3Client` (never destroyed by the library), or a config to build one
   * (destroyed by `close()`).
   */
  client: S3Client | S3ClientConfig;
  /**
   * OpenTelemetry metrics and traces (`@opentelemetry/api`, an optional peer): providers, and how
   * lock names become attributes. Without the API package nothing is recorded.
   * @default the global providers; names only for decorated locks (their template)
   */
  telemetry?: S3LockTelemetryOptions;
  /**
   * Bucket that holds the locks. Required. Directory buckets (S3 Express One Zone, names ending in
   * `--x-s3`) are refused: they list keys unordered and have no versioning.
   */
  bucket: string;
  /**
   * Key prefix under which every lock lives: empty or ending in `/` (anything else is refused, as
   * names under `locks/a` and `locks/` would alias). Lock names are encoded below it and can never
   * escape it; managers with nested prefixes (`locks/` and `locks/a/`) do not disturb each other.
   * @default 'locks/'
   */
  prefix?: string;
  /**
   * Lease time to live: how long a lock outlives a holder that stopped renewing. Renewed
   * automatically about every `ttlMs / 3` while held. At least 2000.
   * @default 30000
   */
  ttlMs?: number;
  /**
   * How long `acquire()` and `using()` wait for a held lock before throwing {@link S3LockTimeoutError}.
   * `Infinity` waits until the lock comes (or the manager is closed, or the signal aborts). While
   * an acquisition waits, however long, it keeps the process alive, as a pending socket would; a
   * held lease does not (its renewal timers are unref'd: the work done under the lock is what
   * keeps a process alive).
   * @default 30000
   */
  waitMs?: number;
  /**
   * Which protocol keeps the locks. Every process on one bucket and prefix must use the same one:
   * the first manager records its choice in `<prefix>.protocol`, every manager reads it at start,
   * `'auto'` follows it, and a manager configured for the other protocol is refused with
   * {@link S3LockProtocolMismatchError}.
   * @default 'auto'
   */
  protocol?: S3LockProtocolName;
  /**
   * Longest pause between two polls of a held lock while waiting (polls start at 50 ms and back off,
   * jittered). One poll is one HEAD request per lock name per process, shared by all waiters.
   * @default 500
   */
  maxPollIntervalMs?: number;
  /**
   * Store operations (a renewal, an attempt or poll, a release: one to three requests each) this
   * manager runs at once, for all its lock names. More wait in the manager's queue, where renewals
   * go first, closest deadline first, then releases, then attempts and polls: past the store's
   * capacity, leases are lost one by one (each with a cause saying so) instead of all at once, and
   * new acquisitions slow down first. Keep `2 × maxInFlight` at or below the S3 client's sockets
   * (`maxSockets`, 50 by default in the AWS SDK); see the README's capacity notes.
   * @default 16
   */
  maxInFlight?: number;
  /**
   * Time limit of one store call (the SDK's retries of it included), and of one attempt to acquire:
   * `tryAcquire()`, and `acquire()` / `using()` with `waitMs: 0`, answer within it. An attempt still
   * running then fails with {@link S3LockStoreError} and goes on in the background, releasing any
   * lease it wins; waiting acquisitions keep polling until `waitMs`.
   * @default half the manager's ttlMs, between 2000 and 10000
   */
  requestTimeoutMs?: number;
  /**
   * The holder stops believing it holds the lock this long before the lease could expire in the
   * store's eyes, so that work can stop before anyone else can take over.
   * @default 10% of ttlMs, between 100 and 2000
   */
  safetyMarginMs?: number;
  /**
   * Extra time added to every expiry judgement for clock differences between the store's servers
   * (on top of the 1 s resolution of HTTP dates, which is always added).
   * @default 500
   */
  serverClockToleranceMs?: number;
  /**
   * Garbage collection of old lock records (create-only protocol): records at least two epochs
   * behind the newest and older than this (server time) are deleted after a release, at most once
   * per `gcIntervalMs` per lock name. 0 disables garbage collection; otherwise at least 300000.
   * @default 3600000 (1 hour)
   */
  gcHorizonMs?: number;
  /**
   * Minimum time between two garbage collections of one lock name by one manager.
   * @default 600000 (10 minutes)
   */
  gcIntervalMs?: number;
  /** Where the library logs. @default no logging */
  logger?: S3LockLogger;
  /** Informational host name written into records. @default os.hostname() */
  host?: string;
}

/** Per-lock overrides given to `manager.lock(name, options)`. */
export interface S3LockOptions {
  /** @default the manager's ttlMs */
  ttlMs?: number;
  /**
   * What telemetry may call this lock (`telemetry.lockName`'s `template`): a bounded name such as
   * `report:{id}` for per-entity names. `@WithS3Lock` sets it.
   * @default undefined: the lock has no `s3lock.name` attribute unless `telemetry.lockName` maps its name
   */
  telemetryName?: string;
}

/** Options of `acquire()`. */
export interface S3LockAcquireOptions {
  /**
   * How long to wait; `0` makes one attempt, `Infinity` waits until the lock comes. A pending wait
   * keeps the process alive.
   * @default the manager's waitMs
   */
  waitMs?: number;
  /** Abort waiting early. */
  signal?: AbortSignal;
}

/** Options of `manager.using()`. */
export interface S3LockUsingOptions extends S3LockOptions, S3LockAcquireOptions {}

/** Options of `manager.semaphore()`. */
export interface S3SemaphoreOptions extends S3LockOptions {
  /**
   * How many holders at once, across processes: an integer from 1 to 1000. Every holder of one name
   * must use the same number; the first to use the name declares it in the store, and a different
   * number is refused with {@link S3LockPermitsMismatchError}.
   */
  permits: number;
}

/** The most permits a semaphore may have (a waiting round costs one attempt per permit). */
export const MAX_PERMITS = 1000;

/** Checks a semaphore's permits: an integer from 1 to {@link MAX_PERMITS}. */
export function checkPermits(permits: unknown, name: string): number {
  if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1 || permits > MAX_PERMITS) {
    throw new S3LockInvalidOptionsError('permits', `permits must be an integer from 1 to ${MAX_PERMITS}, got ${String(permits)}`, name);
  }
  return permits;
}

/** Options after defaults were applied. */
export interface ResolvedManagerOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly protocol: S3LockProtocolName;
  readonly maxPollIntervalMs: number;
  readonly maxInFlight: number;
  readonly requestTimeoutMs: number;
  readonly safetyMarginMs: number | undefined;
  readonly serverClockToleranceMs: number;
  readonly gcHorizonMs: number;
  readonly gcIntervalMs: number;
  readonly host: string;
}

/** Frozen defaults. */
export const DEFAULTS = Object.freeze({
  prefix: 'locks/',
  ttlMs: 30_000,
  waitMs: 30_000,
  protocol: 'auto' as S3LockProtocolName,
  maxPollIntervalMs: 500,
  maxInFlight: 16,
  serverClockToleranceMs: 500,
  gcHorizonMs: 3_600_000,
  gcIntervalMs: 600_000,
});

/** Names of S3 Express One Zone directory buckets end in this. */
export const DIRECTORY_BUCKET_SUFFIX = '--x-s3';
/** Why directory buckets are refused (by both protocols). */
const DIRECTORY_BUCKET_RULE =
  'Directory buckets list keys in no particular order and do not support StartAfter, which the create-only protocol needs ' +
  "to find a lock's newest record in one LIST and to collect old records; they have no versioning, which the versioned protocol needs. " +
  'Use a general purpose bucket.';

/** The default time limit of one store call and of one attempt: half the TTL, between 2 s and 10 s. */
export function defaultRequestTimeoutMs(ttlMs: number): number {
  return Math.min(10_000, Math.max(2_000, Math.floor(ttlMs / 2)));
}

/** Smallest TTL accepted: the store's dates have 1 s resolution. */
export const MIN_TTL_MS = 2_000;
/**
 * Smallest garbage-collection horizon: ten times the age after which a cached view is read again
 * (30 s), so a record created after a fresh view was taken can never have been collected.
 */
export const MIN_GC_HORIZON_MS = 300_000;
/** Largest TTL accepted (one day). */
export const MAX_TTL_MS = 86_400_000;

export function checkTtl(ttlMs: unknown, lockName?: string): number {
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw new S3LockInvalidOptionsError('ttlMs', `must be an integer between ${MIN_TTL_MS} and ${MAX_TTL_MS}, got ${String(ttlMs)}`, lockName);
  }
  return ttlMs;
}

export function checkWait(waitMs: unknown, lockName?: string): number {
  if (typeof waitMs !== 'number' || Number.isNaN(waitMs) || waitMs < 0) {
    throw new S3LockInvalidOptionsError('waitMs', `must be a number >= 0 (Infinity allowed), got ${String(waitMs)}`, lockName);
  }
  return waitMs;
}

function checkPositiveInt(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new S3LockInvalidOptionsError(option, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Safety margin for a TTL: the option, or 10% of the TTL clamped to [100, 2000]. */
export function safetyMarginFor(ttlMs: number, option: number | undefined): number {
  const margin = option ?? Math.min(2_000, Math.max(100, Math.round(ttlMs * 0.1)));
  return Math.min(margin, Math.floor(ttlMs / 2));
}

/** Validates options and applies defaults. Throws {@link S3LockInvalidOptionsError}. */
export function resolveManagerOptions(options: S3LockManagerOptions, defaultHost: string): ResolvedManagerOptions {
  if (options === null || typeof options !== 'object') {
    throw new S3LockInvalidOptionsError('options', 'must be an object');
  }
  if (options.client === null || typeof options.client !== 'object') {
    throw new S3LockInvalidOptionsError('client', 'must be an S3Client or an S3ClientConfig object');
  }
  const bucket = options.bucket;
  if (
    typeof bucket !== 'string' ||
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ||
    /\.\.|\.-|-\./.test(bucket) ||
    /^\d+\.\d+\.\d+\.\d+$/.test(bucket)
  ) {
    throw new S3LockInvalidOptionsError('bucket', `must be a valid S3 bucket name, got ${JSON.stringify(bucket)}`);
  }
  if (bucket.endsWith(DIRECTORY_BUCKET_SUFFIX)) {
    throw new S3LockInvalidOptionsError('bucket', `${JSON.stringify(bucket)} is a directory bucket (S3 Express One Zone: the name ends in ${DIRECTORY_BUCKET_SUFFIX}). ${DIRECTORY_BUCKET_RULE}`);
  }
  const prefix = options.prefix ?? DEFAULTS.prefix;
  if (typeof prefix !== 'string' || prefix.length > 512 || /[\u0000-\u001f\u007f]/.test(prefix) || prefix.startsWith('/')) {
    throw new S3LockInvalidOptionsError('prefix', `must be a string of at most 512 characters without control characters and not starting with "/", got ${JSON.stringify(prefix)}`);
  }
  const notXml = firstNonXmlCharacter(prefix);
  if (notXml !== undefined) {
    throw new S3LockInvalidOptionsError('prefix', `must not contain ${notXml}: ${XML_RULE}; got ${JSON.stringify(prefix)}`);
  }
  if (prefix !== '' && !prefix.endsWith('/')) {
    // "locks/a" + name "x" and "locks/" + name "ax" would share keys: refused, never normalised.
    throw new S3LockInvalidOptionsError('prefix', `must be empty or end in "/" (otherwise lock names of different prefixes alias each other), got ${JSON.stringify(prefix)}`);
  }
  const protocol = options.protocol ?? DEFAULTS.protocol;
  if (protocol !== 'auto' && protocol !== 'create-only' && protocol !== 'versioned') {
    throw new S3LockInvalidOptionsError('protocol', `must be 'auto', 'create-only' or 'versioned', got ${JSON.stringify(protocol)}`);
  }
  const ttlMs = checkTtl(options.ttlMs ?? DEFAULTS.ttlMs);
  if (options.safetyMarginMs !== undefined) checkPositiveInt('safetyMarginMs', options.safetyMarginMs, 0);
  const gcHorizonMs = checkPositiveInt('gcHorizonMs', options.gcHorizonMs ?? DEFAULTS.gcHorizonMs, 0);
  if (gcHorizonMs !== 0 && gcHorizonMs < MIN_GC_HORIZON_MS) {
    throw new S3LockInvalidOptionsError('gcHorizonMs', `must be 0 (no garbage collection) or at least ${MIN_GC_HORIZON_MS} ms, got ${gcHorizonMs}`);
  }
  return Object.freeze({
    bucket,
    prefix,
    ttlMs,
    waitMs: checkWait(options.waitMs ?? DEFAULTS.waitMs),
    protocol,
    maxPollIntervalMs: checkPositiveInt('maxPollIntervalMs', options.maxPollIntervalMs ?? DEFAULTS.maxPollIntervalMs, 20),
    maxInFlight: checkPositiveInt('maxInFlight', options.maxInFlight ?? DEFAULTS.maxInFlight, 1),
    requestTimeoutMs: checkPositiveInt('requestTimeoutMs', options.requestTimeoutMs ?? defaultRequestTimeoutMs(ttlMs), 100),
    safetyMarginMs: options.safetyMarginMs,
    serverClockToleranceMs: checkPositiveInt('serverClockToleranceMs', options.serverClockToleranceMs ?? DEFAULTS.serverClockToleranceMs, 0),
    gcHorizonMs,
    gcIntervalMs: checkPositiveInt('gcIntervalMs', options.gcIntervalMs ?? DEFAULTS.gcIntervalMs, 0),
    host: options.host ?? defaultHost,
  });
}
