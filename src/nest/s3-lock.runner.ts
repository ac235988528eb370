import { StreamableFile } from '@nestjs/common';
import { finished, type Readable } from 'node:stream';
import { isObservable, Observable, type Subscription } from 'rxjs';
import { S3LockInvalidOptionsError } from '../core/errors';
import { clientExceptionFor } from './s3-lock.client-errors';
import { contextIn, findFrame, runOutsideHandlerScope, runWithHold, singleHold, takeHandlerScope } from './s3-lock.context';
import { canonicalOrder, checkMethodLockName, type S3LockMethodMetadata } from './s3-lock.decorator';
import { noServiceMessage, skippedClosedMessage, skippedMessage } from './s3-lock.messages';
import { serviceFor } from './s3-lock.registry';
import type { MethodLock, MethodLockRequest, MethodLockTarget, S3LockService } from './s3-lock.service';

type Method = (...args: unknown[]) => unknown;

/**
 * The body of every `@WithS3Lock()` wrapper: finds the application's service through the instance,
 * resolves the lock name from the arguments, and runs the method under the lock: as a Promise for
 * direct calls, as an Observable when the interceptor runs it as a handler.
 */
export function runLocked(instance: unknown, method: Method, args: unknown[], metadata: S3LockMethodMetadata): unknown {
  if (metadata.options.enabled === false) return method.apply(instance, args);
  const service = serviceFor<S3LockService>(instance);
  const asHandler = takeHandlerScope(metadata);
  if (!service) {
    const error = new Error(noServiceMessage(metadata.where));
    if (asHandler) throw error;
    return Promise.reject(error);
  }
  let target: MethodLockTarget;
  try {
    target = lockTarget(instance, args, metadata);
  } catch (error) {
    if (asHandler) throw forHandler(error, service, metadata);
    return Promise.reject(error instanceof S3LockInvalidOptionsError ? new S3LockInvalidOptionsError(error.option, `@WithS3Lock() on ${metadata.where}: ${error.rule}`, error.lockName) : error);
  }
  const left = notHeldYet(service, target);
  if (!left) {
    // The flow already holds this lock (nested call): run under it; one name of a multi-name hold
    // is given as that name's own lease.
    const single = target.kind === 'lock' ? target.name : undefined;
    const frame = single === undefined ? undefined : findFrame(service, single, 'lock');
    if (frame?.multi) return runWithHold(service, singleHold(contextIn(frame, single)), () => method.apply(instance, args));
    return asHandler ? runOutsideHandlerScope(() => method.apply(instance, args)) : method.apply(instance, args);
  }
  target = left;
  const settings = service.moduleOptions;
  const { options } = metadata;
  const request: MethodLockRequest = {
    name: target.kind === 'multi' ? target.names.join(', ') : target.name,
    target,
    onLocked: options.onLocked ?? (asHandler ? settings.onLockedRoute : settings.onLockedMethod),
    ttlMs: options.ttlMs ?? settings.ttlMs,
    waitMs: options.waitMs ?? settings.waitMs,
    minHoldMs: options.minHoldMs ?? settings.minHoldMs,
    telemetryName: metadata.telemetryName,
  };
  const call: LockedCall = { service, method, instance, args, metadata, request };
  return asHandler ? runAsObservable(call) : runAsPromise(call);
}

interface LockedCall {
  readonly service: S3LockService;
  readonly method: Method;
  readonly instance: unknown;
  readonly args: unknown[];
  readonly metadata: S3LockMethodMetadata;
  readonly request: MethodLockRequest;
}

/** A handler's error as its client should get it (423, 503, 400; see {@link clientExceptionFor}). */
function forHandler(error: unknown, service: S3LockService, metadata: S3LockMethodMetadata): unknown {
  return clientExceptionFor(error, service.moduleOptions, metadata.where) ?? error;
}

/**
 * What this call locks: the lock name, the semaphore (with `permits`), or several names (an array,
 * in canonical order). Each name is checked against the engine's rules (non-empty, at most 256
 * characters, XML-safe): a name built from request input that breaks one throws
 * `S3LockInvalidOptionsError` for `name`, which a handler answers with 400 naming the rule.
 */
function lockTarget(instance: unknown, args: unknown[], metadata: S3LockMethodMetadata): MethodLockTarget {
  const name: unknown = typeof metadata.name === 'function' ? (metadata.name as Method).apply(instance, args) : metadata.name;
  const { permits } = metadata.options;
  if (Array.isArray(name)) {
    if (permits !== undefined) throw new S3LockInvalidOptionsError('permits', 'a semaphore (permits) takes one name, but the name function returned an array');
    if (name.length === 0) throw new S3LockInvalidOptionsError('name', 'an array of lock names must not be empty');
    return { kind: 'multi', names: canonicalOrder((name as unknown[]).map(checkMethodLockName)) };
  }
  const checked = checkMethodLockName(name);
  return permits === undefined ? { kind: 'lock', name: checked } : { kind: 'semaphore', name: checked, permits };
}

