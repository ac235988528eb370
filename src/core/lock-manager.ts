import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { hostname } from 'node:os';
import { v4 as uuidv4 } from 'uuid';
import { S3LockClosedError, S3LockInvalidOptionsError, S3LockLostError, S3LockUnsupportedStoreError } from './errors';
import { LeaderElection, type S3Election, type S3ElectionOptions } from './leader-election';
import { LockSemaphore } from './lock-semaphore';
import { acquireAll, canonicalNames, multiLockContext } from './multi-lock';
import { isPermitLockName, permitLockName, settlePermits } from './semaphore-declaration';
import { SemaphoreWaiters } from './semaphore-waiters';
import { asError } from './lease';
import { LockEvents } from './lock-events';
import { LockInstance } from './lock-instance';
import { lockContext } from './lock-context';
import { checkLockName, lockKeyPrefix } from './lock-name';
import { RECORD_KEY_SUFFIX_BYTES } from './log-generation';
import {
  checkPermits,
  checkTtl,
  checkWait,
  resolveManagerOptions,
  safetyMarginFor,
  type ResolvedManagerOptions,
  type S3LockManagerOptions,
  type S3LockLogger,
  type S3LockOptions,
  type S3LockUsingOptions,
  type S3SemaphoreOptions,
} from './lock-options';
import type { LockProtocol, ProtocolLease } from './lock-protocol';
import { LockQueue } from './lock-queue';
import { lockTelemetry, type LockTelemetry } from './lock-telemetry';
import type { S3Lock, S3LockContext, S3LockEventName, S3LockEvents, S3LockState, S3MultiLockContext, S3Semaphore } from './lock-types';
import { selectProtocol } from './protocol-selection';
import { RequestSlots } from './request-slots';
import { S3Gateway } from './s3-gateway';
import { ServerClock, systemMonotonicClock, type MonotonicClock } from './server-clock';

/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** The longest leaf either protocol puts below a lock's prefix (15 epoch digits). */

/** Test hooks; not part of the public API. */
export interface S3LockManagerInternals {
  readonly mono?: MonotonicClock;
}

/**
 * Entry point of the engine: makes lock instances for names in one bucket and prefix, runs the
 * store probe at first use, and owns the per-name queues, renewal timers and events.
 *
 * ```ts
 * const locks = new S3LockManager({ client: s3, bucket: 'my-locks' });
 * await locks.using('nightly-report', async ({ signal, fencingToken }) => { ... });
 * ```
 */
export class S3LockManager {
  /** Options after defaults were applied. */
  readonly options: ResolvedManagerOptions;
  /** The S3 client in use (the application's, or one built from the config). */
  readonly client: S3Client;
  /**
   * This manager's id (a uuid), written into every record it writes: holders are named by host,
   * pid and this id in errors, logs and `inspect()`, and it stays the same for every lock instance
   * and attempt of the manager.
   */
  readonly id: string = uuidv4();
  /** How this manager's own holders are named (a local holder never reads its record). */
  private readonly self: { readonly host: string; readonly managerId: string };
  private readonly ownsClient: boolean;
  private readonly mono: MonotonicClock;
  private readonly events: LockEvents;
  private readonly logger: S3LockLogger | undefined;
  private readonly gateway: S3Gateway;
  /** The budget of store operations in flight, shared by every lock name of this manager. */
  private readonly slots: RequestSlots;
  /** OpenTelemetry instruments (a no-op without `@opentelemetry/api`). */
  private readonly telemetry: LockTelemetry;
  private readonly queues = new Map<string, LockQueue>();
  /** The waiting semaphore instances of each name (one poller per name), while any wait. */
  private readonly waitingRooms = new Map<string, SemaphoreWaiters>();
  /** Semaphores whose permits this manager settled in the store (name → permits). */
  private readonly settledPermits = new Map<string, number>();
  private readonly background = new Set<Promise<void>>();
  private protocolPromise: Promise<LockProtocol> | undefined;
  /** The protocol once chosen (told synchronously when a name's queue is dropped). */
  private chosen: LockProtocol | undefined;
  private closed = false;

