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
  /** The holder seen by the attempt, when known (lock instance id, fencing token, expiry...). */
  readonly holder: { ownerId: string; fencingToken?: number; expiresAt?: string; host?: string } | undefined;
  /** Suggested delay before retrying, in seconds (also sent as a `Retry-After` header on HTTP). */
  readonly retryAfterSeconds: number;
}

/**
 * Thrown by `@WithS3Lock()` when the lock is held elsewhere and `onLocked` is `'throw'`, or when
 * `onLocked: 'wait'` timed out. An `HttpException` with status 423 Locked, so routes answer 423
 * without any setup; map it with an exception filter to answer otherwise (409, 503...).
 */
export class S3LockedException extends HttpException {
  /** The lock name. */
  readonly lockName: string;
  /** The holder seen by the attempt, when known. */
  readonly holder: S3LockedHolder | undefined;
  /** Suggested delay before retrying, in seconds. */
  readonly retryAfterSeconds: number;
  /** How long the method waited (`onLocked: 'wait'`), in ms; 0 for `'throw'`. */
  readonly waitedMs: number;

  constructor(lockName: string, holder: S3LockedHolder | undefined, options: { retryAfterSeconds: number; waitedMs?: number; cause?: unknown }) {
    const waitedMs = options.waitedMs ?? 0;
    const message = waitedMs > 0 ? `Lock "${lockName}" is held by another holder (waited ${waitedMs} ms)` : `Lock "${lockName}" is held by another holder`;
    const body: S3LockedResponseBody = {
      statusCode: HttpStatus.LOCKED,
      error: 'Locked',
      message,
      lockName,
      holder:
        holder === undefined
          ? undefined
          : {
              ownerId: holder.ownerId,
              ...(holder.fencingToken === undefined ? {} : { fencingToken: holder.fencingToken }),
              ...(holder.expiresAt === undefined ? {} : { expiresAt: holder.expiresAt.toISOString() }),
              ...(holder.host === undefined ? {} : { host: holder.host }),
            },
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
