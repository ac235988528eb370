import { S3LockLostError, S3LockStoreError, type S3LockLossReason } from './errors';
import type { LockEvents } from './lock-events';
import type { LockProtocol, ProtocolLease } from './lock-protocol';
import { BACKGROUND, RELEASE, type RequestSlots, type SlotPriority } from './request-slots';
import type { MonotonicClock } from './server-clock';

/** What a lease needs from its lock queue. */
export interface LeaseHost {
  readonly mono: MonotonicClock;
  readonly events: LockEvents;
  protocol(): Promise<LockProtocol>;
  /** Runs a store operation on this lock name, one at a time per name, within the manager's request slots. */
  serial<T>(task: () => Promise<T>, priority?: SlotPriority): Promise<T>;
  /** The manager's request slots (for the cause of a renewal that never got one). */
  readonly slots: Pick<RequestSlots, 'limit' | 'inFlight' | 'queued'>;
  /** Called once when the lease stops being live (released, lost). */
  leaseEnded(lease: Lease): void;
  /** Store work the lease still does after it ended (the release after a missed deadline): the lock's state is kept until it settles. */
  track(work: Promise<void>): void;
}

/**
 * A held lease: its local deadline on the monotonic clock, automatic renewal about every TTL/3,
 * and the loss signal. The deadline is the send time of the last successful write plus the TTL
 * minus the safety margin: always earlier than anyone else can see the lease expire.
 */
export class Lease {
  private readonly controller = new AbortController();
  private state: 'held' | 'released' | 'lost' = 'held';
  private deadline: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  /** The last renewal's failure (cleared by a renewal that succeeds): the cause of a missed deadline. */
  private lastRenewError: unknown;
  /** Local monotonic time at which the renewal in flight started (its timer fired), and at which it got a request slot and was sent. */
  private renewStartedAt: number | undefined;
  private renewSentAt: number | undefined;
  /** Local monotonic time of acquisition. */
  readonly acquiredAt: number;

  constructor(
    readonly record: ProtocolLease,
    sentAt: number,
    private readonly host: LeaseHost,
    private readonly marginMs: number,
  ) {
    this.acquiredAt = host.mono.now();
    this.deadline = sentAt + record.ttlMs - marginMs;
    this.schedule(sentAt);
  }

  get name(): string {
    return this.record.name;
  }

