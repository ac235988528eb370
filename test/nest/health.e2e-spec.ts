/**
 * S3LockHealthIndicator served by @nestjs/terminus: `up` with the protocol in use when the bucket
 * is reachable and the probe passed, `down` (terminus answers 503) when the bucket is missing.
 * Runs against every store.
 */
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { S3LockHealthIndicator, S3LockService } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { getJson, startLockApp, TEST_TTL_MS, type LockApp } from './support/nest-app';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly locks: S3LockHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    // the indicator's result is a terminus HealthIndicatorResult (checked by the compiler here)
    return this.health.check([(): Promise<HealthIndicatorResult> => this.locks.isHealthy('locks')]);
  }
}

describe('S3LockHealthIndicator with @nestjs/terminus', () => {
  let target: StoreTarget;
  let bucket: string;
  const apps: LockApp[] = [];

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
  });

  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    await target?.close();
  });

  async function start(lockBucket: string): Promise<LockApp> {
    const app = await startLockApp({
      // probeOnStartup off: the missing-bucket case must start to be asked about its health
      lock: { client: target.createClient(), bucket: lockBucket, ttlMs: TEST_TTL_MS, probeOnStartup: false },
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      listen: true,
    });
    apps.push(app);
    return app;
  }

  it('up: the bucket answers and the probe passed; reports the protocol and held locks', async () => {
    const app = await start(bucket);
    const held = await app.get(S3LockService).using('health:held', async () => getJson(`${app.url}/health`));
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({
      status: 'ok',
      info: { locks: { status: 'up', bucket, prefix: 'locks/', protocol: 'create-only', heldLocks: 1, latencyMs: expect.any(Number) } },
    });
  });

  it('down: a missing bucket gives 503 with the reason', async () => {
    const app = await start(`${bucket}-missing`);
    const result = await getJson(`${app.url}/health`);
    expect(result.status).toBe(503);
    expect(result.body).toMatchObject({ status: 'error', error: { locks: { status: 'down', bucket: `${bucket}-missing`, error: expect.any(String) } } });
  });
});
