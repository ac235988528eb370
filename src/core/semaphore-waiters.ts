import { KeepAlive, Notifier, jitter, unrefTimeout } from './async-tools';
import { S3LockClosedError, S3LockTimeoutError } from './errors';
import { isPermanent } from './lock-queue';
import type { MonotonicClock } from './server-clock';

/** First pause between two rounds over the permits; it grows by half each round up to `maxPollIntervalMs`. */
const FIRST_POLL_MS = 50;

/** One waiting semaphore instance: its round (one try per permit) wins a permit for it. */
export interface SemaphoreWaiter {
  /**
   * One try of each permit for this instance; true when it won one and took it. A permit won once
   * `stillWanted()` is false (the wait ended meanwhile) is given back by the round itself.
   */
  round(stillWanted: () => boolean): Promise<boolean>;
  /** Gives back a permit won after the wait had ended (timed out, aborted). */
  giveBack(): Promise<void>;
}

interface Waiting {
  readonly waiter: SemaphoreWaiter;
  done: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The waiters of one semaphore name in one manager, polled by one loop: each round tries the
 * permits once, for the first waiter in line, so a round costs at most `permits` requests however
 * many instances of the process wait. A won permit goes to that waiter and the next round starts
 * at once (another permit may be free); a round that wins nothing pauses 50 ms, growing by 1.5x up to
 * `maxPollIntervalMs`, jittered, or less when a local holder gives a permit back ({@link wake}).
 */
export class SemaphoreWaiters {
  private readonly line: Waiting[] = [];
  private readonly wakeUp = new Notifier();
  private readonly keepAlive = new KeepAlive();
  private polling = false;

  constructor(
    private readonly name: string,
    private readonly mono: MonotonicClock,
    private readonly maxPollIntervalMs: number,
    /** Told when the line is empty and nothing polls (the manager drops this object). */
    private readonly idle: () => void,
    /** Told of a store error the loop retries, and of a give-back that failed. */
    private readonly storeError: (operation: string, error: unknown) => void,
  ) {}

  get isIdle(): boolean {
    return this.line.length === 0 && !this.polling;
  }

  /** Waits in line up to `waitMs` for a permit for `waiter`. */
  wait(waiter: SemaphoreWaiter, waitMs: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const started = this.mono.now();
      const entry: Waiting = {
        waiter,
        done: false,
        resolve: () => finish(resolve),
        reject: (error) => finish(() => reject(error)),
      };
      const cancelTimer = waitMs === Infinity ? undefined : unrefTimeout(() => entry.reject(new S3LockTimeoutError(this.name, Math.round(this.mono.now() - started), undefined)), waitMs);
      const onAbort = (): void => entry.reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (settle: () => void): void => {
        if (entry.done) return;
        entry.done = true;
        cancelTimer?.();
        signal?.removeEventListener('abort', onAbort);
        const i = this.line.indexOf(entry);
        if (i >= 0) this.line.splice(i, 1);
        if (this.line.length === 0) this.keepAlive.let();
        settle();
        this.checkIdle();
      };
      this.line.push(entry);
      this.keepAlive.hold();
      this.poll();
    });
  }

  /** The manager is closing: every waiter rejects with {@link S3LockClosedError} now. */
  close(): void {
    for (const w of [...this.line]) w.reject(new S3LockClosedError(this.name));
    this.wakeUp.notify();
  }

  /** A permit of this name was given back in this process: try again now. */
  wake(): void {
    this.wakeUp.notify();
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    void this.loop()
      .catch((error: unknown) => {
        for (const w of [...this.line]) w.reject(error);
      })
      .finally(() => {
        this.polling = false;
        if (this.line.length > 0) this.poll();
        else this.checkIdle();
      });
  }

  private async loop(): Promise<void> {
    let pause = FIRST_POLL_MS;
    while (this.line.length > 0) {
      const head = this.line[0]!;
      let won: boolean;
      try {
        won = await head.waiter.round(() => !head.done);
      } catch (error) {
        if (isPermanent(error)) throw error;
        this.storeError('acquire', error);
        won = false;
      }
      if (won) {
        if (head.done) {
          // the wait ended while the round was in flight: nobody takes this permit
          void head.waiter.giveBack().catch((error: unknown) => this.storeError('release', error));
        } else head.resolve();
        pause = FIRST_POLL_MS;
        continue;
      }
      if (this.line.length === 0) break;
      await this.wakeUp.wait(jitter(pause));
      pause = Math.min(Math.round(pause * 1.5), this.maxPollIntervalMs);
    }
  }

  private checkIdle(): void {
    if (this.isIdle) this.idle();
  }
}
