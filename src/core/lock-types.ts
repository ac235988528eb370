import type { S3LockAcquireOptions } from './lock-options';
import type { S3LockHolderInfo, S3LockLossReason } from './errors';

/** What the store says about a lock, from `manager.inspect(name)`. */
export interface S3LockState {
  /** The lock name. */
  readonly name: string;
  /** Protocol that keeps this lock. */
  readonly protocol: 'create-only' | 'versioned';
  /** True when a live (unexpired, unreleased) lease exists. */
  readonly held: boolean;
  /** The current or last holder, if the lock was ever taken. */
  readonly holder:
    | {
        readonly ownerId: string;
        readonly leaseId: string;
        readonly fencingToken: number;
        readonly host: string | undefined;
        readonly pid: number | undefined;
        /** Id of the holder's lock manager (see {@link S3LockManager.id}), when its record names it. */
        readonly managerId?: string | undefined;
      }
    | undefined;
  /** Server time of the holder's acquisition (undefined if unknown or its record was collected). */
  readonly acquiredAt?: Date;
  /** Server time of the last write to this lock. */
  readonly lastWriteAt: Date | undefined;
  /** Server time from which a held lease can be taken over if not renewed (includes slack). */
  readonly expiresAt: Date | undefined;
  /** The store's clock when the state was read (lower bound). */
  readonly serverTime: Date;
  /** Number of the newest record (create-only) or of versions (versioned). */
  readonly epoch: number;
}

/** The context handed to `using()` callbacks and to code running under a lock. */
export interface S3LockContext {
  /** The lock name. */
  readonly name: string;
  /** Aborted with an {@link S3LockLostError} when the lease is lost. */
  readonly signal: AbortSignal;
  /**
   * Fencing token of this lease: strictly greater than every earlier lease's token for this name.
   * Stays readable after the lease is lost (a resource that checks tokens rejects it by itself).
   */
  readonly fencingToken: number;
  /**
   * True while this lease is held and its local deadline has not passed, read at the moment of the
   * call: after an event-loop stall past the deadline it is already false, before `signal` aborts
   * (the signal waits for its timer to run). Check it right before a write the resource cannot fence.
   */
  readonly isHeld: boolean;
  /**
   * Throws {@link S3LockLostError} when this lease is no longer held ({@link isHeld} false): the
   * signal's reason if it has aborted, else one with reason `deadline-passed`. Call it synchronously
   * right before a write that carries no fencing token:
   *
   * ```ts
   * lock.check();
   * await db.write(rows); // sent in the same tick as the check
   * ```
   */
  check(): void;
  /** Renew now and push the local deadline out by a full TTL. */
  extend(): Promise<void>;
}

/** The seed's lock instance: one uuid, one TTL, reentrant. */
export interface S3Lock {
  /** uuid v4 of this lock instance; written into every record it writes. */
  readonly id: string;
  /** The lock name. */
  readonly name: string;
  /** Lease TTL of this instance, in ms. */
  readonly ttlMs: number;
  /**
   * One attempt; `true` when this instance now holds the lock (reentrant: counts up if it already
   * did). Rejects with {@link S3LockClosedError} when the manager is closed, also when `close()`
   * is called while the attempt is in flight (a lease it won is released).
   */
  tryAcquire(): Promise<boolean>;
  /** Waits up to `waitMs`; throws {@link S3LockTimeoutError} after that. Reentrant. */
  acquire(options?: S3LockAcquireOptions): Promise<void>;
  /** Reentrant release: counts down, and releases in the store at zero. No-op if not held. */
  release(): Promise<void>;
  /** The seed's RemoveLockIfOwner: releases whatever the count, if this instance holds the lock. */
  releaseIfOwner(): Promise<void>;
  /** Renew now (pushes the local deadline out by a full TTL). Throws if not held. */
  extend(): Promise<void>;
  /** True while this instance holds an unexpired, unlost lease. */
  readonly isHeld: boolean;
  /** Fencing token of the current lease, or `undefined` when not held. */
  readonly fencingToken: number | undefined;
  /** Aborted (with {@link S3LockLostError}) when the current lease is lost; a fresh signal per lease. */
  readonly signal: AbortSignal;
  /** Local deadline of the current lease (wall clock), or `undefined` when not held. */
  readonly expiresAt: Date | undefined;
  /** Reentrancy count. */
  readonly holdCount: number;
}

