/**
 * One error hierarchy for the whole library. Every error carries the lock name it concerns
 * (or `undefined` for errors about the store or the options as a whole) and the data needed
 * to act on it.
 */
export abstract class S3LockError extends Error {
  /** The lock name this error concerns, when there is one. */
  readonly lockName: string | undefined;

  protected constructor(message: string, lockName: string | undefined, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.lockName = lockName;
  }
}

/** Who held a lock when an attempt failed, as far as the store said. */
export interface S3LockHolderInfo {
  /** Lock instance id (uuid) of the holder. */
  readonly ownerId: string;
  /** Lease id of the holder's acquisition. */
  readonly leaseId: string;
  /** Fencing token of the holder's lease. */
  readonly fencingToken: number;
  /** Earliest server time (ms since epoch) at which the lease can be taken over, if known. */
  readonly expiresAt: Date | undefined;
  /** Informational: host name of the holder process. */
  readonly host: string | undefined;
  /** Informational: pid of the holder process. */
  readonly pid: number | undefined;
}

/** The lock is held by someone else and the caller asked not to wait (`onLocked: 'throw'`). */
export class S3LockNotAcquiredError extends S3LockError {
  constructor(
    lockName: string,
    /** The holder seen by the failed attempt, when known. */
    readonly holder: S3LockHolderInfo | undefined,
  ) {
    super(`Lock "${lockName}" is held by ${describeHolder(holder)}`, lockName);
  }
}

/** `acquire()` waited `waitMs` without getting the lock. */
export class S3LockTimeoutError extends S3LockError {
  constructor(
    lockName: string,
    /** How long the caller waited, in ms. */
    readonly waitedMs: number,
    /** The holder seen last, when known. */
    readonly holder: S3LockHolderInfo | undefined,
  ) {
    super(`Timed out after ${waitedMs} ms waiting for lock "${lockName}", held by ${describeHolder(holder)}`, lockName);
  }
}

/** Why a lease was lost. */
export type S3LockLossReason =
  /** The lease could not be renewed before its local deadline (store unreachable, slow, or process paused). */
  | 'deadline-passed'
  /** Another holder took the lock over (the store shows a newer lease). */
  | 'taken-over'
  /**
   * The store lost the lock's records (store restarted without state, bucket deleted or re-created,
   * prefix emptied): the lock's generation record is missing or was replaced, or the bucket is missing.
   */
  | 'records-lost'
  /** The manager was closed or the application is shutting down. */
  | 'closed';

/** A held lease was lost. Used as the `reason` of the lease's AbortSignal. */
export class S3LockLostError extends S3LockError {
  constructor(
    lockName: string,
    readonly reason: S3LockLossReason,
    /** Fencing token of the lost lease. */
    readonly fencingToken: number,
    cause?: unknown,
  ) {
    super(`Lock "${lockName}" (fencing token ${fencingToken}) was lost: ${lossText(reason)}`, lockName, { cause });
  }
}

/** The primitive a store failed to honour during the probe. */
export type S3LockProbePrimitive =
  | 'if-none-match'
  | 'versioning'
  | 'list-object-versions'
  | 'bucket-access'
  /** The prefix is declared (in `<prefix>.protocol`) for another protocol than the one configured. */
  | 'protocol-declaration';

/** The store (bucket and prefix) cannot support the chosen protocol. */
export class S3LockUnsupportedStoreError extends S3LockError {
  constructor(
    readonly bucket: string,
    readonly prefix: string,
    readonly protocol: string,
    readonly failedPrimitive: S3LockProbePrimitive,
    readonly advice: string,
    cause?: unknown,
    /** For {@link S3LockProtocolMismatchError}: the protocol the prefix is declared for. */
    declaredProtocol?: string,
  ) {
    super(
      `Store refused for protocol "${protocol}" (bucket "${bucket}", prefix "${prefix}"): ` +
        `${primitiveText(failedPrimitive, protocol, declaredProtocol)}. ${advice}`,
      undefined,
      { cause },
    );
  }
}

/**
 * The bucket and prefix are declared for another protocol than the one this manager is configured
 * for: processes on one prefix must all use one protocol (neither sees the other's leases). The
 * declaration is the object `<prefix>.protocol`, written by the first manager that used the prefix.
 */
export class S3LockProtocolMismatchError extends S3LockUnsupportedStoreError {
  constructor(
    bucket: string,
    prefix: string,
    /** The protocol this manager is configured for. */
    configuredProtocol: string,
    /** The protocol the prefix is declared for (as written in the declaration). */
    readonly declaredProtocol: string,
    /** Key of the declaration object. */
    readonly declarationKey: string,
    advice: string,
  ) {
    super(bucket, prefix, configuredProtocol, 'protocol-declaration', advice, undefined, declaredProtocol);
  }
}

/** Options or a lock name were invalid. */
export class S3LockInvalidOptionsError extends S3LockError {
  constructor(
    /** The option (or `name`) that was invalid. */
    readonly option: string,
    message: string,
    lockName?: string,
  ) {
    super(lockName === undefined ? `Invalid option ${option}: ${message}` : `Invalid ${option} for lock "${lockName}": ${message}`, lockName);
  }
}

