/**
 * What OpenTelemetry costs per warm acquire + release (create-only, in-process in-memory store):
 * the manager with telemetry off (`enabled: false`: the same no-op object as when
 * `@opentelemetry/api` is not installed), with the API and no provider registered (the global
 * no-op providers), and with the SDK (a MeterProvider with a reader; a tracer provider that samples
 * every span and exports it through a BatchSpanProcessor, as production set-ups do, to a
 * discarding exporter; flushed at the end of each of its rounds, inside the measurement, so that
 * no export lands in another variant's round). The three run in turns, several rounds, medians kept.
 */
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { S3LockManager, type S3LockTelemetryOptions } from '../src';
import { LockEvents } from '../src/core/lock-events';
import { lockTelemetry } from '../src/core/lock-telemetry';
import { InMemoryS3, createInMemoryS3Client } from '../src/testing';
import { repeatBounded } from './timing';

export interface TelemetryCpuResult {
  /** CPU per cycle, microseconds (median of the rounds). */
  readonly offUs: number;
  readonly noopApiUs: number;
  readonly sdkUs: number;
  readonly cyclesPerRound: number;
  readonly rounds: number;
  /**
   * CPU of the telemetry calls one cycle makes (an acquire trace with its hold, three store
   * requests, the release), measured alone in a loop: microseconds, with the no-op API and the SDK.
   * The differences between the cycle rows are within their noise; this is the added work itself.
   */
  readonly callsNoopUs: number;
  readonly callsSdkUs: number;
}

/** CPU per cycle's worth of telemetry calls on `telemetry`, microseconds. */
async function callsCost(options: S3LockTelemetryOptions, flush: () => Promise<void>, n: number): Promise<number> {
  const events = new LockEvents(undefined);
  const telemetry = lockTelemetry(options, 'bench-otel-calls', events);
  events.emit('ready', { bucket: 'bench-otel-calls', prefix: 'locks/', protocol: 'create-only' });
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const trace = telemetry.acquire('cpu', 'cpu');
    trace.attempts.count++;
    trace.held(`lease-${i}`, i + 1);
    trace.end('acquired', i + 1);
    telemetry.storeRequest('PutObject', 200);
    telemetry.storeRequest('GetObject', 200);
    telemetry.storeRequest('PutObject', 200);
    events.emit('released', { name: 'cpu', ownerId: 'o', leaseId: `lease-${i}`, fencingToken: i + 1, heldMs: 0 });
  }
  await flush();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };

export async function measureTelemetryCpu(options: { cycles: number; budgetMs: number; rounds?: number }): Promise<TelemetryCpuResult> {
  const reader = new Reader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard, { scheduledDelayMillis: 3_600_000, maxQueueSize: 65_536, maxExportBatchSize: 512 })] });
  const variants: Array<[keyof Omit<TelemetryCpuResult, 'cyclesPerRound' | 'rounds'>, S3LockTelemetryOptions]> = [
    ['offUs', { enabled: false }],
    ['noopApiUs', {}],
    ['sdkUs', { meterProvider, tracerProvider }],
  ];
  const store = new InMemoryS3({ requestLogLimit: 1 });
  const samples = new Map<string, number[]>();
  const managers: S3LockManager[] = [];
  const cycles = new Map<string, () => Promise<void>>();
  for (const [key, telemetry] of variants) {
    const bucket = `bench-otel-${key.toLowerCase().replace(/us$/, '')}`;
    store.createBucket(bucket);
    const manager = new S3LockManager({ client: createInMemoryS3Client(store), bucket, protocol: 'create-only', telemetry });
    managers.push(manager);
    await manager.probe();
    const lock = manager.lock('cpu', { telemetryName: 'cpu' });
    const cycle = async (): Promise<void> => {
      await lock.acquire();
      await lock.release();
    };
    for (let i = 0; i < 50; i++) await cycle();
    cycles.set(key, cycle);
  }
  const rounds = options.rounds ?? 8;
  let perRound = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [key] of variants) {
        const before = process.cpuUsage();
        const calls = await repeatBounded(options.cycles, options.budgetMs / rounds, cycles.get(key)!);
        // the SDK's export work is counted in its own rounds (no export timer runs during the others)
        if (key === 'sdkUs') await tracerProvider.forceFlush();
        const used = process.cpuUsage(before);
        perRound = calls;
        const list = samples.get(key) ?? [];
        list.push((used.user + used.system) / calls);
        samples.set(key, list);
      }
    }
  } finally {
    await Promise.all(managers.map((m) => m.close()));
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  }
  const median = (key: string): number => {
    const s = [...samples.get(key)!].sort((a, b) => a - b);
    return s[s.length >> 1]!;
  };
  const callsMeter = new MeterProvider({ readers: [new Reader()] });
  const callsTracer = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard, { scheduledDelayMillis: 3_600_000, maxQueueSize: 65_536, maxExportBatchSize: 512 })] });
  const n = 20_000;
  await callsCost({}, async () => undefined, 2_000); // warm-up
  const callsNoopUs = await callsCost({}, async () => undefined, n);
  await callsCost({ meterProvider: callsMeter, tracerProvider: callsTracer }, () => callsTracer.forceFlush(), 2_000);
  const callsSdkUs = await callsCost({ meterProvider: callsMeter, tracerProvider: callsTracer }, () => callsTracer.forceFlush(), n);
  await callsMeter.shutdown();
  await callsTracer.shutdown();
  return { offUs: median('offUs'), noopApiUs: median('noopApiUs'), sdkUs: median('sdkUs'), cyclesPerRound: perRound, rounds, callsNoopUs, callsSdkUs };
}
