import type { S3LockHolderInfo } from './errors';
import type { S3LockState } from './lock-types';

/** Who asks for a lease. */
export interface LeaseRequest {
  readonly name: string;
  /** The lock instance id (uuid). */
  readonly ownerId: string;
  /** A fresh id for this acquisition. */
  readonly leaseId: string;
  readonly ttlMs: number;
  /** Counts the store attempts made for this request (telemetry's `s3lock.attempts`). */
  readonly attempts?: { count: number };
}

/**
 * A lease as a protocol sees it. `cursor` is protocol-owned position data (the epoch of the lease's
 * last record for create-only, the claimed version for versioned).
 */
export interface ProtocolLease extends LeaseRequest {
  readonly fencingToken: number;
  cursor: number;
  versionId?: string;
  /** Create-only: id of the log generation the lease was granted in (see docs/protocol.md, record loss). */
  generation?: string;
}

export type AcquireResult =
  | {
      readonly acquired: true;
      readonly lease: ProtocolLease;
      /** Local monotonic time at which the winning write was sent: the lease's deadline counts from it. */
      readonly sentAt: number;
    }
  | {
      readonly acquired: false;
      readonly holder: S3LockHolderInfo | undefined;
      /** Local monotonic time from which the holder's lease may have expired, if known. */
      readonly freeAt: number | undefined;
    };

export type RenewResult =
  | { readonly renewed: true; readonly sentAt: number }
  | {
      readonly renewed: false;
      /** Why not: taken over by another holder (default), or the store lost the lock's records. */
      readonly reason?: 'taken-over' | 'records-lost';
      /**
       * Store clean-up of the ended lease, to run only after the lease has stopped believing it
       * holds (its signal aborted); it may delete the lease's own versions.
       */
      readonly cleanUp?: () => Promise<void>;
    };

/**
 * A lock protocol: the store operations behind the lock instance. Implementations never keep
 * anything between calls that matters for safety except caches they can prove fresh; the manager
 * serialises calls per lock name.
 */
export interface LockProtocol {
  readonly name: 'create-only' | 'versioned';
  /** One attempt to take the lock. */
  tryAcquire(request: LeaseRequest): Promise<AcquireResult>;
  /** Extends a held lease. `renewed: false` means another holder took over, or the records were lost (`reason`). Throws S3LockStoreError when the outcome stays unknown. */
  renew(lease: ProtocolLease): Promise<RenewResult>;
  /** Releases a lease; a lease already taken over is left alone. */
  release(lease: ProtocolLease): Promise<void>;
  /** Releases `lease` and acquires for `next` in one step where the protocol can (one request instead of two). */
  handOff(lease: ProtocolLease, next: LeaseRequest): Promise<AcquireResult>;
  /**
   * Operator's force-unlock: writes a release over whatever lease holds the lock. Resolves to true
   * if a live or expired lease was ended. The holder learns it at its next renewal.
   */
  forceRelease?(name: string): Promise<boolean>;
  /** Reads the lock's state from the store. */
  inspect(name: string): Promise<S3LockState>;
  /** Background clean-up after a release (never on the hot path); may do nothing. */
  collectGarbage?(name: string, lease?: ProtocolLease): Promise<void>;
  /**
   * The manager dropped the lock's queue: no lease, waiter, attempt or store operation of `name`
   * is left in this manager, so no write of its lease ids can follow. Drops per-lease state of it.
   */
  forget?(name: string): void;
  /**
   * Drops what the protocol cached of `name`'s log, so that the next attempt reads it: called after
   * the release a lease sends once it missed its deadline, whose epoch may have been collected.
   */
  dropView?(name: string): void;
  /** Entries kept per internal map (expired cache entries dropped first), for tests and benchmarks. */
  retainedEntries?(): Record<string, number>;
}
