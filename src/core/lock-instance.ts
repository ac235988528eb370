import { v4 as uuidv4 } from 'uuid';
import { SerialQueue } from './async-tools';
import { S3LockNotAcquiredError, S3LockTimeoutError } from './errors';
import { Lease } from './lease';
import type { LockEvents } from './lock-events';
import type { S3LockAcquireOptions } from './lock-options';
import { checkWait } from './lock-options';
import type { LockQueue } from './lock-queue';
import type { LeaseRequest } from './lock-protocol';
import { NO_TELEMETRY, type AcquireTrace, type LockTelemetry } from './lock-telemetry';
import type { S3Lock } from './lock-types';
import type { MonotonicClock } from './server-clock';

const NEVER_ABORTED = new AbortController().signal;

/**
 * The seed's lock instance: a uuid, a TTL, a reentrancy count kept locally, and the lease it holds.
 * Calls on one instance run one at a time (except `releaseIfOwner`, which never waits for them).
 */
export class LockInstance implements S3Lock {
  readonly id = uuidv4();
  private count = 0;
  private lease: Lease | undefined;
  /** The queue that granted `lease` (it keeps it while the lease lasts). */
  private leaseQueue: LockQueue | undefined;
  private lastSignal: AbortSignal = NEVER_ABORTED;
  private readonly calls = new SerialQueue();

  constructor(
    readonly name: string,
    readonly ttlMs: number,
    /** The manager's queue of the name now (a queue with nothing left to do is dropped, so it is looked up per call). */
    private readonly queue: () => LockQueue,
    private readonly events: LockEvents,
    private readonly mono: MonotonicClock,
    private readonly defaultWaitMs: number,
    private readonly telemetry: LockTelemetry = NO_TELEMETRY,
    /** What telemetry may call this lock (S3LockOptions.telemetryName). */
    private readonly telemetryName?: string,
  ) {}

  get isHeld(): boolean {
    return this.lease?.isLive ?? false;
  }

  get fencingToken(): number | undefined {
    return this.isHeld ? this.lease!.fencingToken : undefined;
  }

  get signal(): AbortSignal {
    return this.lease?.signal ?? this.lastSignal;
  }

  get expiresAt(): Date | undefined {
    return this.isHeld ? this.lease!.expiresAt : undefined;
  }

  get holdCount(): number {
    return this.isHeld ? this.count : 0;
  }

  /** The current lease, for the manager's `using()`. */
  get currentLease(): Lease | undefined {
    return this.isHeld ? this.lease : undefined;
  }

  tryAcquire(): Promise<boolean> {
    return this.calls.run(async () => {
      if (this.reenter()) return true;
      const started = this.mono.now();
      this.events.emit('attempt', { name: this.name, ownerId: this.id });
      const trace = this.telemetry.acquire(this.name, this.telemetryName);
      let result;
      try {
        const queue = this.queue();
        result = await trace.run(() => queue.tryOnce(this.request(trace)));
        if (result instanceof Lease) {
          this.adopt(result, started, queue, trace);
          return true;
        }
      } catch (error) {
        trace.end('error', undefined, error);
        throw error;
      }
      trace.end('not_acquired');
      this.events.emit('notAcquired', { name: this.name, ownerId: this.id, holderId: result?.ownerId, holder: result });
      return false;
    });
  }

  async acquire(options: S3LockAcquireOptions = {}): Promise<void> {
    const waitMs = checkWait(options.waitMs ?? this.defaultWaitMs, this.name);
    return this.calls.run(async () => {
      if (this.reenter()) return;
      const started = this.mono.now();
      this.events.emit('attempt', { name: this.name, ownerId: this.id });
      const trace = this.telemetry.acquire(this.name, this.telemetryName);
      try {
        const queue = this.queue();
        this.adopt(await trace.run(() => queue.wait(this.request(trace), waitMs, options.signal)), started, queue, trace);
      } catch (error) {
        trace.end(error instanceof S3LockTimeoutError ? 'timeout' : error instanceof S3LockNotAcquiredError ? 'not_acquired' : 'error', undefined, error);
        const holder = (error as Partial<S3LockNotAcquiredError>).holder;
        this.events.emit('notAcquired', { name: this.name, ownerId: this.id, holderId: holder?.ownerId, holder });
        throw error;
      }
    });
  }

  release(): Promise<void> {
    return this.calls.run(async () => {
      if (!this.lease) return;
      if (!this.lease.isLive) return this.forget();
      if (--this.count > 0) return;
      await this.releaseLease();
    });
  }

  async releaseIfOwner(): Promise<void> {
    if (!this.lease) return;
    if (!this.lease.isLive) return this.forget();
    await this.releaseLease();
  }

  async extend(): Promise<void> {
    if (!this.lease) throw new S3LockNotAcquiredError(this.name, undefined);
    await this.lease.extend();
  }

  private reenter(): boolean {
    if (this.isHeld) {
      this.count++;
      return true;
    }
    if (this.lease) this.forget();
    return false;
  }

  private adopt(lease: Lease, started: number, queue: LockQueue, trace: AcquireTrace): void {
    this.lease = lease;
    this.leaseQueue = queue;
    this.lastSignal = lease.signal;
    this.count = 1;
    trace.held(lease.record.leaseId, lease.fencingToken);
    trace.end('acquired', lease.fencingToken);
    this.events.emit('acquired', {
      name: this.name,
      ownerId: this.id,
      leaseId: lease.record.leaseId,
      fencingToken: lease.fencingToken,
      waitedMs: Math.round(this.mono.now() - started),
    });
  }

  private forget(): void {
    this.lease = undefined;
    this.leaseQueue = undefined;
    this.count = 0;
  }

  private async releaseLease(): Promise<void> {
    const lease = this.lease!;
    const queue = this.leaseQueue!;
    this.forget();
    try {
      await queue.release(lease);
    } finally {
      // a release the store refused still ends the hold (the lease stopped renewing)
      this.telemetry.leaseEnded(lease.record.leaseId);
    }
  }

  private request(trace: AcquireTrace): LeaseRequest {
    return { name: this.name, ownerId: this.id, leaseId: uuidv4(), ttlMs: this.ttlMs, attempts: trace.attempts };
  }
}
