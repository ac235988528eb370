import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3, InMemoryS3RequestHandler, type S3Fault } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'faults';

describe('InMemoryS3 fault injection (via the request handler)', () => {
  let store: InMemoryS3;
  let s3: S3Client;
  let once: S3Client;

  beforeEach(() => {
    store = new InMemoryS3({ buckets: [Bucket], seed: 42 });
    s3 = createInMemoryS3Client(store);
    once = createInMemoryS3Client(store, { maxAttempts: 1 });
  });

  afterEach(() => {
    s3.destroy();
    once.destroy();
  });

  const create = (client: S3Client, Key: string, Body = 'mine') =>
    client.send(new PutObjectCommand({ Bucket, Key, Body, IfNoneMatch: '*' }));
  const exists = async (Key: string): Promise<boolean> => {
    try {
      await s3.send(new HeadObjectCommand({ Bucket, Key }));
      return true;
    } catch {
      return false;
    }
  };

  it('drop-response: the create is applied, the SDK retries and gets 412 although it won', async () => {
    store.faults.inject({ match: { operation: 'PutObject', conditional: true }, fault: { kind: 'drop-response' } });
    const error = await create(s3, 'lease').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412, attempts: 2 } });
    const body = await (await s3.send(new GetObjectCommand({ Bucket, Key: 'lease' }))).Body!.transformToString();
    expect(body).toBe('mine');
    expect(store.requests.filter((r) => r.operation === 'PutObject').map((r) => [r.status, r.fault])).toEqual([
      [200, 'drop-response'],
      [412, undefined],
    ]);
    expect(store.faults.counts['drop-response']).toBe(1);
  });

  it('drop-response without retries surfaces a retryable ECONNRESET network error', async () => {
    store.faults.inject({ fault: { kind: 'drop-response' } });
    await expect(create(once, 'k')).rejects.toMatchObject({ name: 'TimeoutError', code: 'ECONNRESET' });
    expect(await exists('k')).toBe(true);
  });

  it('reset-before: nothing is applied; the SDK retry then succeeds', async () => {
    store.faults.inject({ match: { method: 'put' }, fault: { kind: 'reset-before' } });
    const out = await create(s3, 'k');
    expect(out.$metadata.attempts).toBe(2);
    expect(store.requests.map((r) => [r.status, r.fault])).toEqual([
      [0, 'reset-before'],
      [200, undefined],
    ]);

    store.faults.inject({ fault: { kind: 'reset-before' } });
    await expect(create(once, 'k2')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await exists('k2')).toBe(false);
  });

  it.each([
    [500, 'InternalError'],
    [503, 'SlowDown'],
    [409, 'ConditionalRequestConflict'],
  ])('error %i %s: the SDK sees the status and code; the write is not applied', async (status, code) => {
    store.faults.inject({ match: { operation: 'PutObject' }, fault: { kind: 'error', status, code } });
    await expect(create(once, 'k')).rejects.toMatchObject({ name: code, $metadata: { httpStatusCode: status } });
    expect(await exists('k')).toBe(false);
    expect(store.requests[0]).toMatchObject({ operation: 'PutObject', status, fault: 'error', conditional: true });
  });

  it('error with applied: true writes first, then answers the error (outcome unknown to the client)', async () => {
    store.faults.inject({ fault: { kind: 'error', status: 500, code: 'InternalError', applied: true } });
    await expect(create(once, 'k')).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    expect(await exists('k')).toBe(true);
  });

  it('errors on HEAD have no body; the SDK still sees the status', async () => {
    await create(s3, 'k');
    store.faults.inject({ match: { operation: 'HeadObject' }, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
    await expect(once.send(new HeadObjectCommand({ Bucket, Key: 'k' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 503 },
    });
  });

  it('a 500 on the first attempt is retried by the SDK', async () => {
    store.faults.inject({ fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const out = await create(s3, 'k');
    expect(out.$metadata).toMatchObject({ httpStatusCode: 200, attempts: 2 });
  });

  it('delay: holds the request before applying it, so a later request can overtake it', async () => {
    store.faults.inject({ match: { keyPrefix: 'race/' }, fault: { kind: 'delay', ms: 60 } });
    const started = Date.now();
    const slow = create(once, 'race/x', 'slow').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await create(once, 'race/x', 'fast');
    expect(await slow).toMatchObject({ name: 'PreconditionFailed' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(store.faults.counts.delay).toBe(1);
  });

  it('delay after applying: the write is visible before the response arrives', async () => {
    store.faults.inject({ fault: { kind: 'delay', ms: 80, phase: 'after' } });
    const pending = create(once, 'k');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.buckets.get(Bucket)?.live('k')).toBeDefined();
    await pending;
  });

  it('matches on method, key prefix, operation and conditional; times limits the hits', async () => {
    const fault: S3Fault = { kind: 'error', status: 503, code: 'SlowDown' };
    const rule = store.faults.inject({ match: { operation: 'PutObject', keyPrefix: 'a/', conditional: true }, times: 2, fault });
    await once.send(new PutObjectCommand({ Bucket, Key: 'a/plain', Body: 'x' }));
    await create(once, 'b/x');
    await expect(create(once, 'a/1')).rejects.toMatchObject({ name: 'SlowDown' });
    expect(rule).toMatchObject({ fired: 1, remaining: 1 });
    await expect(create(once, 'a/2')).rejects.toMatchObject({ name: 'SlowDown' });
    await create(once, 'a/3');
    expect(rule.remaining).toBe(0);
    expect(store.faults.pending).toBe(0);

    const cancelled = store.faults.inject({ times: Infinity, fault });
    cancelled.cancel();
    await create(once, 'a/4');
  });

  it('latency: delays every request; clear() removes rules, random faults and latency', async () => {
    store.faults.setLatency({ latencyMs: 40 });
    store.faults.inject({ times: 5, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    store.faults.clear();
    store.faults.setLatency({ latencyMs: 40 });
    const started = Date.now();
    await create(once, 'k');
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    store.faults.clear();
    expect(store.faults.latency).toEqual({ latencyMs: 0, jitterMs: 0, responseLatencyMs: 0 });
    expect(store.faults.pending).toBe(0);
  });

  it('random faults follow the seed and count by kind', async () => {
    const run = async (seed: number): Promise<Array<string | undefined>> => {
      const seeded = new InMemoryS3({ buckets: [Bucket] });
      seeded.faults.random({ errorRate: 0.3, dropAfterApplyRate: 0.2, resetBeforeRate: 0.1, status: 500, code: 'InternalError', seed });
      const client = createInMemoryS3Client(seeded, { maxAttempts: 1 });
      for (let i = 0; i < 40; i++) await client.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: 'x' })).catch(() => undefined);
      client.destroy();
      const { error, 'drop-response': drops, 'reset-before': resets } = seeded.faults.counts;
      expect(error + drops + resets).toBe(seeded.faults.total);
      expect(seeded.faults.total).toBeGreaterThan(0);
      return seeded.requests.map((r) => r.fault);
    };
    expect(await run(7)).toEqual(await run(7));
    expect(await run(7)).not.toEqual(await run(8));
  });

  it('torture: 20 creators with random drops and errors never produce two winners', async () => {
    store.faults.random({ errorRate: 0.2, errorAfterApplyRate: 0.1, dropAfterApplyRate: 0.2, status: 503, code: 'SlowDown', seed: 1 });
    store.faults.setLatency({ jitterMs: 5 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => create(s3, 'contended', `c${i}`)));
    const answered200 = store.requests.filter((r) => r.operation === 'PutObject' && r.status === 200);
    expect(store.buckets.get(Bucket)!.versionsOf('contended')).toHaveLength(1);
    expect(answered200.length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    expect(store.faults.total).toBeGreaterThan(0);
  });

  it('request handler: requestTimeout fails the call with a TimeoutError while the write still lands', async () => {
    const handler = new InMemoryS3RequestHandler(store, { requestTimeout: 20 });
    const client = createInMemoryS3Client(store, { requestHandler: handler, maxAttempts: 1 });
    store.faults.inject({ fault: { kind: 'delay', ms: 60 } });
    await expect(create(client, 'slow')).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(await exists('slow')).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await exists('slow')).toBe(true);
    expect(handler.httpHandlerConfigs()).toEqual({ requestTimeout: 20 });
    client.destroy();
  });

  it('request handler: an abort signal aborts the call', async () => {
    store.faults.inject({ fault: { kind: 'delay', ms: 100 } });
    await expect(
      once.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }), { abortSignal: AbortSignal.timeout(10) }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
