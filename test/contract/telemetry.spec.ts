/**
 * OpenTelemetry metrics and traces, checked with the real SDK (in memory) after each kind of lock
 * operation, on every store target.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { S3LockManager, S3LockLostError, type S3LockManagerOptions } from '../../src';
import { ClientFaults } from '../support/client-faults';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { TelemetryCapture } from '../support/telemetry-capture';

const TTL = 3_000;

describe('OpenTelemetry', () => {
  let target: StoreTarget;
  let bucket: string;
  let otel: TelemetryCapture;
  const managers: S3LockManager[] = [];
  const manager = (extra: Partial<S3LockManagerOptions> = {}): S3LockManager => {
    const m = new S3LockManager({
      client: target.createClient(),
      bucket,
      ttlMs: TTL,
      telemetry: { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider },
      ...extra,
    });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
    otel = new TelemetryCapture();
  });
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
    await otel?.close();
    await target?.close();
  });

  it('an acquire and release: acquire and hold durations, held leases back to 0, every S3 request counted, and the spans', async () => {
    const m = manager();
    await m.probe();
    const lock = m.lock('report:42', { telemetryName: 'report:{id}' });
    await lock.acquire();
    const base = { 's3lock.protocol': 'create-only', 's3lock.bucket': bucket, 's3lock.name': 'report:{id}' };
    expect(await otel.total('s3lock.leases.held', base)).toBe(1);
    await lock.release();
    expect(await otel.total('s3lock.acquire.duration', { ...base, 's3lock.outcome': 'acquired' })).toBe(1);
    expect(await otel.total('s3lock.hold.duration', base)).toBe(1);
    expect(await otel.total('s3lock.leases.held', base)).toBe(0);
    const puts = await otel.points('s3lock.store.requests', { 's3lock.store.operation': 'PutObject', 's3lock.bucket': bucket });
    expect(puts.filter((p) => p.attributes['s3lock.store.status'] === '200').reduce((n, p) => n + p.value, 0)).toBeGreaterThanOrEqual(2);
    const acquire = otel.finished('s3lock.acquire').find((s) => s.attributes['s3lock.name'] === 'report:{id}')!;
    expect(acquire.attributes).toMatchObject({ 's3lock.outcome': 'acquired', 's3lock.fencing_token': expect.any(Number), 's3lock.attempts': 1 });
    expect(otel.finished('s3lock.hold').filter((s) => s.attributes['s3lock.name'] === 'report:{id}')).toHaveLength(1);
  });

  it('names given to the engine directly carry no name attribute unless telemetry.lockName maps them', async () => {
    await manager().using('order:1234', () => undefined);
    const unnamed = otel.finished('s3lock.acquire').filter((s) => s.attributes['s3lock.name'] === undefined);
    expect(unnamed.length).toBeGreaterThan(0);
    expect((await otel.points('s3lock.acquire.duration')).some((p) => String(p.attributes['s3lock.name'] ?? '').includes('1234'))).toBe(false);
    const mapped = manager({ telemetry: { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider, lockName: (name) => name.split(':')[0] } });
    await mapped.using('order:5678', () => undefined);
    expect(await otel.total('s3lock.acquire.duration', { 's3lock.name': 'order', 's3lock.outcome': 'acquired' })).toBe(1);
  });

  it('a refused tryAcquire and a wait that times out', async () => {
    const holder = manager().lock('busy', { telemetryName: 'busy' });
    await holder.acquire();
    const other = manager();
    expect(await other.lock('busy', { telemetryName: 'busy' }).tryAcquire()).toBe(false);
    await expect(other.lock('busy', { telemetryName: 'busy' }).acquire({ waitMs: 300 })).rejects.toThrow();
    expect(await otel.total('s3lock.acquire.duration', { 's3lock.name': 'busy', 's3lock.outcome': 'not_acquired' })).toBe(1);
    expect(await otel.total('s3lock.acquire.duration', { 's3lock.name': 'busy', 's3lock.outcome': 'timeout' })).toBe(1);
    const timedOut = otel.finished('s3lock.acquire').find((s) => s.attributes['s3lock.name'] === 'busy' && s.attributes['s3lock.outcome'] === 'timeout')!;
    expect(timedOut.status.code).toBe(SpanStatusCode.ERROR);
    expect(Number(timedOut.attributes['s3lock.attempts'])).toBeGreaterThanOrEqual(1);
    await holder.release();
  });

  it('a renewal, then a lease lost to a store outage (its renewal held back past the TTL)', async () => {
    const client = target.createClient();
    const faults = new ClientFaults(client);
    const m = manager({ client });
    const lock = m.lock('outage', { telemetryName: 'outage' });
    await lock.acquire();
    await new Promise((r) => setTimeout(r, TTL / 3 + 600));
    expect(await otel.total('s3lock.renewals', { 's3lock.outcome': 'renewed', 's3lock.bucket': bucket })).toBeGreaterThanOrEqual(1);
    // every request of this client from now on waits 5 s: the next renewal cannot land in time
    faults.next('PutObject', { kind: 'delay-before', ms: 5_000 }, Infinity);
    faults.next('GetObject', { kind: 'delay-before', ms: 5_000 }, Infinity);
    if (!lock.signal.aborted) await new Promise<void>((resolve) => lock.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect((lock.signal.reason as S3LockLostError).reason).toBe('deadline-passed');
    expect(await otel.total('s3lock.leases.lost', { 's3lock.name': 'outage', 's3lock.lost.reason': 'deadline-passed' })).toBe(1);
    expect(await otel.total('s3lock.leases.held', { 's3lock.name': 'outage' })).toBe(0);
    const hold = otel.finished('s3lock.hold').find((s) => s.attributes['s3lock.name'] === 'outage')!;
    expect(hold.status.code).toBe(SpanStatusCode.ERROR);
    expect(hold.events.map((e) => e.name)).toContain('s3lock.lost');
    faults.clear();
  });

  it('the acquire and hold spans are children of the caller\'s active span, and the acquisition\'s S3 requests run under the acquire span', async () => {
    const client = target.createClient();
    const activeAtSend: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const span = trace.getActiveSpan() as unknown as { name?: string } | undefined;
        activeAtSend.push(`${String((context as { commandName?: string }).commandName).replace(/Command$/, '')} ${span?.name ?? '-'}`);
        return next(args);
      },
      { step: 'initialize', name: 'activeSpanAtSend' },
    );
    const m = manager({ client });
    await m.probe();
    activeAtSend.length = 0;
    const { spanId, traceId } = await otel.underSpan('POST /reports/:id', () => m.using('traced', () => undefined, { telemetryName: 'traced' }));
    const spans = otel.finished().filter((s) => s.attributes['s3lock.name'] === 'traced');
    expect(spans.map((s) => s.name).sort()).toEqual(['s3lock.acquire', 's3lock.hold']);
    for (const s of spans) {
      expect(s.spanContext().traceId).toBe(traceId);
      expect(s.parentSpanContext?.spanId).toBe(spanId);
    }
    // the acquisition's PUT (and its generation check) ran with the acquire span active
    expect(activeAtSend).toContain('PutObject s3lock.acquire');
  });
});
