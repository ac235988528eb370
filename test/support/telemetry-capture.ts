import { context, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A metric reader that only collects on demand (the SDK's reader, no exporter). */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** One data point: its attributes and value (a sum, or a histogram's count and sum). */
export interface Point {
  readonly attributes: Attributes;
  readonly value: number;
  readonly count?: number;
}

/**
 * The real OpenTelemetry SDK, in memory: a MeterProvider with a collecting reader, a tracer
 * provider with an in-memory span exporter, and AsyncLocalStorage context (as the Node SDK sets).
 */
export class TelemetryCapture {
  private readonly reader = new CollectingReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly spans = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.spans)] });
  private readonly contextManager = new AsyncLocalStorageContextManager().enable();

  constructor() {
    context.setGlobalContextManager(this.contextManager);
  }

  /** The points of `metric` now, optionally only those whose attributes include `where`. */
  async points(metric: string, where: Attributes = {}): Promise<Point[]> {
    const { resourceMetrics } = await this.reader.collect();
    const out: Point[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const m of scope.metrics) {
        if (m.descriptor.name !== metric) continue;
        for (const p of m.dataPoints) {
          if (!Object.entries(where).every(([k, v]) => p.attributes[k] === v)) continue;
          if (m.dataPointType === DataPointType.HISTOGRAM) {
            const h = p.value as { count: number; sum?: number };
            out.push({ attributes: p.attributes, value: h.sum ?? 0, count: h.count });
          } else out.push({ attributes: p.attributes, value: p.value as number });
        }
      }
    }
    return out;
  }

  /** The sum of a counter's points (a histogram's counts) matching `where`. */
  async total(metric: string, where: Attributes = {}): Promise<number> {
    return (await this.points(metric, where)).reduce((n, p) => n + (p.count ?? p.value), 0);
  }

  finished(name?: string): ReadableSpan[] {
    return this.spans.getFinishedSpans().filter((s) => name === undefined || s.name === name);
  }

  /** Runs `fn` under an active span named `name` (as an HTTP server's instrumentation would). */
  underSpan<T>(name: string, fn: () => Promise<T>): Promise<{ result: T; spanId: string; traceId: string }> {
    const tracer = this.tracerProvider.getTracer('test');
    return tracer.startActiveSpan(name, async (span) => {
      try {
        const result = await fn();
        return { result, spanId: span.spanContext().spanId, traceId: span.spanContext().traceId };
      } finally {
        span.end();
      }
    });
  }

  async close(): Promise<void> {
    this.contextManager.disable();
    context.disable();
    trace.disable();
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
  }
}
