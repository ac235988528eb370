import type * as Otel from '@opentelemetry/api';
import type { LockEvents } from './lock-events';

/**
 * Where telemetry goes, and how lock names become attributes. `@opentelemetry/api` is an optional
 * peer: without it nothing is recorded and nothing is spent beyond a no-op call per operation.
 */
export interface S3LockTelemetryOptions {
  /**
   * An OpenTelemetry `MeterProvider`.
   * @default the global one (`metrics.getMeterProvider()`; a no-op until an SDK registers one)
   */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
  /**
   * An OpenTelemetry `TracerProvider`.
   * @default the global one (`trace.getTracerProvider()`)
   */
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /**
   * The `s3lock.name` attribute of a lock, or `undefined` for none. Lock names can be per entity
   * (`order:<id>`), which would give a metrics backend one series per entity: map them to a
   * bounded set. `template` is what the caller declared for telemetry: `@WithS3Lock`'s static name,
   * or for a name function its `telemetryName` (default `Class.method`).
   * A mapping that throws gives the lock no name attribute; the lock itself is not affected.
   * @default (name, template) => template: decorated locks carry their template; names given to
   * `S3LockService` or the engine directly carry no name attribute
   */
  lockName?: (name: string, template: string | undefined) => string | undefined;
  /** `false` turns telemetry off even where a provider is registered. @default true */
  enabled?: boolean;
}

/** Outcomes of `s3lock.acquire.duration` and the `s3lock.acquire` span. */
export type AcquireOutcome = 'acquired' | 'not_acquired' | 'timeout' | 'error';

/** One acquisition in progress (a `tryAcquire()` or `acquire()` call). */
export interface AcquireTrace {
  /** Counts a store attempt (polls included). */
  readonly attempts: { count: number };
  /** Records the outcome and ends the acquire span (once). */
  end(outcome: AcquireOutcome, fencingToken?: number, error?: unknown): void;
  /** The lease was granted: starts its hold span (ended by the `released` / `lost` events). */
  held(leaseId: string, fencingToken: number): void;
  /** Runs `fn` with the acquire span active, so that the S3 requests it sends (and the AWS SDK's own spans, where enabled) nest under it. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

const NO_TRACE: AcquireTrace = { attempts: { count: 0 }, end: () => undefined, held: () => undefined, run: (fn) => fn() };

/** The engine's instrumentation: a no-op without `@opentelemetry/api`. */
export interface LockTelemetry {
  acquire(name: string, template: string | undefined): AcquireTrace;
  /** One S3 request's answer: its HTTP status, or `error` when none came. */
  storeRequest(operation: string, status: number | 'error'): void;
  /** The holder is done with the lease (its release may have failed in the store): ends its hold (idempotent). */
  leaseEnded(leaseId: string): void;
}

export const NO_TELEMETRY: LockTelemetry = { acquire: () => NO_TRACE, storeRequest: () => undefined, leaseEnded: () => undefined };

const SCOPE = 'nestjs-s3-lock';

/** The API package, when the application installed it (an optional peer). */
function loadApi(): typeof Otel | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer, loaded only if installed
    return require('@opentelemetry/api') as typeof Otel;
  } catch {
    return undefined;
  }
}

/**
 * The manager's telemetry: {@link NO_TELEMETRY} when disabled or without the API package, else
 * instruments on the configured (or global) providers, fed by the calls and the manager's events.
 */
export function lockTelemetry(options: S3LockTelemetryOptions | undefined, bucket: string, events: LockEvents): LockTelemetry {
  if (options?.enabled === false) return NO_TELEMETRY;
  const api = loadApi();
  if (!api) return NO_TELEMETRY;
  return new OtelLockTelemetry(api, options ?? {}, bucket, events);
}

interface Hold {
  readonly span: Otel.Span;
  readonly startedAt: number;
  readonly attributes: Otel.Attributes;
}

class OtelLockTelemetry implements LockTelemetry {
  private readonly meter: Otel.Meter;
  private readonly tracer: Otel.Tracer;
  private readonly acquireDuration: Otel.Histogram;
  private readonly holdDuration: Otel.Histogram;
  private readonly leasesHeld: Otel.UpDownCounter;
  private readonly leasesLost: Otel.Counter;
  private readonly renewals: Otel.Counter;
  private readonly storeRequests: Otel.Counter;
  private readonly holds = new Map<string, Hold>();
  private protocol = 'unknown';
  /** Attribute sets by key (bounded names x outcomes x operations): built once, not per call. */
  private readonly attributeSets = new Map<string, Otel.Attributes>();
  private readonly lockName: (name: string, template: string | undefined) => string | undefined;

