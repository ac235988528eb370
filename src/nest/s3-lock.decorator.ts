import { UseInterceptors } from '@nestjs/common';
import { S3LockInvalidOptionsError } from '../core/errors';
import type { S3LockOnLocked } from './s3-lock-module-options.interface';
import { checkMinHold, checkOnLocked, checkTtlOption, checkWaitOption } from './s3-lock-module-options';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { S3LockInterceptor } from './s3-lock.interceptor';
import { invalidNameMessage, notAMethodMessage } from './s3-lock.messages';
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
}

/** A lock name, or a function of the method's arguments that returns it (called with `this` = the instance). */
export type S3LockName<A extends unknown[]> = string | ((...args: A) => string);

/** `@WithS3Lock()` metadata stored on the method (read it with {@link getS3LockMetadata}). */
export interface S3LockMethodMetadata {
  readonly name: S3LockName<never[]>;
  readonly options: Readonly<WithS3LockOptions>;
  /** `Class.method`, for messages. */
  readonly where: string;
}

/**
 * The method decorator's type: the method's leading parameters must be assignable to the name
 * function's parameters (extra parameters are allowed).
 */
export type S3LockMethodDecorator<A extends unknown[]> = <M extends (...args: [...A, ...never[]]) => unknown>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => TypedPropertyDescriptor<M>;

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
 * until it completes, errors or is unsubscribed. Called directly (not as a route), the decorated
 * method always returns a Promise.
 */
export function WithS3Lock<A extends unknown[] = never[]>(name: S3LockName<A>, options: WithS3LockOptions = {}): S3LockMethodDecorator<A> {
  checkDecoratorOptions(name, options);
  const frozen = Object.freeze({ ...options });
  return <M extends (...args: [...A, ...never[]]) => unknown>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<M>): TypedPropertyDescriptor<M> => {
    const className = typeof target === 'function' ? target.name : target.constructor.name;
    const where = `${className}.${String(propertyKey)}`;
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') throw new TypeError(notAMethodMessage(where));
    const metadata: S3LockMethodMetadata = Object.freeze({ name: name as S3LockName<never[]>, options: frozen, where });
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

function checkDecoratorOptions(name: unknown, options: WithS3LockOptions): void {
  const label = typeof name === 'string' ? name : undefined;
  if (typeof name === 'string' ? name.length === 0 : typeof name !== 'function') {
    throw new S3LockInvalidOptionsError('name', invalidNameMessage('a method', name));
  }
  if (options === null || typeof options !== 'object') throw new S3LockInvalidOptionsError('options', `@WithS3Lock() options must be an object, got ${String(options)}`, label);
  if (options.ttlMs !== undefined) checkTtlOption('ttlMs', options.ttlMs, label);
  if (options.waitMs !== undefined) checkWaitOption('waitMs', options.waitMs, label);
  if (options.onLocked !== undefined) checkOnLocked('onLocked', options.onLocked, label);
  if (options.minHoldMs !== undefined) checkMinHold('minHoldMs', options.minHoldMs, label);
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') {
    throw new S3LockInvalidOptionsError('enabled', `must be a boolean, got ${String(options.enabled)}`, label);
  }
}
