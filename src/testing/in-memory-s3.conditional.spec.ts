import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3 } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'locks';

describe('InMemoryS3 conditional requests (AWS semantics)', () => {
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(() => {
    store = new InMemoryS3({ buckets: [Bucket] });
    s3 = createInMemoryS3Client(store);
  });

  afterEach(() => s3.destroy());

  const put = (Key: string, Body: string, extra: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
  const read = async (Key: string): Promise<string> =>
    (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

  describe('PutObject If-None-Match: *', () => {
    it('creates an absent key and refuses an existing one with 412 PreconditionFailed', async () => {
      const first = await put('a', 'one', { IfNoneMatch: '*' });
      expect(first.ETag).toMatch(/^"[0-9a-f]{32}"$/);
      await expect(put('a', 'two', { IfNoneMatch: '*' })).rejects.toMatchObject({
        name: 'PreconditionFailed',
        Condition: 'If-None-Match',
        $metadata: { httpStatusCode: 412 },
      });
      expect(await read('a')).toBe('one');
    });

    it('lets exactly one of 20 concurrent creators win; the other 19 get 412', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => put('contended', `creator-${i}`, { IfNoneMatch: '*' })),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      const losers = results.filter((r) => r.status === 'rejected');
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(19);
      for (const loser of losers) {
        expect((loser as PromiseRejectedResult).reason).toMatchObject({
          name: 'PreconditionFailed',
          $metadata: { httpStatusCode: 412 },
        });
      }
      expect(await read('contended')).toBe(`creator-${winners[0]}`);
    });

    it('keeps exactly one winner when latency with jitter interleaves the requests', async () => {
      store.faults.setLatency({ latencyMs: 1, jitterMs: 10, responseLatencyMs: 1 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => put('jittered', `c${i}`, { IfNoneMatch: '*' })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('succeeds again after the key was deleted', async () => {
      await put('a', 'one', { IfNoneMatch: '*' });
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a' }));
      await put('a', 'two', { IfNoneMatch: '*' });
      expect(await read('a')).toBe('two');
    });

    it('answers 501 NotImplemented for If-None-Match values other than *', async () => {
      await expect(put('a', 'one', { IfNoneMatch: '"abc"' })).rejects.toMatchObject({
        name: 'NotImplemented',
        $metadata: { httpStatusCode: 501 },
      });
    });
  });

  describe('PutObject If-Match', () => {
    it('replaces the object when the quoted ETag matches', async () => {
      const { ETag } = await put('a', 'one');
      const second = await put('a', 'two', { IfMatch: ETag });
      expect(second.ETag).not.toBe(ETag);
      expect(await read('a')).toBe('two');
    });

    it('also accepts the ETag without quotes', async () => {
      const { ETag } = await put('a', 'one');
      await put('a', 'two', { IfMatch: ETag!.replace(/"/g, '') });
      expect(await read('a')).toBe('two');
    });

    it('refuses a stale ETag with 412 and keeps the object', async () => {
      const { ETag: stale } = await put('a', 'one');
      await put('a', 'two');
      await expect(put('a', 'three', { IfMatch: stale })).rejects.toMatchObject({
        name: 'PreconditionFailed',
        Condition: 'If-Match',
        $metadata: { httpStatusCode: 412 },
      });
      expect(await read('a')).toBe('two');
    });

    it('answers 404 NoSuchKey when the key is absent', async () => {
      await expect(put('missing', 'x', { IfMatch: '"0123456789abcdef0123456789abcdef"' })).rejects.toMatchObject({
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      });
    });

    it('lets exactly one of 10 concurrent compare-and-swaps on the same ETag win', async () => {
      const { ETag } = await put('cas', 'v0');
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => put('cas', `v1-${i}`, { IfMatch: ETag })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });
  });

  describe('DeleteObject If-Match', () => {
    it('deletes when the ETag matches', async () => {
      const { ETag } = await put('a', 'one');
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a', IfMatch: ETag }));
      await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }))).rejects.toMatchObject({
        name: 'NotFound',
        $metadata: { httpStatusCode: 404 },
      });
    });

    it('refuses a mismatching ETag with 412 and keeps the object', async () => {
      await put('a', 'one');
      await expect(
        s3.send(new DeleteObjectCommand({ Bucket, Key: 'a', IfMatch: '"00000000000000000000000000000000"' })),
      ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      expect(await read('a')).toBe('one');
    });

    it('answers 404 NoSuchKey for an absent key, while a plain delete of it succeeds', async () => {
      await expect(s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone', IfMatch: '"x"' }))).rejects.toMatchObject({
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      });
      const plain = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'gone' }));
      expect(plain.$metadata.httpStatusCode).toBe(204);
    });

    it('checks per-object ETags in DeleteObjects', async () => {
      const { ETag } = await put('a', 'one');
      await put('b', 'two');
      const out = await s3.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: [{ Key: 'a', ETag }, { Key: 'b', ETag: '"00000000000000000000000000000000"' }, { Key: 'c' }] },
        }),
      );
      expect(out.Deleted?.map((d) => d.Key).sort()).toEqual(['a', 'c']);
      expect(out.Errors).toEqual([expect.objectContaining({ Key: 'b', Code: 'PreconditionFailed' })]);
      expect(store.requests.at(-1)).toMatchObject({ operation: 'DeleteObjects', conditional: true, status: 200 });
      expect(await read('b')).toBe('two');
    });
  });

  describe('GetObject / HeadObject conditions', () => {
    it('honours If-Match (412) and If-None-Match (304)', async () => {
      const { ETag } = await put('a', 'one');
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a', IfMatch: ETag }));
      expect(head.ETag).toBe(ETag);
      await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'a', IfMatch: '"nope"' }))).rejects.toMatchObject({
        name: 'PreconditionFailed',
        $metadata: { httpStatusCode: 412 },
      });
      await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'a', IfMatch: '"nope"' }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 412 },
      });
      await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'a', IfNoneMatch: ETag }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 304 },
      });
    });

    it('honours If-Modified-Since and If-Unmodified-Since at 1-second resolution', async () => {
      await put('a', 'one');
      const { LastModified } = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }));
      await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'a', IfModifiedSince: LastModified }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 304 },
      });
      const earlier = new Date(LastModified!.getTime() - 1000);
      await expect(
        s3.send(new GetObjectCommand({ Bucket, Key: 'a', IfUnmodifiedSince: earlier })),
      ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      const ok = await s3.send(new GetObjectCommand({ Bucket, Key: 'a', IfModifiedSince: earlier }));
      expect(await ok.Body!.transformToString()).toBe('one');
    });
  });

  it('logs whether each request was conditional', async () => {
    await put('a', 'one', { IfNoneMatch: '*' });
    await put('b', 'two');
    expect(store.requests.map(({ operation, key, status, conditional }) => ({ operation, key, status, conditional }))).toEqual([
      { operation: 'PutObject', key: 'a', status: 200, conditional: true },
      { operation: 'PutObject', key: 'b', status: 200, conditional: false },
    ]);
    store.clearRequests();
    expect(store.requests).toEqual([]);
  });
});
