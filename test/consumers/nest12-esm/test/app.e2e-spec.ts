import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { S3LockModule, S3LockService } from 'nestjs-s3-lock';
import { InMemoryS3, S3LockTestingModule } from 'nestjs-s3-lock/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module.js';

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

  it('one report run per id at a time: of two requests at once, one gets 201 and one 423', async () => {
    const [a, b] = await Promise.all([
      request(app.getHttpServer()).post('/reports/42'),
      request(app.getHttpServer()).post('/reports/42'),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 423]);
    expect(store.requests.some((r) => r.operation === 'PutObject')).toBe(true);
  });

  it('S3LockService locks in the same store', async () => {
    const locks = app.get(S3LockService);
    const token = await locks.using('order:7', ({ fencingToken }) => fencingToken);
    expect(token).toBeGreaterThan(0);
    expect(store.requests.every((r) => r.bucket === 's3-lock-test')).toBe(true);
  });
});