/**
 * What is left to take once the flow's holds are counted: `undefined` when it already holds the
 * target (a nested call runs under it); for several names, the ones it does not hold yet.
 */
function notHeldYet(service: S3LockService, target: MethodLockTarget): MethodLockTarget | undefined {
  if (target.kind !== 'multi') return findFrame(service, target.name, target.kind) ? undefined : target;
  const names = target.names.filter((n) => !findFrame(service, n, 'lock'));
  if (names.length === 0) return undefined;
  return names.length === target.names.length ? target : { kind: 'multi', names };
}

/** Acquires per `onLocked`; `undefined` when skipped (logged). */
async function acquire(call: LockedCall): Promise<MethodLock | undefined> {
  const outcome = await call.service.acquireForMethod(call.request);
  if (outcome.acquired) return outcome.lock;
  const logger = call.service.moduleOptions.logger;
  const message = outcome.closed ? skippedClosedMessage(call.metadata.where, call.request.name) : skippedMessage(call.metadata.where, outcome.lockName ?? call.request.name, outcome.holder);
  logger?.debug?.(message);
  return undefined;
}

function invoke(call: LockedCall, lock: MethodLock): unknown {
  return runWithHold(call.service, lock.hold, () => call.method.apply(call.instance, call.args));
}

/** Direct calls: a Promise of the method's result, released after it settles. */
async function runAsPromise(call: LockedCall): Promise<unknown> {
  const lock = await acquire(call);
  if (!lock) return undefined;
  let handedOver = false;
  try {
    let result = invoke(call, lock);
    if (isObservable(result)) {
      handedOver = true;
      return holdUntilFinalized(result, call, lock);
    }
    if (isThenable(result)) result = await result;
    if (isObservable(result)) {
      handedOver = true;
      return holdUntilFinalized(result, call, lock);
    }
    handedOver = holdUntilStreamEnds(result, lock);
    return result;
  } finally {
    if (!handedOver) await lock.release();
  }
}

/**
 * Handlers run by the interceptor: a cold Observable that acquires on subscription and releases
 * when the result settles (before emitting it), or when a returned Observable completes, errors or
 * is unsubscribed.
 */
function runAsObservable(call: LockedCall): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let lock: MethodLock | undefined;
    let inner: Subscription | undefined;
    let stopped = false;
    const release = async (): Promise<void> => {
      const held = lock;
      lock = undefined;
      await held?.release();
    };
    void (async () => {
      lock = await acquire(call);
      if (stopped) return release();
      if (!lock) {
        subscriber.next(undefined);
        subscriber.complete();
        return;
      }
      const held = lock;
      let result = invoke(call, held);
      if (isThenable(result)) result = await result;
      if (stopped) return release();
      if (isObservable(result)) {
        const source = result;
        inner = runWithHold(call.service, held.hold, () =>
          source.subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => void release().then(() => subscriber.error(forHandler(error, call.service, call.metadata))),
            complete: () => void release().then(() => subscriber.complete()),
          }),
        );
        return;
      }
      if (holdUntilStreamEnds(result, held)) lock = undefined;
      else await release();
      subscriber.next(result);
      subscriber.complete();
    })().catch(async (error: unknown) => {
      await release();
      subscriber.error(forHandler(error, call.service, call.metadata));
    });
    return () => {
      stopped = true;
      inner?.unsubscribe();
      void release();
    };
  });
}

/** Holds the lock while the Observable runs; released when the last subscription finalizes. */
function holdUntilFinalized(source: Observable<unknown>, call: LockedCall, lock: MethodLock): Observable<unknown> {
  let active = 0;
  return new Observable<unknown>((subscriber) => {
    active++;
    const subscription = runWithHold(call.service, lock.hold, () => source.subscribe(subscriber));
    return () => {
      subscription.unsubscribe();
      if (--active === 0) void lock.release();
    };
  });
}

/** A returned stream (Node Readable or StreamableFile) keeps the lock until it ends; true when it does. */
function holdUntilStreamEnds(result: unknown, lock: MethodLock): boolean {
  const stream = result instanceof StreamableFile ? result.getStream() : isReadable(result) ? result : undefined;
  if (!stream || stream.destroyed || stream.readableEnded) return false;
  finished(stream, () => void lock.release());
  return true;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function isReadable(value: unknown): value is Readable {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Readable).pipe === 'function' &&
    typeof (value as Readable).on === 'function' &&
    typeof (value as Readable).read === 'function' &&
    'readableEnded' in value
  );
}