/** The store failed (network error, 5xx, access denied...) and the operation's outcome could not be settled. */
export class S3LockStoreError extends S3LockError {
  constructor(
    lockName: string | undefined,
    /** What the library was doing, e.g. `acquire`, `renew`, `release`, `inspect`, `probe`. */
    readonly operation: string,
    /** HTTP status code from the store, when there was a response. */
    readonly statusCode: number | undefined,
    cause: unknown,
    /** The bucket the failed request went to, when known. */
    readonly bucket?: string,
  ) {
    super(
      `S3 store failed during ${operation}${lockName === undefined ? '' : ` of lock "${lockName}"`}` +
        `${bucket === undefined ? '' : ` in bucket "${bucket}"`}` +
        `${statusCode === undefined ? '' : ` (HTTP ${statusCode})`}: ${causeText(cause)}`,
      lockName,
      { cause },
    );
  }

  /**
   * Whether waiting cannot cure this failure: the store refused the credentials or the request
   * (403: `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`...), the bucket lives
   * elsewhere (301 `PermanentRedirect`), or the bucket does not exist
   * ({@link S3LockBucketMissingError}). An acquisition fails at once on such an error instead of
   * retrying until `waitMs` runs out.
   */
  get isPermanent(): boolean {
    return this.statusCode === 403 || this.statusCode === 301;
  }

  /** This error naming `lockName` (a copy, when it named no lock: a failure at the manager's first use). */
  forLock(lockName: string): S3LockStoreError {
    if (this.lockName !== undefined) return this;
    return new S3LockStoreError(lockName, this.operation, this.statusCode, this.cause, this.bucket);
  }
}

/**
 * The bucket does not exist (an S3 `NoSuchBucket` answer): deleted, not created yet, or misnamed.
 * Never read as "no record". A holder that meets it loses its lease with reason `records-lost`.
 */
export class S3LockBucketMissingError extends S3LockStoreError {
  constructor(
    lockName: string | undefined,
    operation: string,
    /** The bucket that is missing. */
    override readonly bucket: string,
    cause: unknown,
  ) {
    super(lockName, operation, 404, new Error(`bucket "${bucket}" does not exist (NoSuchBucket)`, { cause }));
  }

  /** Always: an acquisition does not wait for the bucket to be created. */
  override get isPermanent(): boolean {
    return true;
  }

  override forLock(lockName: string): S3LockBucketMissingError {
    if (this.lockName !== undefined) return this;
    return new S3LockBucketMissingError(lockName, this.operation, this.bucket, (this.cause as Error).cause);
  }
}

/** The manager was closed; no further locks can be taken with it. */
export class S3LockClosedError extends S3LockError {
  constructor(lockName: string | undefined) {
    super(`The lock manager is closed${lockName === undefined ? '' : `; cannot lock "${lockName}"`}`, lockName);
  }
}

/**
 * A record in the store could not be read as a lock record (planted or corrupted), or a record
 * stands where the lock cannot go on (at the largest epoch the key format allows). Permanent:
 * waiting does not cure it, an operator must remove the record.
 */
export class S3LockCorruptRecordError extends S3LockError {
  constructor(
    lockName: string,
    /** Key of the offending record. */
    readonly key: string,
    /** What is wrong with it. */
    readonly problem: string,
    /** The bucket the record is in, when known. */
    readonly bucket?: string,
  ) {
    super(
      `Lock "${lockName}": record ${key}${bucket === undefined ? '' : ` in bucket "${bucket}"`} is not a valid lock record (${problem}); remove it by hand or use another prefix`,
      lockName,
    );
  }
}

function describeHolder(holder: S3LockHolderInfo | undefined): string {
  if (!holder) return 'another holder';
  const where = holder.host ? ` on ${holder.host}${holder.pid === undefined ? '' : ` pid ${holder.pid}`}` : '';
  const until = holder.expiresAt ? ` until at least ${holder.expiresAt.toISOString()}` : '';
  return `instance ${holder.ownerId}${where} (fencing token ${holder.fencingToken})${until}`;
}

function lossText(reason: S3LockLossReason): string {
  switch (reason) {
    case 'deadline-passed':
      return 'the lease could not be renewed before its deadline';
    case 'taken-over':
      return 'another holder took the lock over';
    case 'records-lost':
      return 'the store lost the lock\'s records (generation record missing or replaced, or bucket missing)';
    case 'closed':
      return 'the lock manager was closed';
  }
}

function primitiveText(p: S3LockProbePrimitive, configured: string, declared: string | undefined): string {
  switch (p) {
    case 'if-none-match':
      return 'PutObject with If-None-Match: * was not honoured (a second create of the same key succeeded)';
    case 'versioning':
      return 'bucket versioning is not enabled or not supported';
    case 'list-object-versions':
      return 'ListObjectVersions did not list the versions just written, newest first';
    case 'bucket-access':
      return 'the bucket could not be reached';
    case 'protocol-declaration':
      return `this prefix is declared for protocol '${declared ?? '?'}', and this manager is configured for '${configured}'`;
  }
}

function causeText(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
