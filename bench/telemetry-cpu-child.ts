/**
 * One variant of the OpenTelemetry CPU measurement, in a process of its own (started by
 * telemetry-cpu.ts with `--expose-gc`): so that no variant's garbage, JIT state or export timers
 * land in another's numbers.
 *
 * Variants:
 * - `absent`: `@opentelemetry/api` cannot be resolved (as when it is not installed);
 * - `off`: the API is there, the manager has `telemetry: { enabled: false }`;
 * - `noop`: the API with no provider registered (its global no-op providers);
 * - `sdk`: a MeterProvider with a reader, and a tracer provider that samples every span and exports
 *   it through a BatchSpanProcessor with its default settings to a discarding exporter, with the
 *   AsyncLocalStorage context manager registered, as the Node SDK sets up;
 * - `sdk-off`: the same application set-up (the SDK and its context manager), the manager with
 *   `telemetry: { enabled: false }`: what the SDK costs the application whatever the lock does.
 *
 * The store is the in-process in-memory store (its CPU counts, as in the cpu section), or a real
 * endpoint (only this client's CPU counts). After a warm-up and a GC, it measures `cycles` warm
 * acquire + release cycles, the SDK's flush included, and prints one JSON line.
 */
import Module from 'node:module';

export type TelemetryVariant = 'absent' | 'off' | 'noop' | 'sdk-off' | 'sdk';

export interface TelemetryChildConfig {
  readonly variant: TelemetryVariant;
  readonly cycles: number;
  readonly warmup: number;
  /** With `sdk`: give the manager only the SDK's meter provider or only its tracer provider (to tell their costs apart). */
  readonly only?: 'metrics' | 'traces';
  /** With `sdk` / `sdk-off`: run the cycles inside an active context (as an instrumented application's request handlers do). */
  readonly inContext?: boolean;
  /** A real store; without it, the in-process in-memory store. */
  readonly endpoint?: { readonly url: string; readonly accessKeyId: string; readonly secretAccessKey: string; readonly bucket: string };
}

export interface TelemetryChildResult {
  readonly variant: TelemetryVariant;
  /** CPU (user + system) per cycle, microseconds. */
  readonly us: number;
  readonly cycles: number;
  /** Whether the lock library saw `@opentelemetry/api` (false only for `absent`). */
  readonly apiLoaded: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as TelemetryChildConfig;

if (config.variant === 'absent') {
  const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = resolver._resolveFilename;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]): string {
    if (request === '@opentelemetry/api' || request.startsWith('@opentelemetry/')) {
      throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
    }
    return resolve.call(this, request, ...rest);
  };
}

async function main(): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded after the resolver hook above */
  const { S3LockManager } = require('../src') as typeof import('../src');
  const { InMemoryS3, createInMemoryS3Client } = require('../src/testing') as typeof import('../src/testing');
  const { columnClient } = require('./lock-column') as typeof import('./lock-column');
  let telemetry: import('../src').S3LockTelemetryOptions = {};
  const shutdowns: Array<() => Promise<void>> = [];
  let flush = async (): Promise<void> => undefined;
  if (config.variant === 'off') telemetry = { enabled: false };
  if (config.variant === 'sdk' || config.variant === 'sdk-off') {
    const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
    const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
    const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
    /* eslint-enable @typescript-eslint/no-require-imports */
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    class Reader extends MetricReader {
      protected async onForceFlush(): Promise<void> {}
      protected async onShutdown(): Promise<void> {}
    }
    const reader = new Reader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor({ export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined })],
    });
    const providers = config.only === 'metrics' ? { meterProvider, tracerProvider: api.trace.getTracerProvider() } : config.only === 'traces' ? { meterProvider: api.metrics.getMeterProvider(), tracerProvider } : { meterProvider, tracerProvider };
    telemetry = config.variant === 'sdk' ? providers : { enabled: false };
    flush = async () => {
      await tracerProvider.forceFlush();
      await reader.collect();
    };
    shutdowns.push(() => meterProvider.shutdown(), () => tracerProvider.shutdown());
  }
  let client;
  let bucket: string;
  if (config.endpoint) {
    client = columnClient({ endpoint: config.endpoint.url, accessKeyId: config.endpoint.accessKeyId, secretAccessKey: config.endpoint.secretAccessKey });
    bucket = config.endpoint.bucket;
  } else {
    const store = new InMemoryS3({ requestLogLimit: 1 });
    bucket = 'bench-otel';
    store.createBucket(bucket);
    client = createInMemoryS3Client(store);
  }
  const manager = new S3LockManager({ client, bucket, protocol: 'create-only', prefix: `otel-${config.variant}-${process.pid}/`, telemetry });
  await manager.probe();
  const lock = manager.lock('cpu', { telemetryName: 'cpu' });
  const cycle = async (): Promise<void> => {
    await lock.acquire();
    await lock.release();
  };
  let around = <T>(fn: () => Promise<T>): Promise<T> => fn();
  if (config.inContext) {
    const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api'); // eslint-disable-line @typescript-eslint/no-require-imports
    const active = api.trace.setSpanContext(api.context.active(), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    around = (fn) => api.context.with(active, fn);
  }
  await around(async () => {
    for (let i = 0; i < config.warmup; i++) await cycle();
  });
  await flush();
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.cpuUsage();
  await around(async () => {
    for (let i = 0; i < config.cycles; i++) await cycle();
  });
  await flush();
  const used = process.cpuUsage(before);
  await manager.close();
  for (const shutdown of shutdowns) await shutdown();
  let apiLoaded = false;
  try {
    require.resolve('@opentelemetry/api');
    apiLoaded = true;
  } catch {
    apiLoaded = false;
  }
  const result: TelemetryChildResult = { variant: config.variant, us: (used.user + used.system) / config.cycles, cycles: config.cycles, apiLoaded };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
