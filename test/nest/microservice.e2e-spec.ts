import { Controller, type INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Transport, type ClientProxy } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { createServer } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { S3LockModule, WithS3Lock, currentS3Lock, getS3LockMetadata } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { TEST_TTL_MS } from './support/nest-app';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

@Controller()
class JobsHandler {
  runs = 0;

  // Decorator below and above @MessagePattern: the pattern stays registered either way.
  @WithS3Lock((job: { id: string }) => `job:${job.id}`)
  @MessagePattern('run-job')
  async runJob(job: { id: string }): Promise<{ id: string; token: number }> {
    this.runs++;
    const token = currentS3Lock()!.fencingToken;
    await sleep(400);
    return { id: job.id, token };
  }

  @MessagePattern('wait-job')
  @WithS3Lock('wait-job', { onLocked: 'wait', waitMs: 5_000 })
  async waitJob(n: number): Promise<number> {
    await sleep(100);
    return n;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

let target: StoreTarget;
let service: INestMicroservice;
let client: ClientProxy;

beforeAll(async () => {
  target = await storeTarget();
  const bucket = await target.createBucket();
  const port = await freePort();
  const moduleRef = await Test.createTestingModule({
    imports: [S3LockModule.forRoot({ client: target.createClient(), bucket, ttlMs: TEST_TTL_MS, logger: false })],
    controllers: [JobsHandler],
  }).compile();
  service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
  await service.listen();
  client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await service?.close();
  await target?.close();
});

describe('@WithS3Lock on microservice handlers (TCP transport)', () => {
  it('keeps the message patterns registered and their metadata', () => {
    expect(getS3LockMetadata(JobsHandler.prototype.runJob)).toBeDefined();
    expect(Reflect.getMetadataKeys(JobsHandler.prototype.runJob).length).toBeGreaterThan(1);
  });

  it("defaults to 'throw': concurrent messages for one key get one result and errors for the rest", async () => {
    const handler = service.get(JobsHandler);
    const before = handler.runs;
    const results = await Promise.allSettled([1, 2, 3].map(() => firstValueFrom(client.send('run-job', { id: 'a' }))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(2);
    // The client gets the 423 body, not Nest's generic "Internal server error".
    expect(failed[0]!.reason).toMatchObject({ statusCode: 423, error: 'Locked', lockName: 'job:a' });
    expect(handler.runs - before).toBe(1);
    expect((ok[0] as PromiseFulfilledResult<{ token: number }>).value.token).toBeGreaterThan(0);
    // Other keys are independent.
    const other = await firstValueFrom(client.send('run-job', { id: 'b' }));
    expect(other).toMatchObject({ id: 'b' });
  });

  it("with onLocked 'wait', concurrent messages all run, one at a time", async () => {
    const started = performance.now();
    const results = await Promise.all([1, 2, 3].map((n) => firstValueFrom(client.send<number>('wait-job', n))));
    expect(results.sort()).toEqual([1, 2, 3]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('a lock name from the message that breaks a rule reaches the client as the 400 body', async () => {
    const failed = await firstValueFrom(client.send('run-job', { id: 'x'.repeat(300) })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toMatchObject({ statusCode: 400, error: 'Bad Request', rule: 'a lock name must be at most 256 characters, got 304' });
  });

  it('a store failure reaches the client as the generic 503 body, never the store\'s status', async () => {
    const port = await freePort();
    const moduleRef = await Test.createTestingModule({
      imports: [S3LockModule.forRoot({ client: target.createClient(), bucket: `${await target.createBucket()}-missing`, ttlMs: TEST_TTL_MS, logger: false, probeOnStartup: false })],
      controllers: [JobsHandler],
    }).compile();
    const broken = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
    await broken.listen();
    const brokenClient = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    try {
      await brokenClient.connect();
      const failed = await firstValueFrom(brokenClient.send('run-job', { id: 'c' })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String), retryAfterSeconds: 5 });
    } finally {
      await brokenClient.close();
      await broken.close();
    }
  });
});
