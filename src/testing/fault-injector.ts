/**
 * Fault injection for the in-memory store (`store.faults`): latency, scripted faults that hit the
 * next matching requests, and seeded random faults for torture tests.
 */
import type { S3Operation } from './s3-request';
import { randomSeed, seededRandom, type RandomSource } from './seeded-random';

/** Kinds of injected faults, as counted in {@link FaultInjector.counts}. */
export type FaultKind = 'error' | 'drop-response' | 'delay' | 'reset-before';

/** Answer with an S3 error instead of the real response. */
export interface ErrorFault {
  readonly kind: 'error';
  /** HTTP status, e.g. 500, 503, 409. */
  readonly status: number;
  /** S3 error code, e.g. `InternalError`, `SlowDown`, `ConditionalRequestConflict`. */
  readonly code: string;
  /** Error message; default: AWS's wording for the code. */
  readonly message?: string;
  /**
   * When true the request is applied to the state first and the error returned afterwards (like a
   * 500 after a write on RGW: the outcome is unknown to the client). Default false: not applied.
   */
  readonly applied?: boolean;
}

/** Apply the request, then lose the response (connection reset: the SDK retries). */
export interface DropResponseFault {
  readonly kind: 'drop-response';
}

/** Hold the request `ms` milliseconds before applying it (`phase: 'before'`, default) or before answering. */
export interface DelayFault {
  readonly kind: 'delay';
  readonly ms: number;
  readonly phase?: 'before' | 'after';
}

/** Reset the connection without applying the request. */
export interface ResetBeforeFault {
  readonly kind: 'reset-before';
}

export type S3Fault = ErrorFault | DropResponseFault | DelayFault | ResetBeforeFault;

/** Which requests a fault hits; every given field must match. An empty match hits every request. */
export interface FaultMatch {
  /** HTTP method, case-insensitive. */
  readonly method?: string;
  readonly bucket?: string;
  /** The object key starts with this (requests without key never match). */
  readonly keyPrefix?: string;
  /** S3 operation name, e.g. `PutObject`. */
  readonly operation?: S3Operation | (string & Record<never, never>);
  /** Whether the request carries a precondition. */
  readonly conditional?: boolean;
}

export interface FaultRule {
  /** Default: every request. */
  readonly match?: FaultMatch;
  /** How many matching requests it hits; default 1; `Infinity` for all. */
  readonly times?: number;
  readonly fault: S3Fault;
}

/** A scripted fault as registered: how often it fired and how often it still will. */
export interface InjectedFault {
  readonly rule: FaultRule;
  readonly fired: number;
  readonly remaining: number;
  /** Removes the rule. */
  cancel(): void;
}

/** Probabilities, per request, of each random fault. */
export interface RandomFaultOptions {
  /** Probability of an error answer without applying. Default 0. */
  readonly errorRate?: number;
  /** Status of random errors. Default 503. */
  readonly status?: number;
  /** Code of random errors. Default `SlowDown`. */
  readonly code?: string;
  /** Probability of applying and then answering with the error. Default 0. */
  readonly errorAfterApplyRate?: number;
  /** Probability of applying and then dropping the response. Default 0. */
  readonly dropAfterApplyRate?: number;
  /** Probability of a connection reset without applying. Default 0. */
  readonly resetBeforeRate?: number;
  /** Seed of the generator; default random. Equal seeds give equal fault sequences. */
  readonly seed?: number;
  /** Restricts random faults to matching requests. Default: all. */
  readonly match?: FaultMatch;
}

/** Latency added to every request. Jitter is uniform in [0, jitterMs). */
export interface LatencyOptions {
  /** Before the request is applied. Default 0. */
  latencyMs: number;
  /** Random extra latency, added before applying (and after, when `responseLatencyMs` > 0). Default 0. */
  jitterMs: number;
  /** After the request is applied, before the response is returned. Default 0. */
  responseLatencyMs: number;
}

/** What a fault is matched against: one request as the store parsed it. */
export interface FaultTarget {
  readonly operation: S3Operation;
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly conditional: boolean;
}

interface ActiveRule {
  readonly rule: FaultRule;
  fired: number;
  remaining: number;
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method.toUpperCase()) return false;
  if (match.bucket !== undefined && match.bucket !== target.bucket) return false;
  if (match.keyPrefix !== undefined && (target.key === undefined || !target.key.startsWith(match.keyPrefix))) return false;
  if (match.operation !== undefined && match.operation !== target.operation) return false;
  return match.conditional === undefined || match.conditional === target.conditional;
}

