import { v4 as uuidv4 } from 'uuid';
import { SerialQueue, jitter } from './async-tools';
import { S3LockNotAcquiredError, S3LockTimeoutError } from './errors';
import type { S3LockAcquireOptions } from './lock-options';
import { checkWait } from './lock-options';
import type { S3Lock, S3Semaphore } from './lock-types';
import { isPermanent } from './lock-queue';
import type { MonotonicClock } from './server-clock';

const NEVER_ABORTED = new AbortController().signal;
/** First pause between two rounds over the permits; it grows by half each round up to the manager's `maxPollIntervalMs`. */
const FIRST_POLL_MS = 50;

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
  readonly maxPollIntervalMs: number;
}

/**
 * A counting semaphore: at most `permits` holders of `name` at once, across processes. Each permit
 * is a lock of its own (`<name>#permit-<i>`), so each has the lock's properties: its own strictly
 * increasing fencing token, renewal, a loss signal, expiry on the server clock and takeover of a
 * dead holder's permit. One instance holds at most one permit (reentrant, like a lock instance).
 *
 * An attempt tries the permits once each, from a random one on (so that contenders spread);
 * a wait repeats the round with a growing pause (50 ms, then half as much again each round, up to
 * `maxPollIntervalMs`), one attempt per permit per round.
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
      if (this.isHeld) return this.held!.tryAcquire();
      this.forget();
      await this.parts.settle();
      return this.round();
    });
  }

  async acquire(options: S3LockAcquireOptions = {}): Promise<void> {
    const waitMs = checkWait(options.waitMs ?? this.parts.defaultWaitMs, this.name);
    const signal = options.signal;
    return this.calls.run(async () => {
      signal?.throwIfAborted();
      if (this.isHeld) return this.held!.acquire();
      this.forget();
      const started = this.parts.mono.now();
      await this.parts.settle();
      let pause = FIRST_POLL_MS;
      for (;;) {
        try {
          if (await this.round()) return;
        } catch (error) {
          // the store failed this round: waiting may cure it (the permit locks reported it as a storeError)
          if (isPermanent(error)) throw error;
        }
        const waited = this.parts.mono.now() - started;
        if (waited >= waitMs) throw new S3LockTimeoutError(this.name, Math.round(waited), undefined);
        await pauseFor(Math.min(jitter(pause), waitMs - waited), signal);
        pause = Math.min(Math.round(pause * 1.5), this.parts.maxPollIntervalMs);
      }
    });
  }

  release(): Promise<void> {
    return this.calls.run(async () => {
      const held = this.held;
      if (!held) return;
      try {
        await held.release();
      } finally {
        if (!held.isHeld) this.forget();
      }
    });
  }

  async releaseIfOwner(): Promise<void> {
    const held = this.held;
    if (!held) return;
    try {
      await held.releaseIfOwner();
    } finally {
      if (!held.isHeld && this.held === held) this.forget();
    }
  }

  async extend(): Promise<void> {
    if (!this.held) throw new S3LockNotAcquiredError(this.name, undefined);
    await this.held.extend();
  }

  /** One attempt per permit, from a random permit on; true when one was won. */
  private async round(): Promise<boolean> {
    const { permitLocks } = this.parts;
    const start = Math.floor(Math.random() * permitLocks.length);
    for (let i = 0; i < permitLocks.length; i++) {
      const permit = (start + i) % permitLocks.length;
      const lock = permitLocks[permit]!;
      if (await lock.tryAcquire()) {
        this.held = lock;
        this.heldPermit = permit;
        this.lastSignal = lock.signal;
        return true;
      }
    }
    return false;
  }

  private forget(): void {
    this.held = undefined;
    this.heldPermit = undefined;
  }
}

/** Sleeps `ms`; rejects with the signal's reason if it aborts first. */
function pauseFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