  constructor(options: S3LockManagerOptions, internals: S3LockManagerInternals = {}) {
    this.options = resolveManagerOptions(options, hostname());
    this.mono = internals.mono ?? systemMonotonicClock;
    this.logger = options.logger;
    this.events = new LockEvents(options.logger);
    const given = options.client as S3Client;
    this.ownsClient = typeof given.send !== 'function';
    this.client = this.ownsClient ? new S3Client(withSafeDefaults(options.client as S3ClientConfig)) : given;
    const requestTimeoutMs = this.options.requestTimeoutMs;
    const toleranceMs = this.options.serverClockToleranceMs;
    const serverClock = new ServerClock(this.mono, {
      toleranceMs,
      onDisagreement: ({ date, aheadMs }) => {
        this.events.emit('serverClockSkew', { bucket: this.options.bucket, date, aheadMs, toleranceMs });
        this.logger?.warn(serverClockSkewMessage(this.options.bucket, date, aheadMs, toleranceMs));
      },
    });
    this.self = { host: this.options.host, managerId: this.id };
    this.slots = new RequestSlots(this.options.maxInFlight, () => this.mono.now());
    this.telemetry = lockTelemetry(options.telemetry, this.options.bucket, this.events);
    this.gateway = new S3Gateway(this.client, this.options.bucket, serverClock, this.mono, requestTimeoutMs, this.options.prefix, this.telemetry);
  }

  /** A lock instance for `name` (a fresh uuid each call). Validates the name and TTL. */
  lock(name: string, options: S3LockOptions = {}): S3Lock {
    return this.instance(reserved(name), options);
  }

  /**
   * A counting semaphore: at most `permits` holders of `name` at once, across processes (see
   * {@link S3Semaphore}). Each permit is a lock named `<name>#permit-<i>`, with the lock's
   * properties; the first use of the name in the store declares its permits, and a holder with
   * other permits is refused with {@link S3LockPermitsMismatchError}. A waiting semaphore tries
   * each permit once per round (one request per held permit).
   */
  semaphore(name: string, options: S3SemaphoreOptions): S3Semaphore {
    reserved(name);
    const permits = checkPermits(options?.permits, name);
    const lockOptions: S3LockOptions = { ttlMs: options.ttlMs, telemetryName: options.telemetryName };
    const permitLocks = Array.from({ length: permits }, (_, i) => this.instance(permitLockName(name, i), lockOptions));
    return new LockSemaphore({
      name,
      permits,
      ttlMs: permitLocks[0]!.ttlMs,
      permitLocks,
      settle: () => this.settlePermits(name, permits),
      mono: this.mono,
      defaultWaitMs: checkWait(this.options.waitMs, name),
      waiters: () => this.semaphoreWaiters(name),
      gaveBack: () => this.waitingRooms.get(name)?.wake(),
    });
  }

  /**
   * Leader election on `name`: campaigns until `stop()`, calling `onElected` each time this
   * process becomes leader (see {@link S3ElectionOptions}). Terms are leases of the lock `name`: one
   * leader at a time, a token per term, takeover of a dead leader after its TTL, and at once after
   * a leader's `stop()`.
   */
  elect(name: string, options: S3ElectionOptions): S3Election {
    if (typeof options?.onElected !== 'function') throw new S3LockInvalidOptionsError('onElected', 'elect() needs an onElected function', typeof name === 'string' ? name : undefined);
    const lock = this.instance(reserved(name), { ttlMs: options.ttlMs, telemetryName: options.telemetryName });
    return new LeaderElection(
      {
        lock,
        inspect: () => this.inspect(name),
        report: (operation, error) => this.reportStoreError(name, `election ${operation}`, error),
        retryMs: this.options.maxPollIntervalMs,
      },
      options,
    );
  }

