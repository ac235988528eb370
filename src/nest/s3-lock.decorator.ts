import { UseInterceptors } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { S3LockInvalidOptionsError } from '../core/errors';
import { checkLockName } from '../core/lock-name';
import { MAX_PERMITS } from '../core/lock-options';
import { isPermitLockName } from '../core/semaphore-declaration';
import type { S3LockOnLocked } from './s3-lock-module-options.interface';
import { checkMinHold, checkOnLocked, checkTtlOption, checkWaitOption } from './s3-lock-module-options';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { S3LockInterceptor } from './s3-lock.interceptor';
import { decoratorArgumentMessage, invalidNameMessage, notAMethodMessage } from './s3-lock.messages';
import { runLocked } from './s3-lock.runner';

/** Options of {@link WithS3Lock}; unset ones come from the module's `defaults`. */
export interface WithS3LockOptions {
  /**
   * Lease TTL, in ms (at least 2000). The lease renews itself about every `ttlMs / 3` while the
   * method runs; it outlives a crashed holder by this long.
   * @default the module's `defaults.ttlMs`, else its `ttlMs` (30000)
   */
  ttlMs?: number;
  /**
   * How long `onLocked: 'wait'` waits for the lock, in ms, before throwing `S3LockedException`.
   * @default the module's `defaults.waitMs`, else its `waitMs` (30000)
   */
  waitMs?: number;
  /**
   * What to do when the lock is held elsewhere: `'wait'`, `'skip'` (the method does not run and
   * returns `undefined`) or `'throw'` (`S3LockedException`, HTTP 423).
   * @default 'throw' on routes, gateways and microservice handlers (module `defaults.onLockedRoute`);
   * 'skip' on scheduled jobs and provider methods (module `defaults.onLockedMethod`)
   */
  onLocked?: S3LockOnLocked;
  /**
   * Keep the lock at least this long, counted from the acquisition, even when the method finished
   * sooner (ShedLock's `lockAtLeastFor`). Only the release is delayed, not the method's result.
   * @default the module's `defaults.minHoldMs` (0)
   */
  minHoldMs?: number;
  /**
   * `false` runs the method without any lock (for a feature flag or an environment).
   * @default true
   */
  enabled?: boolean;
  /**
   * Makes `name` a counting semaphore (`S3LockService.semaphore()`): the method runs while holding
   * one of `permits` permits, so at most that many calls run at once across every instance. An
   * integer from 1 to 1000, the same for every holder of the name (the first use declares it in the
   * store; a different number is refused with `S3LockPermitsMismatchError`). When every permit is
   * held, `onLocked` applies as for a lock (`'throw'`: 423 on routes). Needs a single name, not an
   * array. A semaphore and a lock of the same name are independent of each other.
   * @default undefined: `name` is a lock (one holder at a time)
   */
  permits?: number;
  /**
   * The lock's `s3lock.name` in OpenTelemetry metrics and spans (the module's `telemetry.lockName`
   * gets it as `template`): keep it bounded, e.g. `report:{id}` for a name function that gives
   * `report:<id>`. With several names, every name's lock carries it.
   * @default the static name (a semaphore's permits carry its name); for a static array, its names
   * in canonical order joined by `,` (`a,b`); for a name function, the method's `Class.method`
   */
  telemetryName?: string;
}

/**
 * What `@WithS3Lock()` holds: a lock name, an array of names (held together, taken in canonical
 * order), or a function of the method's arguments that returns either (called with `this` = the
 * instance).
 */
export type S3LockName<A extends unknown[]> = string | readonly string[] | ((...args: A) => string | readonly string[]);

/** `@WithS3Lock()` metadata stored on the method (read it with {@link getS3LockMetadata}). */
export interface S3LockMethodMetadata {
  readonly name: S3LockName<never[]>;
  readonly options: Readonly<WithS3LockOptions>;
  /** `Class.method`, for messages. */
  readonly where: string;
  /**
   * The name telemetry may show: `options.telemetryName`, the static name, a static array's names
   * in canonical order joined by `,`, or `where` for a name function.
   */
  readonly telemetryName: string;
}

/**
 * What a `@WithS3Lock()` method may return: a Promise (an `async` method, also one resolving to an
 * Observable or a stream) or an rxjs Observable (a route, gateway or microservice handler). The
 * lock makes every call asynchronous, so a synchronous method is a compile error.
 */
export type S3LockMethodResult = PromiseLike<unknown> | Observable<unknown>;

/**
 * The method decorator's type. The method must return an {@link S3LockMethodResult} (be `async` or
 * return an Observable): a synchronous method is a compile error. The name function's parameters
 * must match the method's leading parameters: the method takes at least as many (it may take
 * more), and the types of the leading ones match the name function's, each assignable to the other.
 */
