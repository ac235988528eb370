import { UseInterceptors } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { S3LockInvalidOptionsError } from '../core/errors';
import { checkLockName } from '../core/lock-name';
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
   * The lock's `s3lock.name` in OpenTelemetry metrics and spans (the module's `telemetry.lockName`
   * gets it as `template`): keep it bounded, e.g. `report:{id}` for a name function that gives
   * `report:<id>`.
   * @default the static name; for a name function, the method's `Class.method`
   */
  telemetryName?: string;
}

/** A lock name, or a function of the method's arguments that returns it (called with `this` = the instance). */
export type S3LockName<A extends unknown[]> = string | ((...args: A) => string);

/** `@WithS3Lock()` metadata stored on the method (read it with {@link getS3LockMetadata}). */
export interface S3LockMethodMetadata {
  readonly name: S3LockName<never[]>;
  readonly options: Readonly<WithS3LockOptions>;
  /** `Class.method`, for messages. */
  readonly where: string;
  /** The name telemetry may show: `options.telemetryName`, the static name, or `where`. */
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
 * The method can read its lock with `S3LockService.current()` or `currentS3Lock()`. A call made
 * while the same async flow already holds the same lock name runs under that lock (no second
 * acquisition, no deadlock). When the method returns an Observable or a stream, the lock is held
 * until it completes, errors or is unsubscribed.
 *
 * Decorated methods must be `async` or return an Observable; a synchronous method is a compile
 * error, because the lock makes every call asynchronous: called directly (not as a route), the
 * decorated method always returns a Promise (for an Observable-returning handler, a Promise of
 * the Observable), and run as a Nest handler it returns an Observable. A method skipped because
 * the lock is held elsewhere (`onLocked: 'skip'`) resolves to `undefined`.
 *
 * A static `name` must be a lock name the engine accepts: non-empty, at most 256 characters, no
 * control characters, XML 1.0 characters only. It and the options are validated when the class
 * is defined; an invalid one throws `S3LockInvalidOptionsError` naming `Class.method`. A name
 * function's result is validated on each call.
 *
 * @param name the lock name, or a function of the method's arguments returning it (called with
 * `this` = the instance); its parameters must match the method's leading parameters.
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
    const telemetryName = options.telemetryName ?? (typeof name === 'string' ? name : where);
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

/**
 * Validates the decorator's arguments when it is applied (so that messages name `Class.method`):
 * a static name with the engine's rules, a name function's type, and the options.
 */
function checkDecoratorArguments(where: string, name: unknown, options: WithS3LockOptions): void {
  if (typeof name === 'string') atDecorator(where, () => checkLockName(name));
  else if (typeof name !== 'function') throw new S3LockInvalidOptionsError('name', invalidNameMessage(where, name));
  const label = typeof name === 'string' ? name : undefined;
  if (options === null || typeof options !== 'object') {
    throw new S3LockInvalidOptionsError('options', decoratorArgumentMessage(where, `the options must be an object, got ${String(options)}`), label);
  }
  atDecorator(where, () => {
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