  /**
   * Acquires `name` (waiting up to `waitMs`), runs `fn` while the lease renews itself, and releases
   * in `finally`. Returns `fn`'s result; a failed release is reported through the `storeError`
   * event and the logger and never replaces `fn`'s result or error.
   *
   * With an array of names, it acquires every name or none, in one canonical order (sorted,
   * duplicates dropped), never holding one name while it waits for another: callers that ask for
   * the same names in any order cannot deadlock. `fn` gets every lease's fencing token, and a
   * signal that aborts when any lease is lost. It releases all in `finally`.
   */
  async using<T>(name: string, fn: (context: S3LockContext) => Promise<T> | T, options?: S3LockUsingOptions): Promise<T>;
  async using<T>(names: readonly string[], fn: (context: S3MultiLockContext) => Promise<T> | T, options?: S3LockUsingOptions): Promise<T>;
  async using<T>(
    name: string | readonly string[],
    fn: ((context: S3LockContext) => Promise<T> | T) | ((context: S3MultiLockContext) => Promise<T> | T),
    options: S3LockUsingOptions = {},
  ): Promise<T> {
    if (Array.isArray(name)) return this.usingAll(name as readonly string[], fn as (context: S3MultiLockContext) => Promise<T> | T, options);
    const lock = this.instance(reserved(name as string), options);
    await lock.acquire({ waitMs: options.waitMs, signal: options.signal });
    const lease = lock.currentLease;
    if (!lease) {
      // Lost between the grant and now (a paused process): never run fn without the lock.
      throw lock.signal.aborted ? (lock.signal.reason as Error) : new S3LockLostError(lock.name, 'deadline-passed', lock.fencingToken ?? 0);
    }
    try {
      return await (fn as (context: S3LockContext) => Promise<T> | T)(lockContext(lock));
    } finally {
      await lock.releaseIfOwner().catch((error: unknown) => this.reportStoreError(lock.name, 'release', error));
    }
  }

  private async usingAll<T>(names: readonly string[], fn: (context: S3MultiLockContext) => Promise<T> | T, options: S3LockUsingOptions): Promise<T> {
    const locks = canonicalNames(names).map((n) => this.instance(reserved(n), options));
    const waitMs = checkWait(options.waitMs ?? this.options.waitMs, locks[0]!.name);
    const releaseQuietly = (lock: S3Lock): Promise<void> => lock.releaseIfOwner().catch((error: unknown) => this.reportStoreError(lock.name, 'release', error));
    await acquireAll(locks, { waitMs, signal: options.signal }, this.mono, releaseQuietly);
    const lost = locks.find((l) => !l.isHeld);
    if (lost) {
      await Promise.all(locks.map(releaseQuietly));
      throw lost.signal.aborted ? (lost.signal.reason as Error) : new S3LockLostError(lost.name, 'deadline-passed', 0);
    }
    const context = multiLockContext(locks);
    try {
      return await fn(context);
    } finally {
      context.dispose();
      await Promise.all(locks.map(releaseQuietly));
    }
  }

  /** Reads a lock's state from the store (free or held, holder, fencing token, times in server time). */
  async inspect(name: string): Promise<S3LockState> {
    checkLockName(name);
    const protocol = await this.protocol();
    return protocol.inspect(name);
  }

  /**
   * Operator's force-unlock: ends whatever lease holds `name` by writing a release over it.
   * Resolves to true if there was a lease to end. **Breaks mutual exclusion** until the holder's
   * next renewal attempt (at most about TTL/3 later), when its signal aborts with reason
   * `taken-over`: use it for stuck locks (a holder known dead with a long TTL), never routinely.
   */
  async forceRelease(name: string): Promise<boolean> {
    checkLockName(name);
    const protocol = await this.protocol();
    if (!protocol.forceRelease) throw new S3LockInvalidOptionsError('protocol', `forceRelease is not supported by the ${protocol.name} protocol`, name);
    return protocol.forceRelease(name);
  }

