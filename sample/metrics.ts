/**
 * `GET /metrics`: the lock's OpenTelemetry metrics in the Prometheus text format, through
 * `@opentelemetry/exporter-prometheus` (no server of its own: the Nest app serves it). The same
 * MeterProvider goes to S3LockModule's `telemetry` option (app.module.ts).
 */
import { Controller, Get, Req, Res } from '@nestjs/common';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The exporter (a metric reader) and the provider the lock module records into. */
export const prometheus = new PrometheusExporter({ preventServerStart: true });
export const meterProvider = new MeterProvider({ readers: [prometheus] });

@Controller('metrics')
export class MetricsController {
  @Get()
  metrics(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    prometheus.getMetricsRequestHandler(request, response);
  }
}
