import { performance } from 'node:perf_hooks';

/** The local monotonic clock, in ms. Injected for tests. */
export interface MonotonicClock {
  now(): number;
}

export const systemMonotonicClock: MonotonicClock = { now: () => performance.now() };

/** HTTP dates have 1 s resolution: a response dated D was produced before D + 1 s. */
const DATE_RESOLUTION_MS = 1_000;

/** Recent `Date` samples kept to judge a new one against. */
export const SERVER_CLOCK_SAMPLES = 16;

/**
 * The store's clock is followed through a step (every server's clock moved, e.g. by an NTP
 * correction) once this many responses in a row, over at least {@link SERVER_CLOCK_STEP_MS}, were
 * rejected and agree with each other. A skewed node that answers a fraction p < 1 of the requests
 * produces such a run with probability p^32 per run (one in three: 5e-16).
 */
export const SERVER_CLOCK_STEP_SAMPLES = 32;
export const SERVER_CLOCK_STEP_MS = 5_000;
/**
 * Other kept responses that must support a response before its bound counts. Two, not one: until
 * a sound answer is kept none is there to reject a skewed one, and with one supporter the first
 * two answers of a skewed node vouched for each other (a new process followed it with probability
 * p^2 for a node answering a share p; now p^3).
 */
const SUPPORTERS = 2;
/** At most this many rejected responses are kept while a step is being judged. */
const MAX_REJECTED_RUN = 4_096;

/** A `Date` header that disagreed with the other recent responses by more than the tolerance. */
export interface ServerClockDisagreement {
  /** The `Date` header as received. */
  readonly date: string;
  /** How far (ms) the clock this response implies is ahead of the latest one another recent response allows. */
  readonly aheadMs: number;
}

export interface ServerClockOptions {
  /** Allowed difference between the clocks of the store's servers. @default 500 */
  readonly toleranceMs?: number;
  /** Called for each `Date` header rejected for being ahead of the other recent ones beyond the tolerance. */
  readonly onDisagreement?: (disagreement: ServerClockDisagreement) => void;
}

/**
 * One response: dated `D` (floored to the second), sent at local monotonic time `s`, received at
 * `r`. The server's clock minus the local monotonic clock (a constant, clock rates being equal)
 * lies in [D - r, D + 1 s - s].
 */
interface Sample {
  /** Lower bound of the offset. */
  readonly low: number;
  /** Upper bound of the offset (Infinity when the send time is unknown). */
  readonly high: number;
  /** Local monotonic time of reception. */
  readonly at: number;
}

/**
 * A lower bound of the store's clock, learnt from HTTP `Date` headers: a response dated D (floored
 * to the second) received at local monotonic time r proves that the server's clock reads at least
 * D + (now - r) now. Client wall clocks are never used, so skewed clients judge expiry correctly.
 *
 * One response cannot move the bound past what the others support:
 * - a response counts only when two other recent responses prove a clock at most the tolerance
 *   behind it (`low_j >= low_i - tolerance`), so the bound never exceeds what some *other*
 *   response proves by more than the tolerance, and the first two answers of a skewed node
 *   cannot vouch for each other before a sound one is kept;
 * - a response that implies a clock ahead of what another recent response allows (that one was
 *   dated before D + 1 s, after it was sent) by more than the tolerance is rejected, reported,
 *   and never counts nor supports another (so two answers of one skewed node cannot vouch for
 *   each other while a sound answer is among the recent ones).
 * The bound never goes backwards. See docs/protocol.md, "State and expiry".
 */
export class ServerClock {
  /** Largest supported lower bound of the offset (server clock - local monotonic clock). */
  private offset: number | undefined;
  /** The most recent responses that were not rejected. */
  private readonly samples: Sample[] = [];
  /** The rejected responses since the last accepted one. */
  private rejectedRun: Sample[] = [];
  private readonly toleranceMs: number;
  private readonly onDisagreement: ((d: ServerClockDisagreement) => void) | undefined;

