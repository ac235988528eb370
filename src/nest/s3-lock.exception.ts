import { HttpException, HttpStatus } from '@nestjs/common';
import type { S3LockHolderInfo } from '../core/errors';

/** Who held the lock, as far as the failed attempt learned. */
export type S3LockedHolder = Pick<S3LockHolderInfo, 'ownerId'> & Partial<Omit<S3LockHolderInfo, 'ownerId'>>;

/** Response body of {@link S3LockedException}. */
export interface S3LockedResponseBody {
  readonly statusCode: 423;
  readonly error: 'Locked';
  readonly message: string;
  /** The lock name. */
  readonly lockName: string;
  /**
   * The holder seen by the attempt, only with the module's `http.exposeHolder: true` (it names
   * hosts and pids, which clients should not usually learn).
   */
  readonly holder?: { managerId?: string; fencingToken?: number; expiresAt?: string; host?: string; pid?: number };
  /** Suggested delay before retrying, in seconds (also sent as a `Retry-After` header on HTTP). */
  readonly retryAfterSeconds: number;
}

/**
 * Thrown by `@WithS3Lock()` when the lock is held elsewhere and `onLocked` is `'throw'`, or when
 * `onLocked: 'wait'` timed out; the module also answers with it for an `S3LockTimeoutError` or
 * `S3LockNotAcquiredError` thrown in a route (`S3LockService.using()`, `lock().acquire()`). An
 * `HttpException` with status 423 Locked and a `Retry-After` header; map it with an exception
 * filter to answer otherwise (409, 503...).
 */
export class S3LockedException extends HttpException {
  /** The lock name. */
  readonly lockName: string;
  /** The holder seen by the attempt, when known (always kept here; in the body only with `exposeHolder`). */
  readonly holder: S3LockedHolder | undefined;
  /** Suggested delay before retrying, in seconds. */
  readonly retryAfterSeconds: number;
  /** How long the method waited (`onLocked: 'wait'`), in ms; 0 for `'throw'`. */
  readonly waitedMs: number;

  constructor(
    lockName: string,
    holder: S3LockedHolder | undefined,
    options: { retryAfterSeconds: number; waitedMs?: number; cause?: unknown; exposeHolder?: boolean },
  ) {
    const waitedMs = options.waitedMs ?? 0;
    const message = waitedMs > 0 ? `Lock "${lockName}" is held by another holder (waited ${waitedMs} ms)` : `Lock "${lockName}" is held by another holder`;
    const body: S3LockedResponseBody = {
      statusCode: HttpStatus.LOCKED,
      error: 'Locked',
      message,
      lockName,
      ...(options.exposeHolder === true && holder !== undefined ? { holder: holderBody(holder) } : {}),
      retryAfterSeconds: options.retryAfterSeconds,
    };
    super(body, HttpStatus.LOCKED, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3LockedException';
    this.lockName = lockName;
    this.holder = holder;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.waitedMs = waitedMs;
  }
}

function holderBody(holder: S3LockedHolder): NonNullable<S3LockedResponseBody['holder']> {
  return {
    ...(holder.managerId === undefined ? {} : { managerId: holder.managerId }),
    ...(holder.fencingToken === undefined ? {} : { fencingToken: holder.fencingToken }),
    ...(holder.expiresAt === undefined ? {} : { expiresAt: holder.expiresAt.toISOString() }),
    ...(holder.host === undefined ? {} : { host: holder.host }),
    ...(holder.pid === undefined ? {} : { pid: holder.pid }),
  };
}

/** Response body of {@link S3LockUnavailableException}: generic, nothing about the store. */
export interface S3LockUnavailableResponseBody {
  readonly statusCode: 503;
  readonly error: 'Service Unavailable';
  readonly message: string;
  /** Suggested delay before retrying, in seconds (also sent as a `Retry-After` header on HTTP). */
  readonly retryAfterSeconds: number;
}

/**
 * The answer to a client when the lock store failed (unreachable, refused the credentials, missing
 * bucket, a lease lost...) while a route, RPC or WebSocket handler used a lock: 503 with a generic
 * body and a `Retry-After` header. The store's own status (403, 404...) never reaches the client;
 * the original error is the `cause`, and the module logs it at `warn`.
 */
export class S3LockUnavailableException extends HttpException {
  /** Suggested delay before retrying, in seconds. */
  readonly retryAfterSeconds: number;

  constructor(options: { retryAfterSeconds: number; cause: unknown }) {
    const body: S3LockUnavailableResponseBody = {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      message: 'A lock needed for this request is unavailable; retry later',
      retryAfterSeconds: options.retryAfterSeconds,
    };
    super(body, HttpStatus.SERVICE_UNAVAILABLE, { cause: options.cause });
    this.name = 'S3LockUnavailableException';
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Response body of {@link S3LockInvalidNameException}. */
export interface S3LockInvalidNameResponseBody {
  readonly statusCode: 400;
  readonly error: 'Bad Request';
  readonly message: string;
  /** The rule the name broke, e.g. `a lock name must be at most 256 characters, got 2000`. */
  readonly rule: string;
}

/**
 * The answer to a client when a lock name built from the request is invalid (empty, longer than
 * 256 characters, control characters...): 400 naming the rule it broke.
 */
export class S3LockInvalidNameException extends HttpException {
  /** The rule the name broke. */
  readonly rule: string;

  constructor(rule: string, cause: unknown) {
    const body: S3LockInvalidNameResponseBody = { statusCode: HttpStatus.BAD_REQUEST, error: 'Bad Request', message: `Invalid lock name: ${rule}`, rule };
    super(body, HttpStatus.BAD_REQUEST, { cause });
    this.name = 'S3LockInvalidNameException';
    this.rule = rule;
  }
}
