import { performance } from 'node:perf_hooks';

/** The local monotonic clock, in ms. Injected for tests. */
export interface MonotonicClock {
  now(): number;
}

export const systemMonotonicClock: MonotonicClock = { now: () => performance.now() };

/**
 * A lower bound of the store's clock, learnt from HTTP `Date` headers: a response dated D (floored
 * to the second) received at local monotonic time r proves that the server's clock reads at least
 * D + (now - r) now. Client wall clocks are never used, so skewed clients judge expiry correctly.
 */
export class ServerClock {
  private base: { dateMs: number; receivedAt: number } | undefined;

  constructor(private readonly mono: MonotonicClock = systemMonotonicClock) {}

  /** Records a `Date` header seen in a response received at local monotonic time `receivedAt`. */
  observe(dateHeader: string | undefined, receivedAt: number = this.mono.now()): void {
    if (!dateHeader) return;
    const dateMs = Date.parse(dateHeader);
    if (Number.isNaN(dateMs)) return;
    if (!this.base || dateMs + (this.mono.now() - receivedAt) > this.nowLowerBoundOrZero()) {
      this.base = { dateMs, receivedAt };
    }
  }

  /** True once a `Date` header was seen. */
  get known(): boolean {
    return this.base !== undefined;
  }

  /** The server's clock now, at least (ms since epoch); undefined before any observation. */
  nowLowerBound(): number | undefined {
    return this.base ? this.base.dateMs + (this.mono.now() - this.base.receivedAt) : undefined;
  }

  private nowLowerBoundOrZero(): number {
    return this.nowLowerBound() ?? 0;
  }

  /** Local monotonic time at which the server's clock reaches `serverMs` at the latest. */
  monotonicAt(serverMs: number): number {
    const lb = this.nowLowerBound();
    if (lb === undefined) return this.mono.now();
    return this.mono.now() + Math.max(0, serverMs - lb);
  }
}
