/**
 * What an application's clients get when the lock cannot be used, through a real Nest app over
 * HTTP, against every store (memory, rgw, moto): a store failure answers 503 with a generic body
 * and `Retry-After` (never the store's own 403 / 404), a busy lock 423 without holder details, an
 * invalid lock name from the request 400 naming the rule; the details go to the log, with the S3
 * call, bucket, prefix, endpoint, the store's error code and advice; a wrong store stops the
 * start-up (`probeOnStartup`, on by default).
 */
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { S3LockBucketMissingError, S3LockService, S3LockStoreError, WithS3Lock, type S3LockModuleOptions } from '../../src';
import { CapturingLogger } from './support/capturing-logger';
import { storeTarget, uniqueBucketName, type StoreTarget } from '../support/store-target';
import { getJson, sleep, startLockApp, TEST_TTL_MS, type LockApp } from './support/nest-app';

@Controller()
class Routes {
  constructor(private readonly locks: S3LockService) {}

  @Get('decorated')
  @WithS3Lock('route:decorated')
  async decorated(): Promise<{ ok: true }> {
    return { ok: true };
  }

  /** Not decorated: the module's interceptor answers for `using()`. */
  @Get('using')
  async using(): Promise<{ ok: true }> {
    return this.locks.using('route:using', () => ({ ok: true as const }), { waitMs: 0 });
  }

  @Get('hold')
  @WithS3Lock('route:busy')
  async hold(): Promise<{ ok: true }> {
    await sleep(1_500);
    return { ok: true };
  }

  @Get('busy-using')
  async busyUsing(): Promise<number> {
    return this.locks.using('route:busy', () => 1, { waitMs: 200 });
  }

  @Get('reports/:id')
  @WithS3Lock((id: string) => `report:${id}`)
  async report(@Param('id') id: string): Promise<{ id: string }> {
    return { id };
  }

  @Get('by-query')
  @WithS3Lock((name: string) => name)
  async byQuery(@Query('name') name: string): Promise<{ name: string }> {
    return { name };
  }
}

let target: StoreTarget;
const apps: LockApp[] = [];
beforeAll(async () => {
  target = await storeTarget();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});
afterAll(() => target?.close());

async function appOn(lock: Partial<S3LockModuleOptions> & Pick<S3LockModuleOptions, 'bucket'>, logger = new CapturingLogger()): Promise<{ app: LockApp; logger: CapturingLogger }> {
  const app = await startLockApp({
    lock: { client: target.createClient(), ttlMs: TEST_TTL_MS, probeOnStartup: false, warnWithoutShutdownHooks: false, ...lock, logger },
    controllers: [Routes],
    listen: true,
  });
  apps.push(app);
  return { app, logger };
}

/** The client's answer must not mention the store at all. */
function expectGeneric503(answer: { status: number; body: unknown; headers: Headers }, bucket: string): void {
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).toBe('5');
  expect(answer.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String), retryAfterSeconds: 5 });
  const text = JSON.stringify(answer.body);
  for (const leak of [bucket, 'NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ECONNREFUSED', 'S3']) expect(text).not.toContain(leak);
}