  get fencingToken(): number {
    return this.record.fencingToken;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Held, and the local deadline has not passed. */
  get isLive(): boolean {
    return this.state === 'held' && this.host.mono.now() < this.deadline;
  }

  get isLost(): boolean {
    return this.state === 'lost';
  }

  /** Milliseconds left before the local deadline. */
  get remainingMs(): number {
    return Math.max(0, this.deadline - this.host.mono.now());
  }

  /** The local deadline as a wall-clock date. */
  get expiresAt(): Date {
    return new Date(Date.now() + this.remainingMs);
  }

  /** Renews now; resolves when the lease's deadline was pushed out, throws if it could not be. */
  async extend(): Promise<void> {
    if (this.renewal) await this.renewal.catch(() => undefined);
    this.assertLive();
    const run = this.renewOnce().finally(() => {
      this.renewSentAt = undefined;
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.renewal = settled;
    void settled.then(() => {
      if (this.renewal === settled) this.renewal = undefined;
    });
    await run;
    this.assertLive();
  }

  /**
   * Marks the lease released (stops renewing) and returns true if it was live; the caller then
   * writes the release. Waits for an in-flight renewal so the release follows it.
   */
  async end(): Promise<boolean> {
    if (this.state !== 'held') return false;
    this.state = 'released';
    this.clearTimers();
    if (this.renewal) await this.renewal;
    this.host.leaseEnded(this);
    return true;
  }

  /** Marks the lease lost and aborts its signal (idempotent). */
  lose(reason: S3LockLossReason, cause?: unknown): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.clearTimers();
    const error = new S3LockLostError(this.name, reason, this.fencingToken, cause ?? (reason === 'deadline-passed' ? this.deadlineCause() : undefined));
    this.controller.abort(error);
    this.host.events.emit('lost', {
      name: this.name,
      ownerId: this.record.ownerId,
      leaseId: this.record.leaseId,
      fencingToken: this.fencingToken,
      reason,
      error,
    });
    this.host.leaseEnded(this);
    if (reason === 'deadline-passed') this.freeAfterLoss();
  }

  /**
   * After a missed deadline the lease may still stand in the store: once any in-flight renewal has
   * settled, write a release so that others need not wait for the TTL. A takeover in between makes
   * this write fail harmlessly (create-only).
   */
  private freeAfterLoss(): void {
    const work = (async () => {
      await this.renewal;
      const protocol = await this.host.protocol();
      await this.host.serial(async () => {
        try {
          await protocol.release(this.record);
        } finally {
          // written from a cursor older than the TTL: never build on the view it leaves
          protocol.dropView?.(this.name);
        }
      }, BACKGROUND);
    })().catch((error: unknown) => {
      this.host.events.emit('storeError', { name: this.name, operation: 'release', error: asError(error) });
    });
    this.host.track(work);
  }

  /** Why the deadline passed, as far as the lease knows: the last renewal's failure, or a renewal still unanswered. */
  private deadlineCause(): unknown {
    if (this.lastRenewError !== undefined) return this.lastRenewError;
    const now = this.host.mono.now();
    if (this.renewStartedAt !== undefined && this.renewSentAt === undefined) {
      const { limit, inFlight, queued } = this.host.slots;
      return new Error(
        `the renewal waited ${Math.round(now - this.renewStartedAt)} ms for a request slot (or for this lock's operation in flight) and was never sent: ${inFlight} of the manager's ${limit} slots (maxInFlight) busy, ${queued} operations queued; this process holds more locks than the store answers in time (see the README's capacity notes), or it was paused`,
      );
    }
    if (this.renewSentAt !== undefined) {
      return new Error(`the renewal sent ${Math.round(now - this.renewSentAt)} ms before the deadline had no answer yet (store slow or unreachable, or this process was paused)`);
    }
    return undefined;
  }

  private assertLive(): void {
    if (this.state === 'lost') throw this.controller.signal.reason as Error;
    if (!this.isLive) throw new S3LockLostError(this.name, 'deadline-passed', this.fencingToken);
  }

  private schedule(sentAt: number): void {
    this.clearTimers();
    const now = this.host.mono.now();
    const renewAt = sentAt + Math.floor(this.record.ttlMs / 3);
    this.renewTimer = setTimeout(() => this.renewInBackground(), Math.max(0, renewAt - now));
    this.deadlineTimer = setTimeout(() => this.lose('deadline-passed'), Math.max(0, this.deadline - now));
    this.renewTimer.unref?.();
    this.deadlineTimer.unref?.();
  }

  private clearTimers(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.renewTimer = this.deadlineTimer = undefined;
  }

  private renewInBackground(): void {
    if (this.state !== 'held' || this.renewal) return;
    this.renewStartedAt = this.host.mono.now();
    this.renewal = this.renewOnce()
      .then(() => {
        this.lastRenewError = undefined;
      })
      .catch((error: unknown) => {
        this.lastRenewError = error;
        this.host.events.emit('storeError', { name: this.name, operation: 'renew', error: asError(error) });
        if (this.state !== 'held') return;
        // Retry soon while the deadline allows; the deadline timer declares the loss otherwise.
        const retryIn = Math.min(1_000, Math.max(100, Math.floor(this.record.ttlMs / 10)));
        if (this.remainingMs > retryIn) {
          if (this.renewTimer) clearTimeout(this.renewTimer);
          this.renewTimer = setTimeout(() => this.renewInBackground(), retryIn);
          this.renewTimer.unref?.();
        }
      })
      .finally(() => {
        this.renewal = undefined;
        this.renewStartedAt = undefined;
        this.renewSentAt = undefined;
      });
  }

  private async renewOnce(): Promise<void> {
    const protocol = await this.host.protocol();
    const result = await this.host.serial(
      async () => {
        // Woken after the deadline (a paused process), or the deadline passed while this renewal
        // waited for a request slot: never renew a lease others may have taken. Nor one released meanwhile.
        if (!this.isLive) return undefined;
        this.renewSentAt = this.host.mono.now();
        return protocol.renew(this.record);
      },
      { kind: 'renewal', deadline: this.deadline },
    );
    if (result === undefined) {
      this.lose('deadline-passed');
      return;
    }
    if (!result.renewed) {
      // Stop believing first; only then may the protocol delete the lease's versions.
      this.lose(result.reason ?? 'taken-over');
      const cleanUp = result.cleanUp;
      if (cleanUp) {
        await this.host.serial(cleanUp, RELEASE).catch((error: unknown) => {
          this.host.events.emit('storeError', { name: this.name, operation: 'renew', error: asError(error) });
        });
      }
      return;
    }
    if (this.state === 'held' && !this.isLive) {
      // The deadline passed while the renewal was in flight: once not live, never live again.
      this.lose('deadline-passed');
    } else if (this.state === 'held') {
      const now = this.host.mono.now();
      const remainingMs = this.deadline - now;
      this.deadline = result.sentAt + this.record.ttlMs - this.marginMs;
      this.schedule(result.sentAt);
      const tookMs = Math.round(now - (this.renewStartedAt ?? result.sentAt));
      this.host.events.emit('renewed', { name: this.name, ownerId: this.record.ownerId, leaseId: this.record.leaseId, fencingToken: this.fencingToken, tookMs });
      // A renewal starts a third of the TTL after the last write: landing with less than a third
      // left means it took most of its slack (slow store, overload, retries). Say so before a loss.
      if (remainingMs < this.record.ttlMs / 3) {
        this.host.events.emit('renewalSlow', {
          name: this.name,
          ownerId: this.record.ownerId,
          leaseId: this.record.leaseId,
          fencingToken: this.fencingToken,
          tookMs,
          remainingMs: Math.max(0, Math.round(remainingMs)),
        });
      }
    }
  }
}

export function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new S3LockStoreError(undefined, 'unknown', undefined, error);
}
