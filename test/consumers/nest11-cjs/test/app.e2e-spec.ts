import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { S3LockModule, S3LockService } from 'nestjs-s3-lock';
import { InMemoryS3, S3LockTestingModule } from 'nestjs-s3-lock/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module';

describe('AppModule on an in-memory S3 store', () => {
  let app: INestApplication;
  let store: InMemoryS3;

  beforeEach(async () => {
    process.env.S3_LOCK_BUCKET ??= 'not-used-in-tests'; // the real module's factory never runs
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideModule(S3LockModule)
      .useModule(S3LockTestingModule.forRoot({ ttlMs: 3_000 }))
      .compile();
    app = moduleRef.createNestApplication();
    await app.init();
    store = moduleRef.get(InMemoryS3); // inject faults, move the store's clock, read its request log
  });

  afterEach(async () => {
    await app.close();
  });

  it('one report run per id at a time: 201, then 423 while it runs', async () => {
    const first = request(app.getHttpServer()).post('/reports/42').then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await request(app.getHttpServer()).post('/reports/42');
    expect(second.status).toBe(423);
    expect((await first).status).toBe(201);
    expect(store.requests.some((r) => r.operation === 'PutObject')).toBe(true);
  });

  it('S3LockService locks in the same store', async () => {
    const locks = app.get(S3LockService);
    const token = await locks.using('order:7', ({ fencingToken }) => fencingToken);
    expect(token).toBeGreaterThan(0);
    expect(store.requests.every((r) => r.bucket === 's3-lock-test')).toBe(true);
  });
});
