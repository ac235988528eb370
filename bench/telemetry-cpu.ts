/**
 * What OpenTelemetry costs per warm acquire + release (create-only): each variant of
 * telemetry-cpu-child.ts (the API absent, telemetry off, the no-op API, the SDK) runs in a process
 * of its own, one process at a time, the variants in a rotating order, several rounds; the median
 * per variant is kept. On the in-process in-memory store the store's CPU counts too; on a real
 * endpoint only the client's. Then, in this process, the telemetry calls of one cycle alone.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { S3LockTelemetryOptions } from '../src';
import { LockEvents } from '../src/core/lock-events';
import { lockTelemetry } from '../src/core/lock-telemetry';
import type { TelemetryChildConfig, TelemetryChildResult, TelemetryVariant } from './telemetry-cpu-child';

const ROOT = join(__dirname, '..');
export const TELEMETRY_VARIANTS: readonly TelemetryVariant[] = ['absent', 'off', 'noop', 'sdk-off', 'sdk'];

export interface TelemetryCpuStore {
  /** 'memory' (in-process) or the label of a real endpoint. */
  readonly label: string;
  /** Median CPU per cycle per variant, microseconds, and every process's figure (samplesUs[v][r]: round r). */
  readonly medianUs: Readonly<Record<TelemetryVariant, number>>;
  /**
   * Median over the rounds of each variant's CPU per cycle over another's in the same round
   * (rounds run the variants back to back, so the machine's drift between rounds cancels):
   * every variant over `absent`, and `sdk` over `sdk-off` (what the lock's telemetry adds in an
   * application that runs the SDK).
   */
  readonly ratioToAbsent: Readonly<Record<TelemetryVariant, number>>;
  readonly sdkOverSdkOff: number;
  readonly samplesUs: Readonly<Record<TelemetryVariant, readonly number[]>>;
  readonly cyclesPerProcess: number;
  readonly rounds: number;
}

export interface TelemetryCpuResult {
  readonly stores: readonly TelemetryCpuStore[];
  /**
   * CPU of the telemetry calls one cycle makes (an acquire trace with its hold, three store
   * requests, the release), measured alone in a loop: microseconds, with the no-op API and the SDK.
   */
  readonly callsNoopUs: number;
  readonly callsSdkUs: number;
}

export interface TelemetryCpuOptions {
  readonly cycles: number;
  readonly rounds: number;
  /** Real endpoints to measure besides the in-memory store (their bucket must exist). */
  readonly endpoints?: ReadonlyArray<{ readonly label: string; readonly endpoint: NonNullable<TelemetryChildConfig['endpoint']> }>;
}

function runChild(config: TelemetryChildConfig): Promise<TelemetryChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '-r', 'ts-node/register/transpile-only', join(ROOT, 'bench/telemetry-cpu-child.ts'), JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`telemetry CPU child (${config.variant}) exited ${code}: ${err.trim()}`));
      try {
        const result = JSON.parse(out.trim().split('\n').pop()!) as TelemetryChildResult;
        if ((config.variant === 'absent') === result.apiLoaded) throw new Error(`variant ${config.variant} saw apiLoaded=${result.apiLoaded}`);
        resolve(result);
      } catch (error) {
        reject(new Error(`telemetry CPU child (${config.variant}): ${(error as Error).message}; stdout: ${out.slice(0, 500)}`));
      }
    });
  });
}

async function measureStore(label: string, options: TelemetryCpuOptions, endpoint?: TelemetryChildConfig['endpoint']): Promise<TelemetryCpuStore> {
  const samples = Object.fromEntries(TELEMETRY_VARIANTS.map((v) => [v, [] as number[]])) as Record<TelemetryVariant, number[]>;
  const warmup = Math.max(100, Math.round(options.cycles / 4));
  for (let r = 0; r < options.rounds; r++) {
    for (let i = 0; i < TELEMETRY_VARIANTS.length; i++) {
      const variant = TELEMETRY_VARIANTS[(r + i) % TELEMETRY_VARIANTS.length]!;
      const result = await runChild({ variant, cycles: options.cycles, warmup, ...(endpoint ? { endpoint } : {}) });
      samples[variant].push(result.us);
    }
  }
  const median = (list: readonly number[]): number => {
    const s = [...list].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const medianUs = Object.fromEntries(TELEMETRY_VARIANTS.map((v) => [v, median(samples[v])])) as Record<TelemetryVariant, number>;
  const ratio = (a: TelemetryVariant, b: TelemetryVariant): number => median(samples[a].map((us, r) => us / samples[b][r]!));
  const ratioToAbsent = Object.fromEntries(TELEMETRY_VARIANTS.map((v) => [v, ratio(v, 'absent')])) as Record<TelemetryVariant, number>;
  return { label, medianUs, ratioToAbsent, sdkOverSdkOff: ratio('sdk', 'sdk-off'), samplesUs: samples, cyclesPerProcess: options.cycles, rounds: options.rounds };
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

export async function measureTelemetryCpu(options: TelemetryCpuOptions): Promise<TelemetryCpuResult> {
  const stores = [await measureStore('memory', options)];
  for (const e of options.endpoints ?? []) stores.push(await measureStore(e.label, options, e.endpoint));
  const callsMeter = new MeterProvider({ readers: [new Reader()] });
  const callsTracer = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard, { scheduledDelayMillis: 3_600_000, maxQueueSize: 65_536, maxExportBatchSize: 512 })] });
  const n = 20_000;
  await callsCost({}, async () => undefined, 2_000); // warm-up
  const callsNoopUs = await callsCost({}, async () => undefined, n);
  await callsCost({ meterProvider: callsMeter, tracerProvider: callsTracer }, () => callsTracer.forceFlush(), 2_000);
  const callsSdkUs = await callsCost({ meterProvider: callsMeter, tracerProvider: callsTracer }, () => callsTracer.forceFlush(), n);
  await callsMeter.shutdown();
  await callsTracer.shutdown();
  return { stores, callsNoopUs, callsSdkUs };
}