  /**
   * Chooses the protocol now (it otherwise happens at first use): reads the prefix's protocol
   * declaration, runs the probe, declares the prefix if nobody did; resolves to the protocol chosen.
   */
  async probe(): Promise<'create-only' | 'versioned'> {
    return (await this.protocol()).name;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends S3LockEventName>(event: E, listener: (payload: S3LockEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Number of leases held by this manager's instances right now. */
  get heldCount(): number {
    let n = 0;
    for (const q of this.queues.values()) if (q.holder?.isLive) n++;
    return n;
  }

  /**
   * Aborts the signals of held leases (reason `closed`), releases them in the store, rejects
   * waiters with {@link S3LockClosedError}, waits for background work, and destroys the client if
   * the manager built it. Idempotent.
   *
   * Every acquisition in flight when it is called (`tryAcquire()`, `acquire()` with any `waitMs`,
   * a release handing the lock to a local waiter) settles first: none completes after it. One
   * that wins in the store meanwhile rejects with {@link S3LockClosedError} and what it wrote is
   * released. When the returned promise resolves, no lease of this manager is live or renewing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const room of [...this.waitingRooms.values()]) room.close();
    this.slots.close();
    const results = await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    for (const r of results) if (r.status === 'rejected') this.reportStoreError(undefined, 'release', r.reason);
    await Promise.allSettled([...this.background]);
    if (this.ownsClient) this.client.destroy();
  }

  private instance(name: string, options: S3LockOptions): LockInstance {
    checkLockName(name);
    const keyBytes = Buffer.byteLength(lockKeyPrefix(this.options.prefix, name)) + RECORD_KEY_SUFFIX_BYTES;
    if (keyBytes > MAX_KEY_BYTES) {
      throw new S3LockInvalidOptionsError('name', `its keys would be ${keyBytes} bytes long once encoded under the prefix; S3 allows ${MAX_KEY_BYTES}`, name.slice(0, 40));
    }
    if (this.closed) throw new S3LockClosedError(name);
    const ttlMs = checkTtl(options.ttlMs ?? this.options.ttlMs, name);
    return new LockInstance(name, ttlMs, () => this.queue(name), this.events, this.mono, checkWait(this.options.waitMs, name), this.telemetry, options.telemetryName);
  }

  /**
   * Entries this manager keeps per kind of per-name state (queues, and each protocol map, after
   * dropping expired cache entries). Not part of the public API: for tests and benchmarks that
   * check memory stays bounded whatever the number of names.
   */
  retainedEntries(): Readonly<Record<string, number>> {
    return { queues: this.queues.size, ...this.chosen?.retainedEntries?.() };
  }

  /** The queue of `name`, made on first use and dropped once it has nothing left to do ({@link LockQueue.isIdle}). */
  private queue(name: string): LockQueue {
    if (this.closed) throw new S3LockClosedError(name);
    let q = this.queues.get(name);
    if (!q) {
      q = new LockQueue(name, {
        mono: this.mono,
        events: this.events,
        maxPollIntervalMs: this.options.maxPollIntervalMs,
        attemptTimeoutMs: this.options.requestTimeoutMs,
        storeContext: () => this.gateway.context(),
        slots: this.slots,
        self: this.self,
        protocol: () => this.protocol(),
        safetyMarginFor: (ttlMs) => safetyMarginFor(ttlMs, this.options.safetyMarginMs),
        afterRelease: (n, lease) => this.collectGarbage(n, lease),
        idle: (idle) => {
          if (this.queues.get(name) !== idle) return;
          this.queues.delete(name);
          this.chosen?.forget?.(name);
        },
      });
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * The protocol, chosen at first use from the prefix's declaration and the probe. A store failure
   * during selection is not cached; a refusal (probe failed, or the prefix is declared for another
   * protocol) is.
   */
  private protocol(): Promise<LockProtocol> {
    if (!this.protocolPromise) {
      const attempt = selectProtocol({
        gateway: this.gateway,
        options: this.options,
        mono: this.mono,
        pid: process.pid,
        managerId: this.id,
        refused: (error) => this.refuseFromNowOn(error),
        storeError: (name, operation, error) => this.reportStoreError(name, operation, error),
      });
      this.protocolPromise = attempt;
      void attempt.then(
        (p) => {
          this.chosen = p;
          this.events.emit('ready', { bucket: this.options.bucket, prefix: this.options.prefix, protocol: p.name });
        },
        () => undefined,
      );
      attempt.catch((error: unknown) => {
        if (!(error instanceof S3LockUnsupportedStoreError) && this.protocolPromise === attempt) this.protocolPromise = undefined;
      });
    }
    return this.protocolPromise;
  }

  /** The line of waiting instances of semaphore `name`, made on first use and dropped once empty. */
  private semaphoreWaiters(name: string): SemaphoreWaiters {
    if (this.closed) throw new S3LockClosedError(name);
    let room = this.waitingRooms.get(name);
    if (!room) {
      const made = new SemaphoreWaiters(
        name,
        this.mono,
        this.options.maxPollIntervalMs,
        () => {
          if (this.waitingRooms.get(name) === made) this.waitingRooms.delete(name);
        },
        (operation, error) => this.reportStoreError(name, operation, error),
      );
      room = made;
      this.waitingRooms.set(name, room);
    }
    return room;
  }

  /** Settles a semaphore's permits in the store once per name (a failed settlement is tried again next time). */
  private async settlePermits(name: string, permits: number): Promise<void> {
    if (this.settledPermits.get(name) === permits) return;
    const protocol = await this.protocol();
    await settlePermits(this.gateway, protocol.name, this.options.prefix, name, permits, this.options.host);
    if (this.settledPermits.size >= 4096) this.settledPermits.clear(); // bounded whatever the number of names
    this.settledPermits.set(name, permits);
  }

  /** The store was refused after start (it stopped honouring the protocol's writes): every later operation fails with `error`. */
  private refuseFromNowOn(error: S3LockUnsupportedStoreError): void {
    const refused = Promise.reject(error);
    refused.catch(() => undefined);
    this.protocolPromise = refused;
    this.logger?.error(`s3-lock: ${error.message}`);
  }

  private collectGarbage(name: string, lease: ProtocolLease): void {
    const task = (async () => {
      const protocol = await this.protocol();
      await protocol.collectGarbage?.(name, lease);
    })()
      .catch((error: unknown) => this.reportStoreError(name, 'garbage collection', error))
      .finally(() => this.background.delete(task));
    this.background.add(task);
  }

  private reportStoreError(name: string | undefined, operation: string, error: unknown): void {
    const e = asError(error);
    this.logger?.error(`s3-lock: ${operation}${name === undefined ? '' : ` of "${name}"`} failed: ${e.message}`);
    this.events.emit('storeError', { name: name ?? '', operation, error: e });
  }
}

/** Client defaults that every store here accepts. */
export function withSafeDefaults(config: S3ClientConfig): S3ClientConfig {
  return {
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  };
}

/** Warning for a `Date` header ignored because it is ahead of the other responses beyond the tolerance. */
export function serverClockSkewMessage(bucket: string, date: string, aheadMs: number, toleranceMs: number): string {
  return (
    `s3-lock: ignored a response of bucket "${bucket}" dated ${date}: ${aheadMs} ms ahead of what another recent response allows ` +
    `(serverClockToleranceMs ${toleranceMs}); are the store's servers' clocks in sync?`
  );
}

/** Refuses the names kept for semaphores' permits (`...#permit-<n>`) where a lock or election is asked for. */
function reserved(name: string): string {
  if (typeof name === 'string' && isPermitLockName(name)) {
    throw new S3LockInvalidOptionsError('name', 'names ending in "#permit-<n>" are kept for the permits of semaphores; use manager.semaphore() or another name', name);
  }
  return name;
}