/**
 * A counting semaphore from `manager.semaphore(name, { permits })`: the lock instance's surface,
 * where holding means holding one of `permits` permits. At most `permits` instances hold one at a
 * time, across processes; each permit has its own fencing token (strictly increasing per permit).
 */
export interface S3Semaphore extends S3Lock {
  /** How many holders the semaphore allows at once (the same for every holder of the name). */
  readonly permits: number;
  /** Which permit this instance holds (0 to permits - 1), or `undefined` when it holds none. */
  readonly permit: number | undefined;
}

/** The context of `manager.using([a, b], fn)`: every name's lease, held together. */
export interface S3MultiLockContext {
  /** The names, in the canonical order they were acquired in (sorted, without duplicates). */
  readonly names: readonly string[];
  /** Aborted when any of the leases is lost, with that lease's {@link S3LockLostError}. */
  readonly signal: AbortSignal;
  /** Each name's fencing token. */
  readonly fencingTokens: Readonly<Record<string, number>>;
  /** Each name's own lease context. */
  readonly leases: Readonly<Record<string, S3LockContext>>;
  /** True while every lease is held (see {@link S3LockContext.isHeld}). */
  readonly isHeld: boolean;
  /** Throws the first lost lease's {@link S3LockLostError} unless every lease is held. */
  check(): void;
  /** Renews every lease now. */
  extend(): Promise<void>;
}

/** Events emitted by the manager (listener errors are caught and logged). */
export interface S3LockEvents {
  attempt: { name: string; ownerId: string };
  acquired: { name: string; ownerId: string; leaseId: string; fencingToken: number; waitedMs: number };
  notAcquired: { name: string; ownerId: string; holderId: string | undefined; holder: S3LockHolderInfo | undefined };
  /** A renewal pushed the lease's deadline out; `tookMs` from its start (queueing for a request slot included) to its answer. */
  renewed: { name: string; ownerId: string; leaseId: string; fencingToken: number; tookMs: number };
  /**
   * A renewal succeeded with less than a third of the TTL left before the lease's local deadline
   * (`remainingMs`): it took `tookMs`, retries included, where a third of the TTL is its whole
   * slack. The early warning of a store (or process) that cannot keep up: one more such delay and
   * the lease is lost (`deadline-passed`). See the README's capacity notes.
   */
  renewalSlow: { name: string; ownerId: string; leaseId: string; fencingToken: number; tookMs: number; remainingMs: number };
  lost: { name: string; ownerId: string; leaseId: string; fencingToken: number; reason: S3LockLossReason; error: Error };
  released: { name: string; ownerId: string; leaseId: string; fencingToken: number; heldMs: number };
  /** A release or renewal failed in the store; the lease will expire after its TTL. */
  storeError: { name: string; operation: string; error: Error };
  /**
   * A response's `Date` header was ignored: it implies a server clock `aheadMs` ahead of what
   * another recent response allows, beyond `serverClockToleranceMs` (a store node with a skewed
   * clock). It never moves the server-clock bound that expiry is judged on.
   */
  serverClockSkew: { bucket: string; date: string; aheadMs: number; toleranceMs: number };
  /**
   * The protocol was chosen (once per manager, at `probe()` or first use): the prefix's declaration
   * was read and the probe passed.
   */
  ready: { bucket: string; prefix: string; protocol: 'create-only' | 'versioned' };
}

export type S3LockEventName = keyof S3LockEvents;
