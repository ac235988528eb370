import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { describeHolder, S3LockClosedError, S3LockStoreError, S3LockTimeoutError, type S3LockHolderInfo } from '../core/errors';
import { S3LockManager, serverClockSkewMessage } from '../core/lock-manager';
import { lockContext } from '../core/lock-context';
import type { S3LockOptions, S3LockUsingOptions } from '../core/lock-options';
import type { S3Lock, S3LockContext, S3LockEventName, S3LockEvents, S3LockState } from '../core/lock-types';
import type { S3LockOnLocked } from './s3-lock-module-options.interface';
import type { ResolvedModuleOptions } from './s3-lock-module-options';
import { S3_LOCK_SETTINGS } from './s3-lock.constants';
import { findFrame, runWithLock } from './s3-lock.context';
import { lockedException } from './s3-lock.client-errors';
import {
  lostMessage,
  renewalSlowMessage,
  noShutdownHooksMessage,
  releaseFailedMessage,
  shutdownTimeoutMessage,
  startupFailedMessage,
  startupMessage,
  storeReadyMessage,
} from './s3-lock.messages';
import { registerService, unregisterService } from './s3-lock.registry';

/** Result of {@link S3LockService.tryUsing}. */
export type S3LockTryResult<T> =
  /** The lock was held elsewhere: `fn` did not run. */
  | { readonly executed: false }
  /** `fn` ran under the lock and returned `result`. */
  | { readonly executed: true; readonly result: T };

/** A lock taken for a decorated method (internal). */
export interface MethodLock {
  readonly context: S3LockContext;
  /** Releases (after `minHoldMs` from the acquisition, in the background); idempotent; never throws. */
  release(): Promise<void>;
}

/** What `acquireForMethod` needs (internal). */
export interface MethodLockRequest {
  readonly name: string;
  readonly onLocked: S3LockOnLocked;
  readonly ttlMs: number | undefined;
  readonly waitMs: number | undefined;
  readonly minHoldMs: number;
  /** The decorator's telemetry name (its static name or template). */
  readonly telemetryName?: string;
}

/** Outcome of `acquireForMethod` (internal). */
export type MethodLockOutcome =
  | { readonly acquired: true; readonly lock: MethodLock }
  | { readonly acquired: false; readonly holder: string; readonly closed: boolean };

/**
 * Distributed locks for the application: the engine's {@link S3LockManager} plus an async
 * context, so that code running under a lock can read it ({@link current}) and nested calls for a
 * lock the flow already holds reuse it instead of deadlocking.
 */
