/**
 * OpenTelemetry through the Nest module: the module's `telemetry` option, and a decorated route
 * whose lock name is a function of the request: its attribute is the template, never the id.
 */
import { Controller, Get, Param } from '@nestjs/common';
import { WithS3Lock } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { TelemetryCapture } from '../support/telemetry-capture';
import { getJson, startLockApp, TEST_TTL_MS, type LockApp } from './support/nest-app';

@Controller()
class Reports {
  @Get('reports/:id')
  @WithS3Lock((id: string) => `report:${id}`, { telemetryName: 'report:{id}' })
  async report(@Param('id') id: string): Promise<{ id: string }> {
    return { id };
  }

  @Get('exports/:id')
  @WithS3Lock((id: string) => `export:${id}`)
  async export(@Param('id') id: string): Promise<{ id: string }> {
    return { id };
  }
}

describe('OpenTelemetry in the Nest module', () => {
  let target: StoreTarget;
  let otel: TelemetryCapture;
  let app: LockApp;

  beforeAll(async () => {
    target = await storeTarget();
    otel = new TelemetryCapture();
    const bucket = await target.createBucket();
    app = await startLockApp({
      lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS, telemetry: { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider } },
      controllers: [Reports],
      listen: true,
    });
  });
  afterAll(async () => {
    await app?.close();
    await otel?.close();
    await target?.close();
  });

  it('a decorated route with a name function: the name attribute is its template (telemetryName, else Class.method), never the id', async () => {
    for (const id of ['1', '2', '3']) expect((await getJson(`${app.url}/reports/${id}`)).status).toBe(200);
    expect((await getJson(`${app.url}/exports/9`)).status).toBe(200);
    expect(await otel.total('s3lock.acquire.duration', { 's3lock.name': 'report:{id}', 's3lock.outcome': 'acquired' })).toBe(3);
    expect(await otel.total('s3lock.hold.duration', { 's3lock.name': 'Reports.export' })).toBe(1);
    const names = new Set((await otel.points('s3lock.acquire.duration')).map((p) => p.attributes['s3lock.name']));
    expect([...names].sort()).toEqual(['Reports.export', 'report:{id}']);
    expect(otel.finished('s3lock.hold').map((s) => s.attributes['s3lock.name'])).not.toContain('report:1');
  });
});
