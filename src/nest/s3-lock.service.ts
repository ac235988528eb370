import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { describeHolder, S3LockClosedError, S3LockStoreError, S3LockTimeoutError, type S3LockHolderInfo } from '../core/errors';
import type { S3Election, S3ElectionOptions, S3LeaderInfo } from '../core/leader-election';
import { S3LockManager, serverClockSkewMessage } from '../core/lock-manager';
import { lockContext } from '../core/lock-context';
import type { S3LockOptions, S3LockUsingOptions, S3SemaphoreOptions } from '../core/lock-options';
import type { S3Lock, S3LockContext, S3LockEventName, S3LockEvents, S3LockState, S3MultiLockContext, S3Semaphore } from '../core/lock-types';
import type { S3LockOnLocked } from './s3-lock-module-options.interface';
import type { ResolvedModuleOptions } from './s3-lock-module-options';
import { S3_LOCK_SETTINGS } from './s3-lock.constants';
import { contextIn, findFrame, findMultiFrame, multiHold, runWithHold, runWithLock, singleHold, type LockHold } from './s3-lock.context';
import { lockedException } from './s3-lock.client-errors';
import {
  electedMessage,
  electionCallbackFailedMessage,
  leadershipEndedMessage,
  lostMessage,
  renewalSlowMessage,
  noShutdownHooksMessage,
  releaseFailedMessage,
  shutdownTimeoutMessage,
  startupFailedMessage,
  startupMessage,
  storeReadyMessage,
} from './s3-lock.messages';
import { registerService, trackElection, unregisterService, untrackElection } from './s3-lock.registry';
import type { WhileLeaderOptions } from './s3-lock.while-leader';

/** Result of {@link S3LockService.tryUsing}. */
export type S3LockTryResult<T> =
  /** The lock was held elsewhere: `fn` did not run. */
  | { readonly executed: false }
  /** `fn` ran under the lock and returned `result`. */
  | { readonly executed: true; readonly result: T };

/** A lock taken for a decorated method (internal). */
export interface MethodLock {
  /** What the method runs under (its frame in the async context). */
  readonly hold: LockHold;
  /** Releases (after `minHoldMs` from the acquisition, in the background); idempotent; never throws. */
  release(): Promise<void>;
}

/** What a decorated method holds (internal). */
export type MethodLockTarget =
  | { readonly kind: 'lock'; readonly name: string }
  | { readonly kind: 'semaphore'; readonly name: string; readonly permits: number }
  /** Several names, in canonical order. */
  | { readonly kind: 'multi'; readonly names: readonly string[] };

/** What `acquireForMethod` needs (internal). */
export interface MethodLockRequest {
  /** The name for messages: the lock's or semaphore's name, or the names joined by `, `. */
  readonly name: string;
  readonly target: MethodLockTarget;
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
  | {
      readonly acquired: false;
      readonly holder: string;
      readonly closed: boolean;
      /** The name found held (one of several names), when it is not the request's. */
      readonly lockName?: string;
    };

/** A `@WhileLeader()` method found by the explorer, to campaign for at bootstrap (internal). */
export interface LeaderMethod {
  /** `Class.method`, for messages. */
  readonly where: string;
  /** The election's name (a name function already called). */
  readonly name: string;
  readonly options: Readonly<WhileLeaderOptions>;
  /** The telemetry name: `options.telemetryName`, the static name, or `where`. */
  readonly telemetryName: string;
  /** Calls the method on its instance with the term's context. */
  readonly run: (context: S3LockContext) => unknown;
}

/**
 * A campaign started through {@link S3LockService.elect}: the engine's election, tracked so that
 * the application's shutdown resigns it and the health indicator reports it.
 */
class TrackedElection implements S3Election {
  readonly name: string;

  constructor(
    private readonly election: S3Election,
    private readonly untrack: (election: S3Election) => void,
  ) {
    this.name = election.name;
  }

  get isLeader(): boolean {
    return this.election.isLeader;
  }

  get fencingToken(): number | undefined {
    return this.election.fencingToken;
  }

  leader(): Promise<S3LeaderInfo | undefined> {
    return this.election.leader();
  }

