import { v4 as uuidv4 } from 'uuid';
import { SerialQueue } from './async-tools';
import { S3LockNotAcquiredError, S3LockTimeoutError } from './errors';
import type { S3LockAcquireOptions } from './lock-options';
import { checkWait } from './lock-options';
import type { S3Lock, S3Semaphore } from './lock-types';
import type { SemaphoreWaiters } from './semaphore-waiters';
import type { MonotonicClock } from './server-clock';

const NEVER_ABORTED = new AbortController().signal;

/** What a semaphore is built from (by the manager). */
export interface SemaphoreParts {
  readonly name: string;
  readonly permits: number;
  readonly ttlMs: number;
  /** The lock of each permit (`<name>#permit-<i>`), in permit order. */
  readonly permitLocks: readonly S3Lock[];
  /** Settles the permits in the store (once per manager and name); throws on a mismatch. */
  readonly settle: () => Promise<void>;
  readonly mono: MonotonicClock;
  readonly defaultWaitMs: number;
  /** The manager's line of waiters for this name (one poller per name per manager). */
  readonly waiters: () => SemaphoreWaiters;
  /** Told when this instance gave a permit back (wakes the name's waiters in this manager). */
  readonly gaveBack: () => void;
}

/**
 * A counting semaphore: at most `permits` holders of `name` at once, across processes. Each permit
 * is a lock of its own (`<name>#permit-<i>`), so each has the lock's properties: its own strictly
 * increasing fencing token, renewal, a loss signal, expiry on the server clock and takeover of a
 * dead holder's permit. One instance holds at most one permit (reentrant, like a lock instance).
 *
 * An attempt tries the permits once each, from a random one on (so that contenders spread). The
 * waiting instances of one name in one manager share one poller ({@link SemaphoreWaiters}): a
 * round tries each permit once for the first in line, so waiting costs at most one try per permit
 * per round whatever the number of waiters.
 */
export class LockSemaphore implements S3Semaphore {
  readonly id = uuidv4();
  readonly name: string;
  readonly permits: number;
  readonly ttlMs: number;
  private held: S3Lock | undefined;
  private heldPermit: number | undefined;
  private lastSignal: AbortSignal = NEVER_ABORTED;
  private readonly calls = new SerialQueue();
  /** Rounds and give-backs in flight, also those of a wait that already ended. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly parts: SemaphoreParts) {
    this.name = parts.name;
    this.permits = parts.permits;
    this.ttlMs = parts.ttlMs;
  }

  get isHeld(): boolean {
    return this.held?.isHeld ?? false;
  }

  get permit(): number | undefined {
    return this.isHeld ? this.heldPermit : undefined;
  }

  get fencingToken(): number | undefined {
    return this.isHeld ? this.held!.fencingToken : undefined;
  }

  get signal(): AbortSignal {
    return this.held?.signal ?? this.lastSignal;
  }

  get expiresAt(): Date | undefined {
    return this.isHeld ? this.held!.expiresAt : undefined;
  }

  get holdCount(): number {
    return this.isHeld ? this.held!.holdCount : 0;
  }

  tryAcquire(): Promise<boolean> {
    return this.calls.run(async () => {
      await this.settledRounds();
      if (this.isHeld) return this.held!.tryAcquire();
      this.forget();
      await this.parts.settle();
      return this.round(() => true);
    });
  }

  async acquire(options: S3LockAcquireOptions = {}): Promise<void> {
    const waitMs = checkWait(options.waitMs ?? this.parts.defaultWaitMs, this.name);
    const signal = options.signal;
    return this.calls.run(async () => {
      signal?.throwIfAborted();
      await this.settledRounds();
      if (this.isHeld) return this.held!.acquire();
      this.forget();
      const started = this.parts.mono.now();
      await this.parts.settle();
      if (waitMs === 0) {
        if (await this.round(() => true)) return;
        throw new S3LockTimeoutError(this.name, Math.round(this.parts.mono.now() - started), undefined);
      }
      const left = waitMs - (this.parts.mono.now() - started);
      await this.parts.waiters().wait({ round: (stillWanted) => this.round(stillWanted), giveBack: () => this.track(() => this.releaseIfOwner()) }, Math.max(0, left), signal);
    });
  }

  release(): Promise<void> {
    return this.calls.run(async () => {
      const held = this.held;
      if (!held) return;
      try {
        await held.release();
      } finally {
        if (!held.isHeld) {
          this.forget();
          this.parts.gaveBack();
        }
      }
    });
  }

  async releaseIfOwner(): Promise<void> {
    const held = this.held;
    if (!held) return;
    try {
      await held.releaseIfOwner();
    } finally {
      if (!held.isHeld && this.held === held) {
        this.forget();
        this.parts.gaveBack();
      }
    }
  }

  async extend(): Promise<void> {
    if (!this.held) throw new S3LockNotAcquiredError(this.name, undefined);
    await this.held.extend();
  }

  /**
   * One attempt per permit, from a random permit on; true when one was won and taken by this
   * instance. A permit won once `stillWanted()` is false (the wait it was for ended meanwhile) is
   * released, never taken. Tracked: the instance's next call waits for it to settle, so that a
   * round of a wait that already ended never runs beside a new attempt on the same permit locks.
   */
  private round(stillWanted: () => boolean): Promise<boolean> {
    return this.track(async () => {
      const { permitLocks } = this.parts;
      const start = Math.floor(Math.random() * permitLocks.length);
      for (let i = 0; i < permitLocks.length; i++) {
        const permit = (start + i) % permitLocks.length;
        const lock = permitLocks[permit]!;
        if (!(await lock.tryAcquire())) continue;
        if (!stillWanted()) {
          await lock.releaseIfOwner();
          this.parts.gaveBack();
          return false;
        }
        this.held = lock;
        this.heldPermit = permit;
        this.lastSignal = lock.signal;
        return true;
      }
      return false;
    });
  }

  /** Runs `fn` as this instance's work in flight (see {@link settledRounds}). */
  private track<T>(fn: () => Promise<T>): Promise<T> {
    const run = fn();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    const before = this.inFlight;
    this.inFlight = Promise.all([before, settled]).then(() => undefined);
    return run;
  }

  /** Waits for rounds (and give-backs) still running for waits that already ended. */
  private async settledRounds(): Promise<void> {
    await this.inFlight;
  }

  private forget(): void {
    this.held = undefined;
    this.heldPermit = undefined;
  }
}