  constructor(
    private readonly mono: MonotonicClock = systemMonotonicClock,
    options: ServerClockOptions = {},
  ) {
    this.toleranceMs = options.toleranceMs ?? 500;
    this.onDisagreement = options.onDisagreement;
  }

  /**
   * Records a `Date` header seen in a response received at local monotonic time `receivedAt`, for a
   * request sent at `sentAt` (when unknown, the response bounds the clock from below only).
   */
  observe(dateHeader: string | undefined, receivedAt: number = this.mono.now(), sentAt?: number): void {
    if (!dateHeader) return;
    const dateMs = Date.parse(dateHeader);
    if (Number.isNaN(dateMs)) return;
    const sample: Sample = { low: dateMs - receivedAt, high: sentAt === undefined ? Infinity : dateMs + DATE_RESOLUTION_MS - sentAt, at: receivedAt };
    const tolerance = this.toleranceMs;
    const ceiling = this.samples.reduce((min, s) => Math.min(min, s.high), Infinity);
    if (sample.low > ceiling + tolerance) {
      this.onDisagreement?.({ date: dateHeader, aheadMs: Math.round(sample.low - ceiling) });
      this.rejectedRun.push(sample);
      // Keep the shortest run that still spans the step window (a busy process sees far more than
      // SERVER_CLOCK_STEP_SAMPLES responses in it), bounded in memory.
      const run = this.rejectedRun;
      while (run.length > MAX_REJECTED_RUN || (run.length > SERVER_CLOCK_STEP_SAMPLES && sample.at - run[1]!.at >= SERVER_CLOCK_STEP_MS)) run.shift();
      this.followStep();
      return;
    }
    this.rejectedRun = [];
    this.samples.push(sample);
    if (this.samples.length > SERVER_CLOCK_SAMPLES) this.samples.shift();
    // A sample counts when two other kept ones prove a clock at most the tolerance behind it.
    const needed = SUPPORTERS;
    let best = this.offset;
    for (const x of this.samples) {
      let supporters = 0;
      for (const y of this.samples) if (y !== x && y.low >= x.low - tolerance) supporters++;
      if (supporters >= needed && (best === undefined || x.low > best)) best = x.low;
    }
    this.offset = best;
  }

  /**
   * Every response for a while disagreed with the kept ones, and they agree with each other: the
   * store's clock stepped forward (or every kept response came from a node that was behind). Start
   * over from those responses, under the same support rule; the bound still never goes backwards.
   */
  private followStep(): void {
    const run = this.rejectedRun;
    if (run.length < SERVER_CLOCK_STEP_SAMPLES || run[run.length - 1]!.at - run[0]!.at < SERVER_CLOCK_STEP_MS) return;
    const highest = run.reduce((max, s) => Math.max(max, s.low), -Infinity);
    const ceiling = run.reduce((min, s) => Math.min(min, s.high), Infinity);
    if (highest > ceiling + this.toleranceMs) return;
    this.samples.splice(0, this.samples.length, ...run.slice(-SERVER_CLOCK_SAMPLES));
    this.rejectedRun = [];
    const supported = this.samples.filter((s) => this.samples.filter((o) => o !== s && o.low >= s.low - this.toleranceMs).length >= SUPPORTERS);
    for (const s of supported) if (this.offset === undefined || s.low > this.offset) this.offset = s.low;
  }

  /** True once a `Date` header counted (three responses that agree). */
  get known(): boolean {
    return this.offset !== undefined;
  }

  /** The server's clock now, at least (ms since epoch); undefined before two responses agreed. */
  nowLowerBound(): number | undefined {
    return this.offset === undefined ? undefined : this.offset + this.mono.now();
  }

  /** Local monotonic time at which the server's clock reaches `serverMs` at the latest. */
  monotonicAt(serverMs: number): number {
    const lb = this.nowLowerBound();
    if (lb === undefined) return this.mono.now();
    return this.mono.now() + Math.max(0, serverMs - lb);
  }
}