  stop(): Promise<void> {
    return this.election.stop().finally(() => this.untrack(this));
  }
}

/**
 * Distributed locks for the application: the engine's {@link S3LockManager} plus an async
 * context, so that code running under a lock can read it ({@link current}) and nested calls for a
 * lock the flow already holds reuse it instead of deadlocking.
 */
@Injectable()
export class S3LockService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly delayedReleases = new Map<NodeJS.Timeout, () => void>();
  /** Ends method holds that the manager's close() cannot settle by itself (several names: the engine's using() call). */
  private readonly pendingEnds = new Set<() => void>();
  /** Campaigns started through {@link elect} and not stopped yet. */
  private readonly campaigns = new Set<S3Election>();
  /** `@WhileLeader()` methods waiting for the bootstrap. */
  private readonly leaderMethods: LeaderMethod[] = [];
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
    const held = findFrame(this, name, 'lock');
    if (held) return fn(contextIn(held, name));
    return this.manager.using(name, (context) => runWithLock(this, context, () => fn(context)), options);
  }

  /**
   * One attempt without waiting: runs `fn` under the lock and resolves to `{ executed: true, result }`,
   * or resolves to `{ executed: false }` at once when the lock is held elsewhere. Reuses a lock the
   * current async flow already holds, like {@link using}.
   */
  async tryUsing<T>(name: string, fn: (context: S3LockContext) => Promise<T> | T, options?: S3LockOptions): Promise<S3LockTryResult<T>> {
    const held = findFrame(this, name, 'lock');
    if (held) return { executed: true, result: await fn(contextIn(held, name)) };
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
   * A counting semaphore: at most `options.permits` holders of `name` at once, across processes
   * (the engine's `S3LockManager.semaphore()`; acquire and release it yourself). Each permit is a
   * lock of its own, with its own fencing token. Not tracked by {@link current}.
   *
   * @param name the semaphore's name (independent of a lock of the same name)
   * @param options `permits` (1 to 1000, the same for every holder of the name); `ttlMs` (default
   * the module's `ttlMs`, 30000); `telemetryName` (default none)
   */
  semaphore(name: string, options: S3SemaphoreOptions): S3Semaphore {
    return this.manager.semaphore(name, options);
  }

  /**
   * Leader election on `name` (the engine's `S3LockManager.elect()`): campaigns until `stop()` or
   * the application's shutdown, calling `options.onElected` with the term's context each time this
   * instance becomes leader; the term's `signal` aborts when leadership is lost or resigned. One
   * leader at a time across every instance, one fencing token per term; another instance takes
   * over a dead leader after its TTL, and at once after a `stop()` or a shutdown.
   *
   * At shutdown (`beforeApplicationShutdown`) every campaign of this service resigns before the
   * manager closes. The health indicator lists them (name, whether this instance leads).
   * `@WhileLeader()` methods campaign through this method.
   *
   * @param name the election's name (its lock's name)
   * @param options `onElected(context)`, `onRevoked?(reason, error?)`, `ttlMs` (default the
   * module's `ttlMs`, 30000), `telemetryName` (default none)
   */
  elect(name: string, options: S3ElectionOptions): S3Election {
    if (this.shutdownPromise) throw new S3LockClosedError(name);
    const tracked = new TrackedElection(this.manager.elect(name, options), (election) => {
      this.campaigns.delete(election);
      untrackElection(this.manager, election);
    });
    this.campaigns.add(tracked);
    trackElection(this.manager, tracked);
    return tracked;
  }

  /** The campaigns started through {@link elect} (and `@WhileLeader()`) and not stopped, in start order. */
  get elections(): readonly S3Election[] {
    return [...this.campaigns];
  }

  /**
   * The lock context (`name`, `signal`, `fencingToken`, `isHeld`, `check()`, `extend()`) of the
   * code running now under a lock of this application: the innermost one, or the one holding
   * `name`. `undefined` outside. What a semaphore, several names and a `@WhileLeader()` term give:
   * see `currentS3Lock()`.
   */
  current(name?: string): S3LockContext | undefined {
    const frame = findFrame(this, name);
    return frame && contextIn(frame, name);
  }

  /**
   * The context of the innermost multi-name hold of this application in the current async flow
   * (`@WithS3Lock([a, b])`): names, every name's fencing token and lease, one signal for all.
   * `undefined` outside one.
   */
  currentMulti(): S3MultiLockContext | undefined {
    return findMultiFrame(this)?.multi;
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
    const { target, onLocked } = request;
    if (target.kind === 'multi') return this.acquireAllForMethod(request, target.names);
    const { name } = target;
    let lock: S3Lock;
    let holderId: string | undefined;
    let holder: S3LockHolderInfo | undefined;
    let unsubscribe: (() => void) | undefined;
    const lockOptions: S3LockOptions = { ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }), ...(request.telemetryName === undefined ? {} : { telemetryName: request.telemetryName }) };
    try {
      lock = target.kind === 'semaphore' ? this.manager.semaphore(name, { ...lockOptions, permits: target.permits }) : this.manager.lock(name, lockOptions);
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
        const seen = holder ?? (holderId === undefined ? undefined : { ownerId: holderId });
        if (onLocked === 'skip') return { acquired: false, holder: target.kind === 'semaphore' ? `the holders of all ${target.permits} permits` : describeHolder(seen), closed: false };
        throw lockedException(name, seen, this.settings);
      }
    } catch (error) {
      if (error instanceof S3LockClosedError && onLocked === 'skip') return { acquired: false, holder: 'nobody', closed: true };
      if (error instanceof S3LockTimeoutError) throw lockedException(name, error.holder, this.settings, { waitedMs: error.waitedMs, cause: error });
      throw error;
    } finally {
      unsubscribe?.();
    }
    const held = lock;
    const hold = singleHold(lockContext(held), target.kind === 'semaphore' ? 'semaphore' : 'lock');
    return { acquired: true, lock: this.methodLock(hold, () => held.releaseIfOwner().catch((error: unknown) => this.warnReleaseFailed(name, error)), request.minHoldMs) };
  }

  /**
   * Several names for a decorated method: the engine's multi-name `using()` (every name or none,
   * canonical order, never holding one while waiting for another), kept open until the method's
   * lock is released. `'throw'` and `'skip'` make one attempt (`waitMs: 0`).
   */
  private async acquireAllForMethod(request: MethodLockRequest, names: readonly string[]): Promise<MethodLockOutcome> {
    const { onLocked } = request;
    const options: S3LockUsingOptions = {
      waitMs: onLocked === 'wait' ? request.waitMs : 0,
      ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }),
      ...(request.telemetryName === undefined ? {} : { telemetryName: request.telemetryName }),
    };
    let letGo!: () => void;
    const released = new Promise<void>((resolve) => (letGo = resolve));
    let using!: Promise<void>;
    let context: S3MultiLockContext;
    try {
      context = await new Promise<S3MultiLockContext>((resolve, reject) => {
        using = this.manager.using(
          names,
          (granted) => {
            resolve(granted);
            return released;
          },
          options,
        );
        using.catch(reject);
      });
    } catch (error) {
      if (error instanceof S3LockClosedError && onLocked === 'skip') return { acquired: false, holder: 'nobody', closed: true };
      if (error instanceof S3LockTimeoutError) {
        const lockName = error.lockName ?? request.name;
        if (onLocked === 'skip') return { acquired: false, holder: describeHolder(error.holder), closed: false, lockName };
        throw lockedException(lockName, error.holder, this.settings, onLocked === 'wait' ? { waitedMs: error.waitedMs, cause: error } : { cause: error });
      }
      throw error;
    }
    // the engine's using() releases every name (reporting failures itself) once `released` resolves
    const end = (): void => {
      this.pendingEnds.delete(end);
      letGo();
    };
    this.pendingEnds.add(end);
    return {
      acquired: true,
      lock: this.methodLock(
        multiHold(context),
        async () => {
          end();
          await using.catch(() => undefined);
        },
        request.minHoldMs,
      ),
    };
  }

  /** Queues a `@WhileLeader()` method's campaign for the bootstrap (internal: used by the explorer). */
  campaignAtBootstrap(method: LeaderMethod): void {
    this.leaderMethods.push(method);
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
      this.startCampaigns();
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
    this.startCampaigns();
  }

  /** Starts the campaigns of the `@WhileLeader()` methods (after the probe passed, so a failed start-up leaves none running). */
  private startCampaigns(): void {
    const logger = this.settings.logger;
    for (const method of this.leaderMethods.splice(0)) {
      const ttlMs = method.options.ttlMs ?? this.settings.ttlMs;
      this.elect(method.name, {
        ...(ttlMs === undefined ? {} : { ttlMs }),
        telemetryName: method.telemetryName,
        onElected: (context) => {
          logger?.debug?.(electedMessage(method.where, method.name, context.fencingToken));
          return runWithHold(this, singleHold(context), () => method.run(context));
        },
        onRevoked: (reason) => logger?.debug?.(leadershipEndedMessage(method.where, method.name, reason)),
      });
    }
  }

  /**
   * Resigns every campaign of {@link elect} and `@WhileLeader()` (their terms' signals abort with
   * reason `resigned`), then releases held locks (signals abort with reason `closed`), before the
   * application's providers shut down; all within `shutdownTimeoutMs`.
   */
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
    const resignThenClose = async (): Promise<void> => {
      // resign first: another instance can lead at its next poll instead of after a TTL
      await Promise.allSettled([...this.campaigns].map((election) => election.stop()));
      await this.manager.close();
    };
    const closing = resignThenClose();
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (timedOut) this.settings.logger?.warn(shutdownTimeoutMessage(timeoutMs, this.manager.heldCount));
    // the manager released them; end the engine calls that wait for the methods' releases
    const endAll = (): void => {
      for (const end of [...this.pendingEnds]) end();
    };
    void closing.then(endAll, endAll);
  }

  /** A method's hold with `releaseNow` delayed until `minHoldMs` after now. */
  private methodLock(hold: LockHold, releaseNow: () => Promise<void>, minHoldMs: number): MethodLock {
    const acquiredAt = performance.now();
    let released: Promise<void> | undefined;
    return {
      hold,
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
    this.manager.on('storeError', (e) => {
      // a leader's onElected / onRevoked that threw is reported by the engine as a storeError
      if (e.operation === 'election onElected' || e.operation === 'election onRevoked') logger.warn(electionCallbackFailedMessage(e.name, e.operation.slice('election '.length), e.error));
      else logger.warn(e.error instanceof S3LockStoreError ? `"${e.name}": ${e.error.message}` : `"${e.name}": store error during ${e.operation}: ${e.error.message}`);
    });
    this.manager.on('serverClockSkew', (e) => logger.warn(serverClockSkewMessage(e.bucket, e.date, e.aheadMs, e.toleranceMs)));
  }
}

function contextOf(lock: S3Lock): S3LockContext {
  return lockContext(lock);
}