  constructor(
    private readonly api: typeof Otel,
    options: S3LockTelemetryOptions,
    private readonly bucket: string,
    events: LockEvents,
  ) {
    this.meter = ((options.meterProvider as Otel.MeterProvider | undefined) ?? api.metrics.getMeterProvider()).getMeter(SCOPE);
    this.tracer = ((options.tracerProvider as Otel.TracerProvider | undefined) ?? api.trace.getTracerProvider()).getTracer(SCOPE);
    this.lockName = options.lockName ?? ((_name, template) => template);
    const seconds = { unit: 's' };
    this.acquireDuration = this.meter.createHistogram('s3lock.acquire.duration', { ...seconds, description: 'From an acquire call to its outcome, waiting included' });
    this.holdDuration = this.meter.createHistogram('s3lock.hold.duration', { ...seconds, description: 'From grant to release or loss' });
    this.leasesHeld = this.meter.createUpDownCounter('s3lock.leases.held', { description: 'Leases held now' });
    this.leasesLost = this.meter.createCounter('s3lock.leases.lost', { description: 'Leases lost, by S3LockLostError reason' });
    this.renewals = this.meter.createCounter('s3lock.renewals', { description: 'Renewals, renewed or failed (a store error; retried while the deadline allows)' });
    this.storeRequests = this.meter.createCounter('s3lock.store.requests', { description: 'S3 requests the lock sent, by operation and HTTP status' });
    events.on('ready', (e) => {
      this.protocol = e.protocol;
      this.attributeSets.clear();
    });
    events.on('renewed', () => this.renewals.add(1, this.set('renewed', () => ({ ...this.base(), 's3lock.outcome': 'renewed' }))));
    events.on('storeError', (e) => {
      if (e.operation === 'renew') this.renewals.add(1, this.set('renew-failed', () => ({ ...this.base(), 's3lock.outcome': 'failed' })));
    });
    events.on('released', (e) => this.endHold(e.leaseId, undefined));
    events.on('lost', (e) => this.endHold(e.leaseId, { reason: e.reason, error: e.error }));
  }

  acquire(name: string, template: string | undefined): AcquireTrace {
    const api = this.api;
    const parent = api.context.active();
    const startedAt = performance.now();
    const mapped = this.mapName(name, template);
    const key = mapped === undefined ? '' : `n:${mapped}`;
    const named = (): Otel.Attributes => this.set(key, () => (mapped === undefined ? this.base() : { ...this.base(), 's3lock.name': mapped }));
    const span = this.tracer.startSpan('s3lock.acquire', { kind: api.SpanKind.INTERNAL, attributes: named() }, parent);
    const attempts = { count: 0 };
    let ended = false;
    return {
      attempts,
      end: (outcome, fencingToken, error) => {
        if (ended) return;
        ended = true;
        const attributes = named();
        this.acquireDuration.record((performance.now() - startedAt) / 1000, this.set(`${key}|${outcome}`, () => ({ ...attributes, 's3lock.outcome': outcome })));
        if (span.isRecording()) span.setAttributes({ ...attributes, 's3lock.outcome': outcome, 's3lock.attempts': attempts.count, ...(fencingToken === undefined ? {} : { 's3lock.fencing_token': fencingToken }) });
        if (outcome === 'error' || outcome === 'timeout') {
          if (error instanceof Error) span.recordException(error);
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : outcome });
        }
        span.end();
      },
      run: (fn) => api.context.with(api.trace.setSpan(parent, span), fn),
      held: (leaseId, fencingToken) => {
        const attributes = named();
        const hold = this.tracer.startSpan('s3lock.hold', { kind: api.SpanKind.INTERNAL, attributes }, parent);
        if (hold.isRecording()) hold.setAttribute('s3lock.fencing_token', fencingToken);
        this.holds.set(leaseId, { span: hold, startedAt: performance.now(), attributes });
        this.leasesHeld.add(1, attributes);
      },
    };
  }

  /** `telemetry.lockName`, guarded: a mapping that throws (or returns a non-string) gives no name attribute, never a failed acquire. */
  private mapName(name: string, template: string | undefined): string | undefined {
    try {
      const mapped = this.lockName(name, template);
      return typeof mapped === 'string' ? mapped : undefined;
    } catch {
      return undefined;
    }
  }

  storeRequest(operation: string, status: number | 'error'): void {
    this.storeRequests.add(1, this.set(`r:${operation}|${status}`, () => ({ ...this.base(), 's3lock.store.operation': operation, 's3lock.store.status': String(status) })));
  }

  leaseEnded(leaseId: string): void {
    this.endHold(leaseId, undefined);
  }

  private endHold(leaseId: string, lost: { reason: string; error: Error } | undefined): void {
    const hold = this.holds.get(leaseId);
    if (!hold) return;
    this.holds.delete(leaseId);
    const attributes = hold.attributes;
    this.holdDuration.record((performance.now() - hold.startedAt) / 1000, attributes);
    this.leasesHeld.add(-1, hold.attributes);
    if (lost) {
      this.leasesLost.add(1, { ...attributes, 's3lock.lost.reason': lost.reason }); // rare: not cached
      hold.span.addEvent('s3lock.lost', { 's3lock.lost.reason': lost.reason, 'exception.message': lost.error.message });
      hold.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: lost.error.message });
    }
    hold.span.end();
  }

  /** The attribute set `key`, made once (the map is bounded: cleared past 4,096 sets, as a mapping that is not bounded would grow it). */
  private set(key: string, make: () => Otel.Attributes): Otel.Attributes {
    let attributes = this.attributeSets.get(key);
    if (!attributes) {
      if (this.attributeSets.size >= 4096) this.attributeSets.clear();
      attributes = Object.freeze(make());
      this.attributeSets.set(key, attributes);
    }
    return attributes;
  }

  private base(): Otel.Attributes {
    return { 's3lock.protocol': this.protocol, 's3lock.bucket': this.bucket };
  }
}