export type S3LockMethodDecorator<A extends unknown[]> = <M extends (...args: [...A, ...never[]]) => S3LockMethodResult>(
  target: object,
  propertyKey: S3LockNameParametersCheck<M, A>,
  descriptor: TypedPropertyDescriptor<M>,
) => TypedPropertyDescriptor<M>;

/**
 * The property key's type when the method's parameters start with the name function's (`A`),
 * otherwise a message that makes the decorator a compile error: a name function with more
 * parameters than the method would read `undefined`.
 */
export type S3LockNameParametersCheck<M, A extends unknown[]> = M extends (...args: infer P) => unknown
  ? P extends [...A, ...unknown[]]
    ? string | symbol
    : "@WithS3Lock(): the name function's parameters must match the method's first parameters"
  : never;

/**
 * Runs the method under a distributed lock: acquires before, releases after (in `finally`), and
 * renews the lease while the method runs. Works on controller routes, gateway and microservice
 * handlers, `@Cron` / `@Interval` / `@Timeout` jobs, event handlers and plain provider methods,
 * placed above or below their decorators (their metadata is kept).
 *
 * ```ts
 * @Cron('0 * * * * *')
 * @WithS3Lock('nightly-report', { minHoldMs: 10_000 })        // skip on the other nodes
 * async report() { ... }
 *
 * @Post(':id/pay')
 * @WithS3Lock((id: string) => `order:${id}`, { ttlMs: 10_000 }) // 423 Locked while paying
 * async pay(@Param('id') id: string) {
 *   const { fencingToken, signal } = currentS3Lock()!;
 *   ...
 * }
 * ```
 *
 * ```ts
 * @Post('exports')
 * @WithS3Lock('exports', { permits: 2 })                        // 2 at once across the fleet, then 423
 * async export() { ... }
 *
 * @WithS3Lock((from: string, to: string) => [`account:${from}`, `account:${to}`], { onLocked: 'wait' })
 * async transfer(from: string, to: string, amount: number) {    // holds both accounts
 *   const { fencingTokens } = currentS3MultiLock()!;
 *   ...
 * }
 * ```
 *
 * The method can read its lock with `S3LockService.current()` or `currentS3Lock()` (under several
 * names also `currentS3MultiLock()`; see `currentS3Lock()` for what a semaphore or several names
 * give). A call made while the same async flow already holds the same lock name runs under that
 * lock (no second acquisition, no deadlock); with several names, only the names the flow does not
 * hold yet are taken. When the method returns an Observable or a stream, the lock is held until it
 * completes, errors or is unsubscribed.
 *
 * **Several names** (an array, or a name function returning one): the method runs holding every
 * name. They are taken with the engine's multi-name `using()`: every name or none, in canonical
 * order (sorted, duplicates dropped), never holding one name while waiting for another, so methods
 * that ask for the same names in any order cannot deadlock. When one name is held elsewhere,
 * `onLocked` applies (`'throw'`: 423 naming that lock). An empty array is an invalid name.
 *
 * **A semaphore** (`permits: N`): the method runs holding one of the N permits of `name`.
 *
 * Decorated methods must be `async` or return an Observable; a synchronous method is a compile
 * error, because the lock makes every call asynchronous: called directly (not as a route), the
 * decorated method always returns a Promise (for an Observable-returning handler, a Promise of
 * the Observable), and run as a Nest handler it returns an Observable. A method skipped because
 * the lock is held elsewhere (`onLocked: 'skip'`) resolves to `undefined`.
 *
 * A static `name` (each name of a static array) must be a lock name the engine accepts: non-empty,
 * at most 256 characters, no control characters, XML 1.0 characters only, not ending in
 * `#permit-<n>`. It and the options are validated when the class is defined; an invalid one throws
 * `S3LockInvalidOptionsError` naming `Class.method`. A name function's result is validated on each
 * call (on routes, an invalid one answers 400).
 *
 * @param name the lock name, an array of names, or a function of the method's arguments returning
 * either (called with `this` = the instance); its parameters must match the method's leading
 * parameters.
 * @param options see {@link WithS3LockOptions}; unset ones come from the module's `defaults`
 * (default `{}`).
 */
