import type { S3LockLogger, S3LockManagerOptions } from '../core/lock-options';

/**
 * What a decorated method does when its lock is held by someone else.
 * - `'wait'`: wait up to `waitMs` for the lock, then throw {@link S3LockedException}.
 * - `'skip'`: do not run the method; it returns (resolves to) `undefined`. Logged at `log` level.
 * - `'throw'`: throw {@link S3LockedException} at once (HTTP 423 Locked on routes).
 */
export type S3LockOnLocked = 'wait' | 'skip' | 'throw';

/** Defaults for `@WithS3Lock()` (and `ttlMs` for `@WhileLeader()`); each decorator's own options win. */
export interface S3LockDecoratorDefaults {
  /**
   * Lease TTL of decorated methods' locks (`@WithS3Lock()`, also each semaphore permit and each
   * name of several) and of `@WhileLeader()` terms, in ms (at least 2000).
   * @default the module's `ttlMs` (30000)
   */
  ttlMs?: number;
  /**
   * How long `onLocked: 'wait'` waits, in ms.
   * @default the module's `waitMs` (30000)
   */
  waitMs?: number;
  /**
   * `onLocked` of decorated methods run through the interceptor: controller routes, WebSocket
   * gateway handlers, microservice handlers.
   * @default 'throw'
   */
  onLockedRoute?: S3LockOnLocked;
  /**
   * `onLocked` of decorated methods called directly: `@Cron`/`@Interval`/`@Timeout` jobs, event
   * handlers, plain provider methods.
   * @default 'skip'
   */
  onLockedMethod?: S3LockOnLocked;
  /**
   * Minimum time a decorated method's lock stays held, counted from the acquisition (ShedLock's
   * `lockAtLeastFor`): if the method finishes sooner, the release is delayed (the method's result
   * is not). Guards against clock drift between nodes re-running a short scheduled job.
   * @default 0
   */
  minHoldMs?: number;
}

/** A logger for the module. Nest's `Logger` fits. */
export interface S3LockModuleLogger extends S3LockLogger {
  verbose?(message: string): void;
}

/**
 * Options of `S3LockModule.forRoot()` / `forRootAsync()`: everything {@link S3LockManager} takes
 * (`client` is the application's `S3Client`, never destroyed by the module, or an `S3ClientConfig`
 * to build one, destroyed at shutdown) plus the NestJS parts.
 */
export interface S3LockModuleOptions extends Omit<S3LockManagerOptions, 'logger'> {
  /** Defaults for `@WithS3Lock()`. */
  defaults?: S3LockDecoratorDefaults;
  /**
   * Longest time the application's shutdown waits for leader campaigns to resign and held locks
   * to be released in the store. Locks not released by then expire after their TTL.
   * @default 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * Where the module logs: `debug` for per-call events (attempts, acquisitions, skipped methods,
   * releases), `log` for one start-up line (bucket, prefix, protocol, probe result), `warn` for
   * lost leases and store errors (cause first), `error` for a store that cannot hold locks.
   * `false` turns logging off.
   * @default new Logger('S3Lock')
   */
  logger?: S3LockModuleLogger | false;
  /**
   * Run the store probe when the application starts (`onApplicationBootstrap`), so a wrong bucket,
   * wrong credentials, an unreachable endpoint or a store that cannot hold locks stops the start-up
   * (with the typed error naming bucket, endpoint and cause) instead of failing an end user's
   * request. `false` for applications that must start without the store: the probe then runs at
   * first use.
   * @default true
   */
  probeOnStartup?: boolean;
  /**
   * Warn at start-up when the process has no SIGTERM handler (Nest's `app.enableShutdownHooks()`
   * not called): held locks are then not released on SIGTERM, and other instances wait up to a TTL.
   * @default true
   */
  warnWithoutShutdownHooks?: boolean;
  /** How lock errors thrown in routes, RPC and WebSocket handlers answer clients. */
  http?: S3LockHttpOptions;
}

/** How lock errors answer clients (routes, RPC and WebSocket handlers). */
export interface S3LockHttpOptions {
  /**
   * Turn the lock's errors into client answers, in decorated methods and in every other handler
   * (an `APP_INTERCEPTOR`): busy (`S3LockTimeoutError`, `S3LockNotAcquiredError`) answers 423; a
   * store failure, a refused store, a lost lease or a closed manager answer 503 with a generic body
   * (details logged); an invalid lock name answers 400 naming the rule. `false` leaves those errors
   * to the application's filters (the decorator's own busy case still answers 423).
   * @default true
   */
  mapErrors?: boolean;
  /** Put the holder (host, pid, manager id, fencing token, expiry) in 423 bodies. It names internal hosts. @default false */
  exposeHolder?: boolean;
  /**
   * `Retry-After` of a 423, in seconds: this value, but never later than the holder's lease could
   * expire (at least 1).
   * @default 1
   */
  retryAfterSeconds?: number;
  /** `Retry-After` of a 503 (the store failed), in seconds. @default 5 */
  unavailableRetryAfterSeconds?: number;
}

/** Extra options of `forRoot()` / `forRootAsync()`, outside the options object. */
export interface S3LockModuleExtras {
  /**
   * Register the module globally, so `S3LockService` can be injected (and `@WithS3Lock()` used)
   * everywhere without importing the module.
   * @default true
   */
  isGlobal?: boolean;
}
