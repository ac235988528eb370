import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { request as httpRequest } from 'node:http';
import { InMemoryS3, startInMemoryS3Server, type InMemoryS3Server } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'served';

function clientFor(endpoint: string, maxAttempts = 3): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts,
  });
}

function rawRequest(endpoint: string, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${endpoint}${path}`, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('in-memory S3 HTTP server', () => {
  let server: InMemoryS3Server;
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(async () => {
    store = new InMemoryS3({ buckets: [Bucket] });
    server = await startInMemoryS3Server({ store });
    s3 = clientFor(server.endpoint);
  });

  afterEach(async () => {
    s3.destroy();
    await server.close();
  });

  it('listens on a free loopback port and serves the given store', () => {
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(server.store).toBe(store);
  });

  it('serves the SDK over HTTP: buckets, objects with metadata, listings, versions', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['other', Bucket]);
    const key = 'dir/ä b+c&d';
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: 'payload', Metadata: { Holder: 'H' } }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    expect(got).toMatchObject({ ETag: put.ETag, Metadata: { holder: 'H' }, ContentLength: 7 });
    expect(await got.Body!.transformToString()).toBe('payload');
    expect((await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/' }))).Contents?.map((c) => c.Key)).toEqual([key]);
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'other', VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: 'other', Key: 'k', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: 'other', Key: 'k', Body: '2' }));
    expect((await s3.send(new ListObjectVersionsCommand({ Bucket: 'other' }))).Versions).toHaveLength(2);
  });

  it('lets exactly one of 20 concurrent creators win over HTTP', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: `c${i}`, IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => (r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode)).toEqual(
      Array(19).fill(412),
    );
  });

  it('sends S3 XML errors, a Date header, and empty bodies for HEAD errors', async () => {
    const get = await rawRequest(server.endpoint, 'GET', `/${Bucket}/missing`);
    expect(get.status).toBe(404);
    expect(get.body).toContain('<Code>NoSuchKey</Code>');
    expect(get.headers.date).toMatch(/GMT$/);
    expect(get.headers['x-amz-request-id']).toEqual(expect.any(String));
    const head = await rawRequest(server.endpoint, 'HEAD', `/${Bucket}/missing`);
    expect(head.status).toBe(404);
    expect(head.body).toBe('');
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' }))).rejects.toMatchObject({
      name: 'NotFound',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('drop-response destroys the socket after applying; the SDK retries and gets 412', async () => {
    store.faults.inject({ match: { operation: 'PutObject' }, fault: { kind: 'drop-response' } });
    await expect(
      s3.send(new PutObjectCommand({ Bucket, Key: 'lease', Body: 'mine', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412, attempts: 2 } });
    expect(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'lease' }))).Body!.transformToString()).toBe('mine');
  });

  it('reset-before destroys the socket without applying', async () => {
    store.faults.inject({ fault: { kind: 'reset-before' } });
    const once = clientFor(server.endpoint, 1);
    // Node's http errors come from outside jest's realm, so the SDK wraps them: match the message.
    await expect(once.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }))).rejects.toThrow(/socket hang up/);
    once.destroy();
    expect(store.buckets.get(Bucket)?.live('k')).toBeUndefined();
  });

  it('injected errors reach the SDK with their status and code', async () => {
    store.faults.inject({ fault: { kind: 'error', status: 409, code: 'ConditionalRequestConflict' } });
    await expect(
      s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } });
  });

  it('close() is idempotent and ends keep-alive connections', async () => {
    await s3.send(new ListBucketsCommand({}));
    await Promise.all([server.close(), server.close()]);
    await expect(rawRequest(server.endpoint, 'GET', '/')).rejects.toThrow();
  });
});