function noLatency(): LatencyOptions {
  return { latencyMs: 0, jitterMs: 0, responseLatencyMs: 0 };
}

function emptyCounts(): Record<FaultKind, number> {
  return { error: 0, 'drop-response': 0, delay: 0, 'reset-before': 0 };
}

export class FaultInjector {
  /** Latency on every request; mutable. Default none. */
  latency: LatencyOptions = noLatency();
  /** How many faults of each kind were injected since creation or {@link resetCounts}. */
  readonly counts: Record<FaultKind, number> = emptyCounts();
  private rules: ActiveRule[] = [];
  private randomFaults: RandomFaultOptions | undefined;
  private rng: RandomSource;

  /** @param seed seed for jitter and random faults; default random. */
  constructor(seed: number = randomSeed()) {
    this.rng = seededRandom(seed);
  }

  /** Total number of faults injected (all kinds). */
  get total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }

  /** Sets some latency fields, keeping the others. */
  setLatency(latency: Partial<LatencyOptions>): void {
    this.latency = { ...this.latency, ...latency };
  }

  /** Registers a scripted fault; rules are tried in registration order, before random faults. */
  inject(rule: FaultRule): InjectedFault {
    const active: ActiveRule = { rule, fired: 0, remaining: rule.times ?? 1 };
    this.rules.push(active);
    return {
      rule,
      get fired() {
        return active.fired;
      },
      get remaining() {
        return active.remaining;
      },
      cancel: () => {
        active.remaining = 0;
        this.rules = this.rules.filter((r) => r !== active);
      },
    };
  }

  /** Enables random faults (replacing earlier random settings); `undefined` disables them. */
  random(options: RandomFaultOptions | undefined): void {
    this.randomFaults = options;
    if (options?.seed !== undefined) this.rng = seededRandom(options.seed);
  }

  /** Removes scripted and random faults and latency. Counters are kept (see {@link resetCounts}). */
  clear(): void {
    for (const active of this.rules) active.remaining = 0;
    this.rules = [];
    this.randomFaults = undefined;
    this.latency = noLatency();
  }

  resetCounts(): void {
    for (const kind of Object.keys(this.counts) as FaultKind[]) this.counts[kind] = 0;
  }

  /** Number of scripted faults still armed. */
  get pending(): number {
    return this.rules.length;
  }

  /** Latency before applying a request, jitter included (used by the store). */
  latencyBeforeMs(): number {
    const { latencyMs, jitterMs } = this.latency;
    return latencyMs + (jitterMs > 0 ? this.rng() * jitterMs : 0);
  }

  /** Latency after applying a request (used by the store). */
  latencyAfterMs(): number {
    const { responseLatencyMs, jitterMs } = this.latency;
    return responseLatencyMs > 0 ? responseLatencyMs + (jitterMs > 0 ? this.rng() * jitterMs : 0) : 0;
  }

  /** Picks and consumes the fault for one request, counting it (used by the store). */
  next(target: FaultTarget): S3Fault | undefined {
    const fault = this.nextScripted(target) ?? this.nextRandom(target);
    if (fault !== undefined) this.counts[fault.kind] += 1;
    return fault;
  }

  private nextScripted(target: FaultTarget): S3Fault | undefined {
    const active = this.rules.find((r) => r.remaining > 0 && matches(r.rule.match, target));
    if (active === undefined) return undefined;
    active.fired += 1;
    active.remaining -= 1;
    if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
    return active.rule.fault;
  }

  private nextRandom(target: FaultTarget): S3Fault | undefined {
    const options = this.randomFaults;
    if (options === undefined || !matches(options.match, target)) return undefined;
    const status = options.status ?? 503;
    const code = options.code ?? 'SlowDown';
    const outcomes: Array<[number, S3Fault]> = [
      [options.errorRate ?? 0, { kind: 'error', status, code }],
      [options.errorAfterApplyRate ?? 0, { kind: 'error', status, code, applied: true }],
      [options.dropAfterApplyRate ?? 0, { kind: 'drop-response' }],
      [options.resetBeforeRate ?? 0, { kind: 'reset-before' }],
    ];
    let roll = this.rng();
    for (const [rate, fault] of outcomes) {
      if (roll < rate) return fault;
      roll -= rate;
    }
    return undefined;
  }
}
