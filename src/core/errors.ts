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
  /** Informational: id of the holder's lock manager (stable while that manager lives). */
  readonly managerId?: string | undefined;
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

/**
 * A semaphore was asked for with a number of permits other than the one its name is declared
 * with in the store: every holder of one semaphore must agree on `permits`, or more holders than
 * either side allows could hold at once. Permanent: waiting does not cure it.
 */
export class S3LockPermitsMismatchError extends S3LockError {
  constructor(
    lockName: string,
    readonly bucket: string,
    /** The permits this caller asked for. */
    readonly configuredPermits: number,
    /** The permits the store's declaration says. */
    readonly declaredPermits: number,
    /** Key of the semaphore's declaration object. */
    readonly declarationKey: string,
  ) {
    super(
      `Semaphore "${lockName}" in bucket "${bucket}" is declared with ${declaredPermits} permits (${declarationKey}), but this caller asked for ${configuredPermits}: ` +
        `every holder of one semaphore must use the same permits. Use ${declaredPermits}, or another name; to change the permits of this name, ` +
        `stop every process using it, then delete ${declarationKey} (every version of it, in a versioned bucket).`,
      lockName,
    );
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
    this.rule = message;
  }

  /** The rule that was broken, without the option's name (e.g. `a lock name must not be empty`). */
  readonly rule: string;
}

/** Where a failed store request went, as far as the library knows. */
export interface S3LockStoreErrorContext {
  /** The bucket. */
  readonly bucket?: string;
  /** The manager's key prefix. */
  readonly prefix?: string;
  /** The endpoint the request went to (`protocol://host:port`), once any request was sent. */
  readonly endpoint?: string;
  /** The S3 API call that failed, e.g. `PutObject`, `HeadObject`, `ListObjectsV2`. */
  readonly s3Operation?: string;
  /** The store's error code, when the cause does not carry it. */
  readonly storeErrorCode?: string;
}

/**
 * The store failed (network error, timeout, 5xx, access denied, missing bucket...) and the
 * operation's outcome could not be settled. The message names the operation, the lock, the S3
 * call, bucket, prefix and endpoint, the store's error code and status, and what to do
 * ({@link advice}).
 *
 * The store's HTTP status is {@link storeStatusCode}, deliberately not `statusCode` or `status`:
 * Nest (and Express) forward an error's `statusCode` to the HTTP client, and a client must never
 * get the store's 403 or 404. In a Nest application the module answers 503 instead.
 */
export class S3LockStoreError extends S3LockError {
  /** HTTP status code of the store's answer, when there was one (also for a 503 the SDK retried). */
  readonly storeStatusCode: number | undefined;
  /** The store's error code (`NoSuchBucket`, `AccessDenied`, `SlowDown`...) or the network error (`ECONNREFUSED`, `TimeoutError`...). */
  readonly storeErrorCode: string | undefined;
  /** The bucket the failed request went to, when known. */
  readonly bucket: string | undefined;
  /** The manager's key prefix, when known. */
  readonly prefix: string | undefined;
  /** The endpoint the request went to, when known. */
  readonly endpoint: string | undefined;
  /** The S3 API call that failed (`PutObject`...), when known. */
  readonly s3Operation: string | undefined;
  /** What to do about it, in one or two sentences. */
  readonly advice: string;

  constructor(
    lockName: string | undefined,
    /** What the library was doing, e.g. `acquire`, `renew`, `release`, `inspect`, `probe`. */
    readonly operation: string,
    /** The store's HTTP status; read from `cause` when undefined. */
    storeStatusCode: number | undefined,
    cause: unknown,
    context: S3LockStoreErrorContext = {},
  ) {
    const status = storeStatusCode ?? statusOfCause(cause);
    const code = context.storeErrorCode ?? errorCodeOf(cause);
    const advice = adviceFor(code, status, context, cause);
    super(storeErrorMessage(lockName, operation, status, code, cause, context, advice), lockName, { cause });
    this.storeStatusCode = status;
    this.storeErrorCode = code;
    this.bucket = context.bucket;
    this.prefix = context.prefix;
    this.endpoint = context.endpoint;
    this.s3Operation = context.s3Operation;
    this.advice = advice;
  }

  /**
   * Whether waiting cannot cure this failure: the store refused the credentials or the request
   * (403: `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `AccessDenied`...), the bucket lives
   * elsewhere (301 `PermanentRedirect`, 400 `AuthorizationHeaderMalformed`), the bucket name is
   * invalid, or the bucket does not exist ({@link S3LockBucketMissingError}). An acquisition fails
   * at once on such an error instead of retrying until `waitMs` runs out.
   */
  get isPermanent(): boolean {
    return this.storeStatusCode === 403 || this.storeStatusCode === 301 || PERMANENT_CODES.has(this.storeErrorCode ?? '');
  }