export function WithS3Lock<A extends unknown[] = never[]>(name: S3LockName<A>, options: WithS3LockOptions = {}): S3LockMethodDecorator<A> {
  return <M extends (...args: [...A, ...never[]]) => S3LockMethodResult>(
    target: object,
    propertyKey: S3LockNameParametersCheck<M, A>,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M> => {
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}.${String(propertyKey)}`;
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') throw new TypeError(notAMethodMessage(where));
    checkDecoratorArguments(where, name, options);
    const frozen = Object.freeze({ ...options });
    const telemetryName = options.telemetryName ?? defaultTelemetryName(name, where);
    const metadata: S3LockMethodMetadata = Object.freeze({ name: name as S3LockName<never[]>, options: frozen, where, telemetryName });
    const method = original as (...args: unknown[]) => unknown;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      return runLocked(this, method, args, metadata);
    };
    copyMetadata(method, wrapper);
    Object.defineProperty(wrapper, 'name', { value: method.name, configurable: true });
    Reflect.defineMetadata(S3_LOCK_METADATA, metadata, wrapper);
    descriptor.value = wrapper as unknown as M;
    UseInterceptors(S3LockInterceptor.instance)(target, propertyKey, descriptor);
    return descriptor;
  };
}

/** The `@WithS3Lock()` metadata of a method, or `undefined`. */
export function getS3LockMetadata(method: unknown): S3LockMethodMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(S3_LOCK_METADATA, method) as S3LockMethodMetadata | undefined;
}

/** Copies every own metadata key (`@Cron`, `@Get`, `@UseGuards`, `@OnEvent`...) from the method to its wrapper. */
function copyMetadata(from: object, to: object): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
}

/** The template of a static name (a static array: its canonical names joined by `,`), else `where`. */
function defaultTelemetryName(name: unknown, where: string): string {
  if (typeof name === 'string') return name;
  if (Array.isArray(name)) return canonicalOrder(name as string[]).join(',');
  return where;
}

/** Names sorted, without duplicates: the order the engine's multi-name `using()` takes them in. */
export function canonicalOrder(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}

/**
 * Checks a lock name the decorator will lock (a static one, or one a name function returned):
 * the engine's rules, and not a name kept for semaphores' permits.
 */
export function checkMethodLockName(name: unknown): string {
  const checked = checkLockName(name);
  if (isPermitLockName(checked)) {
    throw new S3LockInvalidOptionsError('name', 'names ending in "#permit-<n>" are kept for the permits of semaphores; use permits or another name', checked);
  }
  return checked;
}

/**
 * Validates the decorator's arguments when it is applied (so that messages name `Class.method`):
 * a static name (or each name of a static array) with the engine's rules, a name function's type,
 * and the options.
 */
function checkDecoratorArguments(where: string, name: unknown, options: WithS3LockOptions): void {
  if (typeof name === 'string') atDecorator(where, () => checkMethodLockName(name));
  else if (Array.isArray(name)) {
    if (name.length === 0) throw new S3LockInvalidOptionsError('name', decoratorArgumentMessage(where, 'an array of lock names must not be empty'));
    for (const n of name as unknown[]) {
      if (typeof n !== 'string') throw new S3LockInvalidOptionsError('name', invalidNameMessage(where, n));
      atDecorator(where, () => checkMethodLockName(n));
    }
  } else if (typeof name !== 'function') throw new S3LockInvalidOptionsError('name', invalidNameMessage(where, name));
  const label = typeof name === 'string' ? name : Array.isArray(name) ? canonicalOrder(name as string[]).join(',') : undefined;
  if (options === null || typeof options !== 'object') {
    throw new S3LockInvalidOptionsError('options', decoratorArgumentMessage(where, `the options must be an object, got ${String(options)}`), label);
  }
  atDecorator(where, () => {
    if (options.permits !== undefined) {
      const { permits } = options;
      if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1 || permits > MAX_PERMITS) {
        throw new S3LockInvalidOptionsError('permits', `must be an integer from 1 to ${MAX_PERMITS}, got ${String(permits)}`, label);
      }
      if (Array.isArray(name)) throw new S3LockInvalidOptionsError('permits', 'a semaphore (permits) takes one name, not an array', label);
    }
    if (options.ttlMs !== undefined) checkTtlOption('ttlMs', options.ttlMs, label);
    if (options.waitMs !== undefined) checkWaitOption('waitMs', options.waitMs, label);
    if (options.onLocked !== undefined) checkOnLocked('onLocked', options.onLocked, label);
    if (options.minHoldMs !== undefined) checkMinHold('minHoldMs', options.minHoldMs, label);
    if (options.telemetryName !== undefined && typeof options.telemetryName !== 'string') {
      throw new S3LockInvalidOptionsError('telemetryName', `must be a string, got ${typeof options.telemetryName}`, label);
    }
    if (options.enabled !== undefined && typeof options.enabled !== 'boolean') {
      throw new S3LockInvalidOptionsError('enabled', `must be a boolean, got ${String(options.enabled)}`, label);
    }
  });
}

/** Runs a check, rethrowing its `S3LockInvalidOptionsError` with a message that names `@WithS3Lock() on Class.method`. */
function atDecorator(where: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof S3LockInvalidOptionsError)) throw error;
    throw new S3LockInvalidOptionsError(error.option, decoratorArgumentMessage(where, ruleOf(error)), error.lockName);
  }
}

/** The rule an `S3LockInvalidOptionsError` states, without the `Invalid <option>...: ` prefix its constructor adds. */
function ruleOf(error: S3LockInvalidOptionsError): string {
  const prefix = error.lockName === undefined ? `Invalid option ${error.option}: ` : `Invalid ${error.option} for lock "${error.lockName}": `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}
