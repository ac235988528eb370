import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InMemoryS3 } from '../testing/in-memory-s3';
import { S3LockTestingModule } from '../testing/s3-lock-testing.module';
import { S3LockHealthIndicator } from './s3-lock.health';
import { S3LockService } from './s3-lock.service';

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

  it('lists the elections with leadership, in both up and down; elections of the bare engine are not listed', async () => {
    const service = app.get(S3LockService);
    const leading = service.elect('health:leader', { onElected: () => undefined });
    const waiting = new Promise<void>((resolve) => {
      const poll = (): void => void (leading.isLeader ? resolve() : setTimeout(poll, 20));
      poll();
    });
    await waiting;
    // a second campaign of the same name in this application waits behind the first
    const follower = service.elect('health:leader', { onElected: () => undefined });
    const bare = service.manager.elect('health:bare', { onElected: () => undefined });
    const up = (await indicator.isHealthy())['s3-lock'];
    expect(up.status).toBe('up');
    expect(up.elections).toEqual([
      { name: 'health:leader', leader: true, fencingToken: leading.fencingToken },
      { name: 'health:leader', leader: false },
    ]);
    store.faults.inject({ match: { operation: 'HeadBucket' }, times: 1, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    const down = (await indicator.isHealthy())['s3-lock'];
    expect(down).toMatchObject({ status: 'down', elections: [{ name: 'health:leader', leader: true }, { name: 'health:leader', leader: false }] });
    await follower.stop();
    expect((await indicator.isHealthy())['s3-lock'].elections).toEqual([{ name: 'health:leader', leader: true, fencingToken: leading.fencingToken }]);
    await bare.stop();
  });
});