  /** The context this error was built with. */
  get context(): S3LockStoreErrorContext {
    return { bucket: this.bucket, prefix: this.prefix, endpoint: this.endpoint, s3Operation: this.s3Operation, storeErrorCode: this.storeErrorCode };
  }

  /** This error naming `lockName` (a copy, when it named no lock: a failure at the manager's first use). */
  forLock(lockName: string): S3LockStoreError {
    if (this.lockName !== undefined) return this;
    return new S3LockStoreError(lockName, this.operation, this.storeStatusCode, this.cause, this.context);
  }
}

/** Store error codes that waiting does not cure (besides every 403 and 301). */
const PERMANENT_CODES = new Set(['NoSuchBucket', 'AuthorizationHeaderMalformed', 'InvalidBucketName', 'PermanentRedirect', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);

/**
 * The bucket does not exist (an S3 `NoSuchBucket` answer): deleted, not created yet, or misnamed.
 * Never read as "no record". A holder that meets it loses its lease with reason `records-lost`.
 */
export class S3LockBucketMissingError extends S3LockStoreError {
  constructor(lockName: string | undefined, operation: string, bucket: string, cause: unknown, context: S3LockStoreErrorContext = {}) {
    super(lockName, operation, 404, cause, { ...context, bucket, storeErrorCode: 'NoSuchBucket' });
  }

  /** Always: an acquisition does not wait for the bucket to be created. */
  override get isPermanent(): boolean {
    return true;
  }

  override forLock(lockName: string): S3LockBucketMissingError {
    if (this.lockName !== undefined) return this;
    return new S3LockBucketMissingError(lockName, this.operation, this.bucket!, this.cause, this.context);
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

/**
 * A holder as people read it: host, pid and manager id (stable for a process's manager), never
 * the per-attempt lock instance id alone.
 */
export function describeHolder(holder: (Partial<S3LockHolderInfo> & Pick<S3LockHolderInfo, 'ownerId'>) | undefined): string {
  if (!holder) return 'another holder';
  const process = holder.host ? `${holder.host}${holder.pid === undefined ? '' : ` pid ${holder.pid}`}` : holder.pid === undefined ? 'a process' : `pid ${holder.pid}`;
  const details = [
    holder.managerId === undefined ? `instance ${holder.ownerId}` : `manager ${holder.managerId.slice(0, 8)}`,
    holder.fencingToken === undefined ? undefined : `fencing token ${holder.fencingToken}`,
  ].filter((d) => d !== undefined);
  const until = holder.expiresAt ? ` until at least ${holder.expiresAt.toISOString()}` : '';
  return `${process} (${details.join(', ')})${until}`;
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

function storeErrorMessage(
  lockName: string | undefined,
  operation: string,
  status: number | undefined,
  code: string | undefined,
  cause: unknown,
  context: S3LockStoreErrorContext,
  advice: string,
): string {
  const where = [
    context.s3Operation,
    context.bucket === undefined ? undefined : `bucket "${context.bucket}"`,
    context.prefix === undefined ? undefined : `prefix "${context.prefix}"`,
    context.endpoint === undefined ? undefined : `endpoint ${context.endpoint}`,
  ].filter((part) => part !== undefined);
  const answer = status === undefined ? (isNetworkCode(code) || code === undefined ? 'no answer' : code) : `HTTP ${status}${code === undefined ? '' : ` ${code}`}`;
  // the SDK names an error after its code: "AccessDenied: Access Denied", not "AccessDenied: AccessDenied: ..."
  const said = cause instanceof Error && cause.name === code ? cause.message : causeText(cause);
  return (
    `S3 store failed during ${operation}${lockName === undefined ? '' : ` of lock "${lockName}"`}` +
    `${where.length === 0 ? '' : ` (${where.join(', ')})`}: ${answer}: ${said}. ${advice}`
  );
}

/** The HTTP status of an SDK error (`$metadata.httpStatusCode`), also inside a wrapping error's cause. */
function statusOfCause(cause: unknown): number | undefined {
  for (let e: unknown = cause, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const meta = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
    if (typeof meta?.httpStatusCode === 'number') return meta.httpStatusCode;
  }
  return undefined;
}

/** The store's error code (`Code` of the XML body, as the SDK names the error) or a network error's code. */
function errorCodeOf(cause: unknown): string | undefined {
  for (let e: unknown = cause, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const err = e as { name?: unknown; Code?: unknown; code?: unknown; $metadata?: unknown };
    if (typeof err.Code === 'string' && err.Code) return err.Code;
    if (typeof err.code === 'string' && /^E[A-Z_]+$/.test(err.code)) return err.code;
    if (typeof err.name === 'string' && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'TimeoutError';
    if (err.$metadata !== undefined && typeof err.name === 'string' && !GENERIC_NAMES.has(err.name)) return err.name;
  }
  return undefined;
}

/** SDK error names that say nothing beyond the status. */
const GENERIC_NAMES = new Set(['Error', 'Unknown', 'UnknownError', 'S3ServiceException']);

function isNetworkCode(code: string | undefined): boolean {
  return code !== undefined && (code === 'TimeoutError' || /^E[A-Z_]+$/.test(code));
}

/** What the lock needs from the store, for advice on a denied request. */
export const REQUIRED_S3_PERMISSIONS =
  's3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket and prefix ' +
  '(the versioned protocol also s3:GetObjectVersion, s3:DeleteObjectVersion, s3:ListBucketVersions and s3:GetBucketVersioning)';

/** The IAM action an S3 API call needs. */
function iamActionOf(s3Operation: string | undefined): string | undefined {
  switch (s3Operation) {
    case undefined:
      return undefined;
    case 'HeadObject':
    case 'GetObject':
      return 's3:GetObject';
    case 'ListObjectsV2':
      return 's3:ListBucket';
    case 'ListObjectVersions':
      return 's3:ListBucketVersions';
    case 'DeleteObjects':
      return 's3:DeleteObject';
    default:
      return `s3:${s3Operation}`;
  }
}

function adviceFor(code: string | undefined, status: number | undefined, context: S3LockStoreErrorContext, cause: unknown): string {
  const bucket = context.bucket === undefined ? 'the bucket' : `bucket "${context.bucket}"`;
  const endpoint = context.endpoint ?? 'the configured endpoint';
  const action = iamActionOf(context.s3Operation);
  switch (code) {
    case 'NoSuchBucket':
      return `${capitalize(bucket)} does not exist at ${endpoint}: create it, or fix the bucket name, the endpoint or the region.`;
    case 'AccessDenied':
      return `The credentials are not allowed ${action ?? 'this request'} on ${bucket}. The lock needs ${REQUIRED_S3_PERMISSIONS}.`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return 'The store refused the credentials: check the access key id and secret the S3 client uses (its credentials option, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the profile).';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return `${capitalize(bucket)} is in another region${regionHint(cause)}: set the S3 client's region to the bucket's region.`;
    case 'InvalidBucketName':
      return `${capitalize(bucket)} is not a valid bucket name: fix the bucket option.`;
    case 'SlowDown':
    case 'ServiceUnavailable':
    case 'InternalError':
      return 'The store is overloaded or failing; the lock retries while the caller waits. Fewer requests (longer TTLs, fewer waiters) or more store capacity help.';
    case 'TimeoutError':
      return `${endpoint} did not answer within the request timeout (requestTimeoutMs): the store is slow or unreachable; check the endpoint, the network and the store.`;
  }
  if (status === 403) {
    const why = context.s3Operation === 'HeadObject' ? ' (a HEAD request carries no body)' : '';
    return `HTTP 403 without an error code${why}: the credentials are wrong, or ${action ?? 'the request'} is denied on ${bucket}. The lock needs ${REQUIRED_S3_PERMISSIONS}.`;
  }
  if (status === 301) return `${capitalize(bucket)} is in another region${regionHint(cause)}: set the S3 client's region to the bucket's region.`;
  if (status !== undefined && status >= 500) return 'The store is failing; the lock retries while the caller waits.';
  if (status === undefined && isNetworkCode(code)) return `${endpoint} could not be reached (${code}): check the endpoint URL, the network and that the store is running.`;
  if (status === undefined && code === undefined && context.s3Operation !== undefined) return `${endpoint} could not be reached: check the endpoint URL, the network and that the store is running.`;
  return 'See the cause.';
}

function regionHint(cause: unknown): string {
  const headers = (cause as { $response?: { headers?: Record<string, string> } } | null)?.$response?.headers;
  const region = headers?.['x-amz-bucket-region'] ?? (cause as { Region?: string } | null)?.Region;
  return typeof region === 'string' && region ? ` (${region}, as the store says)` : '';
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
