import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { awsBehaviour, createInMemoryS3Client, InMemoryS3 } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Plain = 'plain';
const Versioned = 'versioned';
const WRONG_ETAG = '"00000000000000000000000000000000"';

describe('InMemoryS3 broken-store behaviour switches', () => {
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(() => {
    store = new InMemoryS3({ buckets: [Plain], versionedBuckets: [Versioned] });
    s3 = createInMemoryS3Client(store);
  });

  afterEach(() => s3.destroy());

  const put = (Bucket: string, Key: string, Body: string, extra: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
  const read = async (Bucket: string, Key: string) =>
    (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

  it('defaults to AWS behaviour', () => {
    expect(store.behaviour).toEqual(awsBehaviour());
    expect(Object.values(store.behaviour).every((v) => v === false)).toBe(true);
  });

  it('ignoreIfNoneMatch: a second create succeeds and overwrites', async () => {
    store.behaviour.ignoreIfNoneMatch = true;
    await put(Plain, 'k', 'one', { IfNoneMatch: '*' });
    await put(Plain, 'k', 'two', { IfNoneMatch: '*' });
    expect(await read(Plain, 'k')).toBe('two');
  });

  it('ignoreIfNoneMatchWhenVersioned: only versioned buckets ignore the condition (Ceph RGW 16)', async () => {
    const rgw = new InMemoryS3({ buckets: [Plain], versionedBuckets: [Versioned], behaviour: { ignoreIfNoneMatchWhenVersioned: true } });
    const client = createInMemoryS3Client(rgw);
    const create = (Bucket: string, Body: string) =>
      client.send(new PutObjectCommand({ Bucket, Key: 'k', Body, IfNoneMatch: '*' }));
    await create(Versioned, 'one');
    await create(Versioned, 'two');
    await create(Plain, 'one');
    await expect(create(Plain, 'two')).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    client.destroy();
  });

  it('ignoreIfMatch: a stale ETag is accepted (moto 5.1)', async () => {
    store.setBehaviour({ ignoreIfMatch: true });
    await put(Plain, 'k', 'one');
    await put(Plain, 'k', 'two', { IfMatch: WRONG_ETAG });
    expect(await read(Plain, 'k')).toBe('two');
    expect(store.behaviour.ignoreIfNoneMatch).toBe(false);
  });

  it('rejectQuotedIfMatch: a matching quoted ETag fails, the unquoted one works (Ceph RGW 16)', async () => {
    store.setBehaviour({ rejectQuotedIfMatch: true });
    const { ETag } = await put(Plain, 'k', 'one');
    await expect(put(Plain, 'k', 'two', { IfMatch: ETag })).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await put(Plain, 'k', 'three', { IfMatch: ETag!.replace(/"/g, '') });
    expect(await read(Plain, 'k')).toBe('three');
  });

  it('ignoreConditionalDelete: a wrong ETag deletes anyway, also in DeleteObjects', async () => {
    store.behaviour.ignoreConditionalDelete = true;
    await put(Plain, 'a', 'x');
    await put(Plain, 'b', 'x');
    await s3.send(new DeleteObjectCommand({ Bucket: Plain, Key: 'a', IfMatch: WRONG_ETAG }));
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: Plain, Delete: { Objects: [{ Key: 'b', ETag: WRONG_ETAG }] } }),
    );
    expect(out.Errors ?? []).toEqual([]);
    expect(store.buckets.get(Plain)?.keys()).toEqual([]);
  });

  it('switches can be turned back off at run time', async () => {
    store.behaviour.ignoreIfNoneMatch = true;
    await put(Plain, 'k', 'one', { IfNoneMatch: '*' });
    store.behaviour.ignoreIfNoneMatch = false;
    await expect(put(Plain, 'k', 'two', { IfNoneMatch: '*' })).rejects.toMatchObject({ name: 'PreconditionFailed' });
  });
});
