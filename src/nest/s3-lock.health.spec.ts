import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InMemoryS3 } from '../testing/in-memory-s3';
import { S3LockTestingModule } from '../testing/s3-lock-testing.module';
import { S3LockHealthIndicator } from './s3-lock.health';

describe('S3LockHealthIndicator', () => {
  let app: INestApplication;
  let store: InMemoryS3;
  let indicator: S3LockHealthIndicator;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [S3LockTestingModule.forRoot({ bucket: 'health', probeOnStartup: false })] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    store = app.get(InMemoryS3);
    indicator = app.get(S3LockHealthIndicator);
  });

  afterEach(() => app.close());

  it('up under the default key, with the protocol', async () => {
    await expect(indicator.isHealthy()).resolves.toEqual({
      's3-lock': { status: 'up', bucket: 'health', prefix: 'locks/', protocol: 'create-only', heldLocks: 0, latencyMs: expect.any(Number) },
    });
  });

  it('down with the store status when the bucket check fails; up again afterwards', async () => {
    await indicator.isHealthy();
    store.faults.inject({ match: { operation: 'HeadBucket' }, times: 1, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    const down = await indicator.isHealthy('locks');
    expect(down).toEqual({ locks: { status: 'down', bucket: 'health', prefix: 'locks/', error: expect.stringMatching(/403/) } });
    expect((await indicator.isHealthy('locks')).locks.status).toBe('up');
  });

  it('down after timeoutMs when the store does not answer', async () => {
    await indicator.isHealthy();
    store.faults.inject({ match: { operation: 'HeadBucket' }, times: 1, fault: { kind: 'delay', ms: 600 } });
    const started = Date.now();
    const down = await indicator.isHealthy('locks', { timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(down.locks).toMatchObject({ status: 'down', error: 'timed out after 150 ms' });
    await new Promise((resolve) => setTimeout(resolve, 600)); // let the delayed request finish
  });

  it('down when the store cannot hold locks (the probe refuses it)', async () => {
    store.setBehaviour({ ignoreIfNoneMatch: true });
    const down = await indicator.isHealthy();
    expect(down['s3-lock']).toMatchObject({ status: 'down', error: expect.stringMatching(/S3LockUnsupportedStoreError.*If-None-Match/) });
  });
});
