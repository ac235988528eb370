import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createInMemoryS3Client, InMemoryS3, InMemoryS3RequestHandler, type S3HttpRequest } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'objects';

function request(overrides: Partial<S3HttpRequest>): S3HttpRequest {
  return { method: 'GET', path: '/', query: {}, headers: {}, body: new Uint8Array(0), ...overrides };
}

describe('InMemoryS3 buckets and objects', () => {
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(() => {
    store = new InMemoryS3({ buckets: [Bucket] });
    s3 = createInMemoryS3Client(store);
  });

  afterEach(() => s3.destroy());

  it('creates, heads, lists and deletes buckets', async () => {
    const created = await s3.send(new CreateBucketCommand({ Bucket: 'second' }));
    expect(created.Location).toBe('/second');
    await expect(s3.send(new CreateBucketCommand({ Bucket: 'second' }))).rejects.toMatchObject({
      name: 'BucketAlreadyOwnedByYou',
      $metadata: { httpStatusCode: 409 },
    });
    await expect(s3.send(new CreateBucketCommand({ Bucket: 'No_Such' }))).rejects.toMatchObject({
      name: 'InvalidBucketName',
      $metadata: { httpStatusCode: 400 },
    });
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'second' }))).BucketRegion).toBe('us-east-1');
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: 'second' }))).LocationConstraint).toBeUndefined();
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual([Bucket, 'second']);
    await s3.send(new PutObjectCommand({ Bucket: 'second', Key: 'k', Body: 'x' }));
    await expect(s3.send(new DeleteBucketCommand({ Bucket: 'second' }))).rejects.toMatchObject({
      name: 'BucketNotEmpty',
      $metadata: { httpStatusCode: 409 },
    });
    await s3.send(new DeleteObjectsCommand({ Bucket: 'second', Delete: { Objects: [{ Key: 'k' }] } }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'second' }));
    await expect(s3.send(new HeadBucketCommand({ Bucket: 'second' }))).rejects.toMatchObject({
      name: 'NotFound',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(s3.send(new PutObjectCommand({ Bucket: 'second', Key: 'k', Body: 'x' }))).rejects.toMatchObject({
      name: 'NoSuchBucket',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('stores body, content type and user metadata; returns metadata names lower-cased', async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'dir/obj.json',
        Body: '{"a":1}',
        ContentType: 'application/json',
        Metadata: { 'Lease-Id': 'L1', owner: 'me' },
      }),
    );
    expect(put.ETag).toBe(`"${createHash('md5').update('{"a":1}').digest('hex')}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/obj.json' }));
    expect(got).toMatchObject({
      ETag: put.ETag,
      ContentType: 'application/json',
      ContentLength: 7,
      Metadata: { 'lease-id': 'L1', owner: 'me' },
    });
    expect(await got.Body!.transformToString()).toBe('{"a":1}');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/obj.json' }));
    expect(head).toMatchObject({ ETag: put.ETag, ContentLength: 7, Metadata: { 'lease-id': 'L1', owner: 'me' } });
    expect(head.LastModified).toBeInstanceOf(Date);
  });

  it('computes the ETag as the quoted MD5 of the body', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'hello' }));
    expect(put.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    const empty = await s3.send(new PutObjectCommand({ Bucket, Key: 'e', Body: new Uint8Array(0) }));
    expect(empty.ETag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it('collects Uint8Array, string and stream bodies, also aws-chunked ones with trailing checksums', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'bytes', Body: new Uint8Array([1, 2, 3]) }));
    await s3.send(
      new PutObjectCommand({ Bucket, Key: 'stream', Body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]), ContentLength: 4 }),
    );
    const chunky = createInMemoryS3Client(store, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
    await chunky.send(
      new PutObjectCommand({ Bucket, Key: 'chunked', Body: Readable.from([Buffer.from('chunked body')]), ContentLength: 12 }),
    );
    chunky.destroy();
    const bytes = await s3.send(new GetObjectCommand({ Bucket, Key: 'bytes' }));
    expect([...(await bytes.Body!.transformToByteArray())]).toEqual([1, 2, 3]);
    const stream = await s3.send(new GetObjectCommand({ Bucket, Key: 'stream' }));
    expect(await stream.Body!.transformToString()).toBe('abcd');
    const chunked = await s3.send(new GetObjectCommand({ Bucket, Key: 'chunked' }));
    expect(await chunked.Body!.transformToString()).toBe('chunked body');
  });

  it('answers 404 NoSuchKey on GET and 404 without body on HEAD', async () => {
    await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'missing' }))).rejects.toMatchObject({
      name: 'NoSuchKey',
      Key: 'missing',
      $metadata: { httpStatusCode: 404 },
    });
    const head = await store.handle(request({ method: 'HEAD', path: `/${Bucket}/missing` }));
    expect(head.statusCode).toBe(404);
    expect(head.body.length).toBe(0);
  });

  it('renders S3 XML errors with code, message, resource, request id and common headers', async () => {
    const response = await store.handle(request({ path: `/${Bucket}/a%20b` }));
    const xml = Buffer.from(response.body).toString('utf8');
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('application/xml');
    expect(response.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    expect(response.headers.date).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(xml).toContain('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a b</Key>');
    expect(xml).toContain(`<RequestId>${response.headers['x-amz-request-id']}</RequestId>`);
  });

  it('answers 501 NotImplemented for unsupported operations and 400 for bad URIs', async () => {
    const multipart = await store.handle(request({ method: 'POST', path: `/${Bucket}/k`, query: { uploads: '' } }));
    expect(multipart.statusCode).toBe(501);
    const copy = await store.handle(
      request({ method: 'PUT', path: `/${Bucket}/k`, headers: { 'x-amz-copy-source': '/objects/j' } }),
    );
    expect(copy.statusCode).toBe(501);
    const policy = await store.handle(request({ path: `/${Bucket}`, query: { policy: '' } }));
    expect(policy.statusCode).toBe(501);
    const badUri = await store.handle(request({ path: `/${Bucket}/%E0%A4%A` }));
    expect(badUri.statusCode).toBe(400);
    expect(store.requests.map((r) => r.operation)).toEqual(['Unsupported', 'Unsupported', 'Unsupported', 'Unsupported']);
  });

  it('rejects malformed DeleteObjects bodies and ignores checksum headers', async () => {
    const bad = await store.handle(
      request({ method: 'POST', path: `/${Bucket}`, query: { delete: '' }, body: Buffer.from('<Nope/>') }),
    );
    expect(bad.statusCode).toBe(400);
    expect(Buffer.from(bad.body).toString()).toContain('<Code>MalformedXML</Code>');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a&b', Body: 'x' }));
    const ok = await store.handle(
      request({
        method: 'POST',
        path: `/${Bucket}`,
        query: { delete: '' },
        headers: { 'Content-MD5': 'bogus==', 'x-amz-checksum-crc32': 'bogus' },
        body: Buffer.from('<Delete><Object><Key>a&amp;b</Key></Object><Quiet>true</Quiet></Delete>'),
      }),
    );
    expect(ok.statusCode).toBe(200);
    expect(Buffer.from(ok.body).toString()).not.toContain('<Deleted>');
    expect(store.buckets.get(Bucket)?.keys()).toEqual([]);
  });

  it('keeps only the last requestLogLimit requests', async () => {
    const small = new InMemoryS3({ buckets: [Bucket], requestLogLimit: 3 });
    for (let i = 0; i < 5; i++) await small.handle(request({ method: 'PUT', path: `/${Bucket}/k${i}` }));
    expect(small.requests.map((r) => r.key)).toEqual(['k2', 'k3', 'k4']);
  });

  it('createBucket and reset() manage state directly', () => {
    store.createBucket('direct', { versioning: 'Enabled' });
    expect(store.buckets.get('direct')?.versioning).toBe('Enabled');
    expect(() => store.createBucket('direct')).toThrow(/exists/);
    store.reset();
    expect(store.buckets.size).toBe(0);
  });

  it('the request handler implements the smithy HttpHandler contract', async () => {
    const handler = new InMemoryS3RequestHandler(store);
    expect(handler.metadata.handlerProtocol).toBe('http/1.1');
    handler.updateHttpClientConfig('requestTimeout', 1000);
    expect(handler.httpHandlerConfigs()).toEqual({ requestTimeout: 1000 });
    const { response } = await handler.handle({
      method: 'PUT',
      protocol: 'http:',
      hostname: 'memory.s3.local',
      path: `/${Bucket}/raw%2Fkey`,
      query: { 'x-id': 'PutObject' },
      headers: { 'If-None-Match': '*' },
      body: 'text body',
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(store.buckets.get(Bucket)?.live('raw/key')).toBeDefined();
    handler.destroy();
  });
});
