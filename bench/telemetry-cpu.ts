/**
 * What OpenTelemetry costs per warm acquire + release (create-only, in-process in-memory store):
 * the manager with telemetry off (`enabled: false`: the same no-op object as when
 * `@opentelemetry/api` is not installed), with the API and no provider registered (the global
 * no-op providers), and with the SDK (a MeterProvider with a reader, a tracer provider exporting
 * every span to a discarding exporter). The three run in turns, several rounds, medians kept.
 */
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { S3LockManager, type S3LockTelemetryOptions } from '../src';
import { InMemoryS3, createInMemoryS3Client } from '../src/testing';
import { repeatBounded } from './timing';

export interface TelemetryCpuResult {
  /** CPU per cycle, microseconds (median of the rounds). */
  readonly offUs: number;
  readonly noopApiUs: number;
  readonly sdkUs: number;
  readonly cyclesPerRound: number;
  readonly rounds: number;
}

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };

export async function measureTelemetryCpu(options: { cycles: number; budgetMs: number; rounds?: number }): Promise<TelemetryCpuResult> {
  const reader = new Reader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] });
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
  const rounds = options.rounds ?? 5;
  let perRound = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [key] of variants) {
        const before = process.cpuUsage();
        const calls = await repeatBounded(options.cycles, options.budgetMs / rounds, cycles.get(key)!);
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
  return { offUs: median('offUs'), noopApiUs: median('noopApiUs'), sdkUs: median('sdkUs'), cyclesPerRound: perRound, rounds };
}
