import type { ExecutionContext } from '@nestjs/common';
import {
  S3LockClosedError,
  S3LockCorruptRecordError,
  S3LockError,
  S3LockInvalidOptionsError,
  S3LockLostError,
  S3LockNotAcquiredError,
  S3LockStoreError,
  S3LockTimeoutError,
  S3LockUnsupportedStoreError,
  type S3LockHolderInfo,
} from '../core/errors';
import type { ResolvedModuleOptions } from './s3-lock-module-options';
import { S3LockedException, S3LockInvalidNameException, S3LockUnavailableException, type S3LockedHolder } from './s3-lock.exception';
import { unavailableMessage } from './s3-lock.messages';

/** The exceptions the module answers clients with. */
export type S3LockClientException = S3LockedException | S3LockUnavailableException | S3LockInvalidNameException;

/** Whether `error` is one of the module's client answers. */
export function isClientException(error: unknown): error is S3LockClientException {
  return error instanceof S3LockedException || error instanceof S3LockUnavailableException || error instanceof S3LockInvalidNameException;
}

/**
 * The client answer for an error thrown while a handler used a lock, or `undefined` to leave the
 * error alone (it is not the lock's, or `http.mapErrors` is off):
 * - busy (`S3LockTimeoutError`, `S3LockNotAcquiredError`): 423 {@link S3LockedException};
 * - a lock name that breaks a rule (`S3LockInvalidOptionsError` for `name`): 400;
 * - the store failed, refused, lost records, or a lease was lost or the manager closed: 503,
 *   logged at `warn` (`error` for a store that cannot hold locks) with the whole cause.
 * Other invalid options are the application's bug: left alone (500).
 */
export function clientExceptionFor(error: unknown, settings: ResolvedModuleOptions, where?: string): S3LockClientException | undefined {
  if (!settings.http.mapErrors || !(error instanceof S3LockError)) return undefined;
  if (error instanceof S3LockTimeoutError || error instanceof S3LockNotAcquiredError) {
    return lockedException(error.lockName!, error.holder, settings, { waitedMs: error instanceof S3LockTimeoutError ? error.waitedMs : 0, cause: error });
  }
  if (error instanceof S3LockInvalidOptionsError) {
    return error.option === 'name' ? new S3LockInvalidNameException(error.rule, error) : undefined;
  }
  if (
    error instanceof S3LockStoreError ||
    error instanceof S3LockUnsupportedStoreError ||
    error instanceof S3LockCorruptRecordError ||
    error instanceof S3LockLostError ||
    error instanceof S3LockClosedError
  ) {
    const message = unavailableMessage(where, error);
    if (error instanceof S3LockUnsupportedStoreError || error instanceof S3LockCorruptRecordError) settings.logger?.error(message);
    else settings.logger?.warn(message);
    return new S3LockUnavailableException({ retryAfterSeconds: settings.http.unavailableRetryAfterSeconds, cause: error });
  }
  return undefined;
}

/** The 423 for a busy lock, with the module's `Retry-After` rule and holder exposure. */
export function lockedException(
  lockName: string,
  holder: S3LockHolderInfo | S3LockedHolder | undefined,
  settings: ResolvedModuleOptions,
  options: { waitedMs?: number; cause?: unknown } = {},
): S3LockedException {
  return new S3LockedException(lockName, holder, {
    retryAfterSeconds: retryAfterSeconds(holder?.expiresAt, settings.http.retryAfterSeconds),
    exposeHolder: settings.http.exposeHolder,
    ...options,
  });
}

/**
 * `Retry-After` of a 423: `http.retryAfterSeconds` (default 1), but never later than the holder's
 * lease could expire (its expiry is an upper bound of the wait, not an estimate: a renewing holder
 * keeps it, a finishing one frees it much sooner). At least 1.
 */
export function retryAfterSeconds(expiresAt: Date | undefined, configured: number): number {
  if (!expiresAt) return configured;
  const untilExpiry = Math.ceil((expiresAt.getTime() - Date.now()) / 1000);
  return Math.max(1, Math.min(configured, untilExpiry));
}

/** `GET /orders/1`, `rpc OrdersController.pay`...: where a client answer was made, for logs. */
export function describeHandler(context: ExecutionContext): string {
  const type = context.getType<string>();
  if (type === 'http') {
    const request = context.switchToHttp().getRequest<{ method?: string; url?: string; originalUrl?: string } | undefined>();
    if (request?.method) return `${request.method} ${request.originalUrl ?? request.url ?? ''}`;
  }
  return `${type} ${context.getClass().name}.${context.getHandler().name}`;
}