@Injectable()
export class S3LockService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly delayedReleases = new Map<NodeJS.Timeout, () => void>();
  private shutdownPromise: Promise<void> | undefined;
  /** The probe ran at start-up: the `ready` event needs no log line of its own. */
  private probedAtStartup = false;

  constructor(
    /** The engine; inject `S3LockManager` directly for the framework-free API. */
    readonly manager: S3LockManager,
    @Inject(S3_LOCK_SETTINGS) private readonly settings: ResolvedModuleOptions,
  ) {
    registerService(this);
    this.logEvents();
  }

  /** Module options after validation (internal). */
  get moduleOptions(): ResolvedModuleOptions {
    return this.settings;
  }

  /** A lock instance for `name`; acquire and release it yourself. Not tracked by {@link current}. */
  lock(name: string, options?: S3LockOptions): S3Lock {
    return this.manager.lock(name, options);
  }

  /**
   * Acquires `name` (waiting up to `waitMs`, else throws `S3LockTimeoutError`), runs `fn` while the
   * lease renews itself, and releases in `finally`. Inside `fn`, {@link current} returns the lock.
   * When the current async flow already holds `name` (an enclosing `using`, `tryUsing` or
   * decorated method of this application), `fn` runs under that lock: no second acquisition.
   */
  async using<T>(name: string, fn: (context: S3LockContext) => Promise<T> | T, options?: S3LockUsingOptions): Promise<T> {
    const held = findFrame(this, name);
    if (held) return fn(held.context);
    return this.manager.using(name, (context) => runWithLock(this, context, () => fn(context)), options);
  }

  /**
   * One attempt without waiting: runs `fn` under the lock and resolves to `{ executed: true, result }`,
   * or resolves to `{ executed: false }` at once when the lock is held elsewhere. Reuses a lock the
   * current async flow already holds, like {@link using}.
   */
  async tryUsing<T>(name: string, fn: (context: S3LockContext) => Promise<T> | T, options?: S3LockOptions): Promise<S3LockTryResult<T>> {
    const held = findFrame(this, name);
    if (held) return { executed: true, result: await fn(held.context) };
    const lock = this.manager.lock(name, options);
    if (!(await lock.tryAcquire())) return { executed: false };
    const context = contextOf(lock);
    try {
      return { executed: true, result: await runWithLock(this, context, () => fn(context)) };
    } finally {
      await lock.releaseIfOwner().catch((error: unknown) => this.warnReleaseFailed(name, error));
    }
  }

  /**
   * The lock context (`name`, `signal`, `fencingToken`, `extend`) of the code running now under a
   * lock of this application: the innermost one, or the one named `name`. `undefined` outside.
   */
  current(name?: string): S3LockContext | undefined {
    return findFrame(this, name)?.context;
  }

  /** Reads a lock's state from the store: free or held, holder, fencing token, expiry (server time). */
  inspect(name: string): Promise<S3LockState> {
    return this.manager.inspect(name);
  }

  /** Runs the store probe now (it otherwise runs at first use); resolves to the protocol in use. */
  probe(): Promise<'create-only' | 'versioned'> {
    return this.manager.probe();
  }

  /**
   * Subscribes to a lock event (`attempt`, `acquired`, `notAcquired`, `renewed`, `lost`,
   * `released`, `storeError`); returns the function that unsubscribes. A listener that throws is
   * logged and never disturbs the lock.
   */
  on<E extends S3LockEventName>(event: E, listener: (payload: S3LockEvents[E]) => void): () => void {
    return this.manager.on(event, (payload) => {
      try {
        listener(payload);
      } catch (error) {
        this.settings.logger?.error(`A "${event}" listener threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    });
  }

  /**
   * Takes the lock of a decorated method according to `onLocked` (internal: used by
   * `@WithS3Lock()`). Throws {@link S3LockedException} for `'throw'` and for a `'wait'` that timed
   * out; resolves `{ acquired: false }` for `'skip'`.
   */
  async acquireForMethod(request: MethodLockRequest): Promise<MethodLockOutcome> {
    const { name, onLocked } = request;
    let lock: S3Lock;
    let holderId: string | undefined;
    let holder: S3LockHolderInfo | undefined;
    let unsubscribe: (() => void) | undefined;
    try {
      lock = this.manager.lock(name, { ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }), ...(request.telemetryName === undefined ? {} : { telemetryName: request.telemetryName }) });
      const id = lock.id;
      unsubscribe = this.manager.on('notAcquired', (event) => {
        if (event.ownerId === id) {
          holderId = event.holderId;
          holder = event.holder;
        }
      });
      if (onLocked === 'wait') {
        await lock.acquire(request.waitMs === undefined ? {} : { waitMs: request.waitMs });
      } else if (!(await lock.tryAcquire())) {
        if (onLocked === 'skip') return { acquired: false, holder: describeHolder(holder ?? (holderId === undefined ? undefined : { ownerId: holderId })), closed: false };
        throw lockedException(name, holder ?? (holderId === undefined ? undefined : { ownerId: holderId }), this.settings);
      }
    } catch (error) {
      if (error instanceof S3LockClosedError && onLocked === 'skip') return { acquired: false, holder: 'nobody', closed: true };
      if (error instanceof S3LockTimeoutError) throw lockedException(name, error.holder, this.settings, { waitedMs: error.waitedMs, cause: error });
      throw error;
    } finally {
      unsubscribe?.();
    }
    return { acquired: true, lock: this.methodLock(lock, request.minHoldMs) };
  }

  /**
   * At start-up: runs the probe (unless `probeOnStartup: false`), failing the start-up with the
   * store's typed error; logs one line with bucket, prefix, protocol and probe result; warns when
   * shutdown hooks are off.
   */
  async onApplicationBootstrap(): Promise<void> {
    registerService(this);
    const { bucket, prefix } = this.manager.options;
    const logger = this.settings.logger;
    if (this.settings.warnWithoutShutdownHooks && process.listenerCount('SIGTERM') === 0) logger?.warn(noShutdownHooksMessage);
    if (!this.settings.probeOnStartup) {
      logger?.log?.(startupMessage(bucket, prefix, 'protocol chosen and probe run at first use (probeOnStartup: false)'));
      return;
    }
    let protocol: 'create-only' | 'versioned';
    try {
      this.probedAtStartup = true;
      protocol = await this.manager.probe();
    } catch (error) {
      logger?.error(startupFailedMessage(error instanceof Error ? error : new Error(String(error))));
      throw error;
    }
    logger?.log?.(storeReadyMessage(protocol, bucket, prefix, 'at start-up'));
  }

  /** Releases held locks (signals abort with reason `closed`) before the application's providers shut down. */
  beforeApplicationShutdown(): Promise<void> {
    return this.shutdown();
  }

  /** Same as {@link beforeApplicationShutdown} (idempotent), for applications that skip that hook. */
  onApplicationShutdown(): Promise<void> {
    return this.shutdown();
  }

  private shutdown(): Promise<void> {
    this.shutdownPromise ??= this.closeWithinBudget();
    return this.shutdownPromise;
  }

  private async closeWithinBudget(): Promise<void> {
    unregisterService(this);
    // Locks kept for minHoldMs are released by close() now, with the others.
    for (const timer of this.delayedReleases.keys()) clearTimeout(timer);
    this.delayedReleases.clear();
    const timeoutMs = this.settings.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.manager.close().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) this.settings.logger?.warn(shutdownTimeoutMessage(timeoutMs, this.manager.heldCount));
  }

  private methodLock(lock: S3Lock, minHoldMs: number): MethodLock {
    const acquiredAt = performance.now();
    let released: Promise<void> | undefined;
    const releaseNow = (): Promise<void> => lock.releaseIfOwner().catch((error: unknown) => this.warnReleaseFailed(lock.name, error));
    return {
      context: contextOf(lock),
      release: () => {
        released ??= (() => {
          const remaining = Math.ceil(acquiredAt + minHoldMs - performance.now());
          if (remaining <= 0 || this.shutdownPromise) return releaseNow();
          const timer: NodeJS.Timeout = setTimeout(() => {
            this.delayedReleases.delete(timer);
            void releaseNow();
          }, remaining);
          timer.unref();
          this.delayedReleases.set(timer, () => void releaseNow());
          return Promise.resolve();
        })();
        return released;
      },
    };
  }

  private warnReleaseFailed(name: string, error: unknown): void {
    this.settings.logger?.warn(releaseFailedMessage(name, error instanceof Error ? error : new Error(String(error))));
  }

  private logEvents(): void {
    const logger = this.settings.logger;
    if (!logger) return;
    const debug = (message: string): void => logger.debug?.(message);
    this.manager.on('attempt', (e) => debug(`"${e.name}": attempt by instance ${e.ownerId}`));
    this.manager.on('acquired', (e) => debug(`"${e.name}": acquired, fencing token ${e.fencingToken}, after ${e.waitedMs} ms`));
    this.manager.on('notAcquired', (e) => debug(`"${e.name}": not acquired by instance ${e.ownerId}, held by ${describeHolder(e.holder)}`));
    this.manager.on('ready', (e) => {
      if (!this.probedAtStartup) logger.log?.(storeReadyMessage(e.protocol, e.bucket, e.prefix, 'at first use'));
    });
    this.manager.on('renewed', (e) => logger.verbose?.(`"${e.name}": renewed, fencing token ${e.fencingToken}`));
    let slowSince = 0;
    let slowQuiet = 0;
    this.manager.on('renewalSlow', (e) => {
      // at most one line per 10 s: an overloaded store makes many renewals slow at once
      const now = Date.now();
      if (now - slowSince < 10_000) {
        slowQuiet++;
        return;
      }
      logger.warn(renewalSlowMessage(e.name, e.tookMs, e.remainingMs, slowQuiet));
      slowSince = now;
      slowQuiet = 0;
    });
    this.manager.on('released', (e) => debug(`"${e.name}": released, fencing token ${e.fencingToken}, held ${e.heldMs} ms`));
    this.manager.on('lost', (e) => {
      const message = lostMessage(e.name, e.fencingToken, e.reason, e.error);
      // 'closed' is the shutdown releasing held locks, not a failure
      if (e.reason === 'closed') debug(message);
      else logger.warn(message);
    });
    this.manager.on('storeError', (e) => logger.warn(e.error instanceof S3LockStoreError ? `"${e.name}": ${e.error.message}` : `"${e.name}": store error during ${e.operation}: ${e.error.message}`));
    this.manager.on('serverClockSkew', (e) => logger.warn(serverClockSkewMessage(e.bucket, e.date, e.aheadMs, e.toleranceMs)));
  }
}

function contextOf(lock: S3Lock): S3LockContext {
  return lockContext(lock);
}

