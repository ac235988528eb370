import {
  DeleteObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3 } from './index';
import { compareUtf8 } from './utf8-order';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'listing';

describe('InMemoryS3 ListObjectsV2', () => {
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(() => {
    store = new InMemoryS3({ buckets: [Bucket] });
    s3 = createInMemoryS3Client(store);
  });

  afterEach(() => s3.destroy());

  const putAll = async (keys: readonly string[]): Promise<void> => {
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  };
  const list = (input: Omit<ListObjectsV2CommandInput, 'Bucket'> = {}) =>
    s3.send(new ListObjectsV2Command({ Bucket, ...input }));

  it('lists keys in ascending UTF-8 byte order with ms timestamps, sizes and ETags', async () => {
    const keys = ['b', 'a/2', 'a/10', 'Z', '\uFFFD', '\u{1F600}', 'a/1', 'é'];
    await putAll(keys);
    const out = await list();
    const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(out.Contents?.map((c) => c.Key)).toEqual(expected);
    expect(expected.indexOf('\uFFFD')).toBeLessThan(expected.indexOf('\u{1F600}'));
    expect(out.KeyCount).toBe(keys.length);
    expect(out.IsTruncated).toBe(false);
    const first = out.Contents![0]!;
    expect(first.Size).toBe(Buffer.byteLength(first.Key!));
    expect(first.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.StorageClass).toBe('STANDARD');
  });

  it('filters by prefix and hides deleted keys', async () => {
    await putAll(['lock/a', 'lock/b', 'lockx', 'other']);
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'lock/b' }));
    const out = await list({ Prefix: 'lock/' });
    expect(out.Contents?.map((c) => c.Key)).toEqual(['lock/a']);
    expect(out.Prefix).toBe('lock/');
  });

  it('pages with max-keys and continuation tokens, and honours start-after', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    await putAll([...keys].reverse());
    const seen: string[] = [];
    let ContinuationToken: string | undefined;
    let pages = 0;
    do {
      const out = await list({ MaxKeys: 10, ContinuationToken });
      pages++;
      expect(out.MaxKeys).toBe(10);
      expect(out.KeyCount).toBe(out.Contents?.length ?? 0);
      seen.push(...(out.Contents ?? []).map((c) => c.Key!));
      expect(out.IsTruncated).toBe(out.NextContinuationToken !== undefined);
      ContinuationToken = out.NextContinuationToken;
    } while (ContinuationToken !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(keys);

    const after = await list({ StartAfter: 'k010', MaxKeys: 2 });
    expect(after.Contents?.map((c) => c.Key)).toEqual(['k011', 'k012']);
    expect(after.IsTruncated).toBe(true);
    expect((await list({ MaxKeys: 1 })).Contents?.map((c) => c.Key)).toEqual(['k000']);
  });

  it('rolls keys up into common prefixes at the delimiter, counting each once per page', async () => {
    await putAll(['a/1', 'a/2', 'b', 'c/1', 'c/d/2', 'd']);
    const out = await list({ Delimiter: '/' });
    expect(out.Contents?.map((c) => c.Key)).toEqual(['b', 'd']);
    expect(out.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'c/']);
    expect(out.KeyCount).toBe(4);

    const paged: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await list({ Delimiter: '/', MaxKeys: 1, ContinuationToken });
      paged.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!), ...(page.Contents ?? []).map((c) => c.Key!));
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken !== undefined);
    expect(paged).toEqual(['a/', 'b', 'c/', 'd']);
    expect((await list({ Delimiter: '/', Prefix: 'c/' })).CommonPrefixes?.map((p) => p.Prefix)).toEqual(['c/d/']);
  });

  it('round-trips keys with characters that need URL and XML escaping', async () => {
    const keys = ['a b', 'a+b', 'x&y<z>"q\'', 'ü/ñ', 'percent%2F', 'semi;colon=eq?'];
    await putAll(keys);
    const out = await list();
    expect(out.Contents?.map((c) => c.Key)).toEqual([...keys].sort(compareUtf8));
  });

  it('rejects a malformed continuation token and a non-numeric max-keys', async () => {
    await expect(list({ ContinuationToken: '!!!' })).rejects.toMatchObject({
      name: 'InvalidArgument',
      $metadata: { httpStatusCode: 400 },
    });
    const raw = await store.handle({
      method: 'GET',
      path: `/${Bucket}`,
      query: { 'list-type': '2', 'max-keys': 'ten' },
      headers: {},
      body: new Uint8Array(0),
    });
    expect(raw.statusCode).toBe(400);
  });

  it('answers 404 NoSuchBucket for a missing bucket', async () => {
    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }))).rejects.toMatchObject({
      name: 'NoSuchBucket',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('supports ListObjects v1 with marker', async () => {
    await putAll(['a', 'b', 'c']);
    const out = await s3.send(new ListObjectsCommand({ Bucket, Marker: 'a', MaxKeys: 1 }));
    expect(out.Contents?.map((c) => c.Key)).toEqual(['b']);
    expect(out.IsTruncated).toBe(true);
  });
});

describe('compareUtf8', () => {
  it('orders like a byte-wise comparison of the UTF-8 encodings', () => {
    const words = ['', 'a', 'ab', 'b', 'Z', '\u007f', '\u0080', '\u07ff', '\u0800', '\uE000', '\uFFFD', '\u{10000}', '\u{1F600}', 'a\u{1F600}', 'a\uFFFD'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...words].sort(compareUtf8)).toEqual(byBytes);
  });
});