describe('client answers when the store fails', () => {
  it('a missing bucket: 503 with a generic body and Retry-After on decorated and plain routes; the warn log names the bucket, the S3 call and what to do', async () => {
    const bucket = uniqueBucketName(target.name);
    const { app, logger } = await appOn({ bucket });
    for (const route of ['decorated', 'using']) {
      const answer = await getJson(`${app.url}/${route}`);
      expectGeneric503(answer, bucket);
    }
    const details = logger.at('warn').filter((m) => m.includes('answered 503'));
    expect(details).toHaveLength(2);
    // a decorated handler names its method, the module's interceptor the request
    expect(details[0]).toContain('Routes.decorated answered 503');
    expect(details[1]).toContain('GET /using');
    for (const line of details) {
      expect(line).toContain(`bucket "${bucket}"`);
      expect(line).toContain('prefix "locks/"');
      expect(line).toContain(`endpoint ${new URL(target.endpoint).origin}`);
      expect(line).toContain('NoSuchBucket');
      expect(line).toContain('does not exist');
    }
  });

  it('a missing bucket with probeOnStartup (the default): the start-up fails with S3LockBucketMissingError naming bucket, endpoint and advice', async () => {
    const bucket = uniqueBucketName(target.name);
    const logger = new CapturingLogger();
    const started = appOn({ bucket, probeOnStartup: undefined }, logger);
    const error = await started.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(S3LockBucketMissingError);
    const message = (error as Error).message;
    expect(message).toContain(`bucket "${bucket}"`);
    expect(message).toContain(new URL(target.endpoint).origin);
    expect(message).toContain('does not exist');
    expect(message).not.toContain('clean-up');
    expect(logger.at('error')).toEqual([expect.stringContaining('The lock store check at start-up failed')]);
  });

  it('a good store with probeOnStartup (the default): one start-up line with bucket, prefix, protocol and probe result', async () => {
    const bucket = await target.createBucket();
    const { logger } = await appOn({ bucket, probeOnStartup: undefined });
    expect(logger.at('log', 'warn', 'error')).toEqual([`Lock store ready: bucket "${bucket}", prefix "locks/", protocol create-only (probe passed at start-up)`]);
  });

  it('wrong credentials: 503; the log says the store refused the credentials (moto authenticates nobody: it answers 200)', async () => {
    const bucket = await target.createBucket();
    const forbidden = target.memory?.faults.inject({ match: { bucket }, times: Infinity, fault: { kind: 'error', status: 403, code: 'SignatureDoesNotMatch' } });
    try {
      const client = target.createClient({ credentials: { accessKeyId: target.credentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
      const { app, logger } = await appOn({ bucket, client });
      const answer = await getJson(`${app.url}/decorated`);
      if (target.name === 'moto') {
        expect(answer.status).toBe(200);
        return;
      }
      expectGeneric503(answer, bucket);
      const [line] = logger.at('warn').filter((m) => m.includes('answered 503'));
      // the manager's first request is a GET, whose error answer carries the code
      expect(line).toMatch(/HTTP 403 (SignatureDoesNotMatch|InvalidAccessKeyId)/);
      expect(line).toContain('refused the credentials');
    } finally {
      forbidden?.cancel();
    }
  });

  it('a denied action (a bucket policy denies s3:PutObject under the prefix; RGW and moto enforce it): 503; the log names s3:PutObject and the permissions the lock needs', async () => {
    const bucket = await target.createBucket();
    const denied = target.memory?.faults.inject({ match: { bucket, operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    try {
      if (!target.memory) {
        const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${bucket}/locks/*`] }] };
        await target.createClient().send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
      }
      const { app, logger } = await appOn({ bucket });
      const answer = await getJson(`${app.url}/decorated`);
      expectGeneric503(answer, bucket);
      const [line] = logger.at('warn').filter((m) => m.includes('answered 503'));
      expect(line).toContain('(PutObject, bucket');
      // RGW names the code; moto answers this 403 without one
      expect(line).toMatch(target.name === 'moto' ? /HTTP 403: / : /HTTP 403 AccessDenied: /);
      expect(line).toMatch(target.name === 'moto' ? /the credentials are wrong, or s3:PutObject is denied/ : /not allowed s3:PutObject/);
      expect(line).toContain('s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket');
    } finally {
      denied?.cancel();
    }
  });
});

describe('client answers when the endpoint fails', () => {
  let hanging: Server;
  let hangingUrl: string;
  const sockets = new Set<Socket>();
  let requests = 0;
  beforeAll(async () => {
    // accepts connections and reads requests, never answers
    hanging = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        if (/^(GET|PUT|HEAD|POST|DELETE) /.test(chunk.toString('latin1'))) requests++;
      });
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hanging.close(resolve));
  });

  it('an unreachable endpoint (connection refused): 503; the log names the endpoint and says it could not be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { app, logger } = await appOn({ bucket: 'locks', client: target.createClient({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 }) });
    const answer = await getJson(`${app.url}/decorated`);
    expectGeneric503(answer, 'locks');
    const [line] = logger.at('warn').filter((m) => m.includes('answered 503'));
    expect(line).toContain('ECONNREFUSED');
    expect(line).toContain(`http://127.0.0.1:${port} could not be reached`);
  });

  it('a hanging endpoint: the route answers 503 after one request timeout, not two, and the store saw one request', async () => {
    const requestTimeoutMs = 2_000;
    const { app, logger } = await appOn({ bucket: 'locks', requestTimeoutMs, client: target.createClient({ endpoint: hangingUrl }) });
    requests = 0;
    const started = Date.now();
    const answer = await getJson(`${app.url}/decorated`);
    const took = Date.now() - started;
    expectGeneric503(answer, 'locks');
    expect(requests).toBe(1);
    expect(took).toBeGreaterThanOrEqual(requestTimeoutMs - 50);
    // two timeouts in series would take 4 s
    expect(took).toBeLessThan(2 * requestTimeoutMs - 200);
    const [line] = logger.at('warn').filter((m) => m.includes('answered 503'));
    expect(line).toContain('did not answer within the request timeout');
  });

  it('a hanging endpoint with probeOnStartup: the start-up fails after one request timeout with the typed error', async () => {
    const requestTimeoutMs = 2_000;
    requests = 0;
    const started = Date.now();
    const error = await appOn({ bucket: 'locks', requestTimeoutMs, probeOnStartup: true, client: target.createClient({ endpoint: hangingUrl }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(S3LockStoreError);
    expect((error as S3LockStoreError).storeErrorCode).toBe('TimeoutError');
    expect(requests).toBe(1);
    expect(took).toBeLessThan(2 * requestTimeoutMs - 200);
  });
});

describe('client answers for a busy lock and a bad name', () => {
  it('busy: 423 without holder details and with Retry-After 1 by default, for the decorator and for using(); the holder shows only with exposeHolder', async () => {
    const bucket = await target.createBucket();
    const { app } = await appOn({ bucket });
    const { app: exposing } = await appOn({ bucket, http: { exposeHolder: true } });
    const holding = getJson(`${app.url}/hold`);
    await sleep(500);
    const viaDecorator = await getJson(`${app.url}/hold`);
    expect(viaDecorator.status).toBe(423);
    expect(viaDecorator.headers.get('retry-after')).toBe('1');
    expect(viaDecorator.body).toEqual({ statusCode: 423, error: 'Locked', message: 'Lock "route:busy" is held by another holder', lockName: 'route:busy', retryAfterSeconds: 1 });
    const viaUsing = await getJson(`${app.url}/busy-using`);
    expect(viaUsing.status).toBe(423);
    expect(viaUsing.headers.get('retry-after')).toBe('1');
    expect(viaUsing.body).toMatchObject({ statusCode: 423, error: 'Locked', lockName: 'route:busy', retryAfterSeconds: 1 });
    expect(viaUsing.body).not.toHaveProperty('holder');
    const exposed = await getJson(`${exposing.url}/hold`);
    expect(exposed.status).toBe(423);
    expect(exposed.body).toMatchObject({ holder: { host: expect.any(String), pid: process.pid, managerId: expect.stringMatching(/^[0-9a-f-]{36}$/), fencingToken: expect.any(Number) } });
    expect((await holding).status).toBe(200);
  });

  it('Retry-After of a 423 is the configured value, but never later than the holder could expire', async () => {
    const bucket = await target.createBucket();
    const { app } = await appOn({ bucket, http: { retryAfterSeconds: 30 } });
    const holding = getJson(`${app.url}/hold`);
    await sleep(500);
    const answer = await getJson(`${app.url}/hold`);
    expect(answer.status).toBe(423);
    const seconds = Number(answer.headers.get('retry-after'));
    // the holder's lease (TTL 3 s) could expire within about 4 s (TTL plus slack), far before 30 s
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(Math.ceil(TEST_TTL_MS / 1000) + 2);
    await holding;
  });

  it('a lock name built from the request that breaks a rule answers 400 naming the rule (too long, empty)', async () => {
    const bucket = await target.createBucket();
    const { app } = await appOn({ bucket });
    const long = await getJson(`${app.url}/reports/${'x'.repeat(2_000)}`);
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining('at most 256 characters'), rule: 'a lock name must be at most 256 characters, got 2007' });
    const empty = await getJson(`${app.url}/by-query?name=`);
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ rule: 'a lock name must not be empty' });
    expect((await getJson(`${app.url}/reports/7`)).body).toEqual({ id: '7' });
  });
});
