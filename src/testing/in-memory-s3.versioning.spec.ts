import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3 } from './index';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'versioned';

describe('InMemoryS3 versioned buckets', () => {
  let store: InMemoryS3;
  let s3: S3Client;

  beforeEach(async () => {
    store = new InMemoryS3();
    s3 = createInMemoryS3Client(store);
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  });

  afterEach(() => s3.destroy());

  const put = (Key: string, Body: string, IfNoneMatch?: string) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body, IfNoneMatch }));
  const versions = (extra: { Prefix?: string; MaxKeys?: number; KeyMarker?: string; VersionIdMarker?: string } = {}) =>
    s3.send(new ListObjectVersionsCommand({ Bucket, ...extra }));

  it('reports the versioning status', async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled');
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'plain' }))).Status).toBeUndefined();
  });

  it('gives every PUT a fresh version id and lists versions newest first, keys ascending', async () => {
    const ids: string[] = [];
    for (const body of ['1', '2', '3']) ids.push((await put('k', body)).VersionId!);
    await put('a', 'x');
    expect(new Set(ids).size).toBe(3);
    const out = await versions();
    expect(out.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ['a', expect.any(String), true],
      ['k', ids[2], true],
      ['k', ids[1], false],
      ['k', ids[0], false],
    ]);
    expect(out.Versions?.[0]?.LastModified?.toISOString()).toMatch(/\.\d{3}Z$/);
  });

  it('orders versions written within the same millisecond by write order', async () => {
    const spy = jest.spyOn(Date, 'now').mockReturnValue(1_700_000_000_123);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await put('same-ms', String(i))).VersionId!);
      const out = await versions();
      expect(out.Versions?.map((v) => v.VersionId)).toEqual([...ids].reverse());
      expect(new Set(out.Versions?.map((v) => v.LastModified?.getTime()))).toEqual(new Set([1_700_000_000_123]));
    } finally {
      spy.mockRestore();
    }
  });

  it('turns a plain DELETE into a delete marker that hides the key', async () => {
    const { VersionId: objectVersion } = await put('k', 'v1');
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
    expect(deleted.DeleteMarker).toBe(true);
    expect(deleted.VersionId).toEqual(expect.any(String));
    await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'k' }))).rejects.toMatchObject({
      name: 'NoSuchKey',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    expect((await s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount).toBe(0);
    const out = await versions();
    expect(out.DeleteMarkers).toEqual([
      expect.objectContaining({ Key: 'k', VersionId: deleted.VersionId, IsLatest: true }),
    ]);
    expect(out.Versions).toEqual([expect.objectContaining({ Key: 'k', VersionId: objectVersion, IsLatest: false })]);
    // the old version stays readable by id; the marker itself is not an object
    const old = await s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: objectVersion }));
    expect(await old.Body!.transformToString()).toBe('v1');
    await expect(
      s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: deleted.VersionId })),
    ).rejects.toMatchObject({ name: 'MethodNotAllowed', $metadata: { httpStatusCode: 405 } });
  });

  it('treats a delete marker as absent for If-None-Match: * and If-Match', async () => {
    await put('k', 'v1', '*');
    await expect(put('k', 'v2', '*')).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
    await expect(
      s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', IfMatch: '"0123456789abcdef0123456789abcdef"' })),
    ).rejects.toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    const created = await put('k', 'v3', '*');
    expect(created.VersionId).toEqual(expect.any(String));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('v3');
  });

  it('removes a version permanently with versionId; removing the marker restores the object', async () => {
    const v1 = (await put('k', 'v1')).VersionId!;
    const v2 = (await put('k', 'v2')).VersionId!;
    const removed = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: v2 }));
    expect(removed.VersionId).toBe(v2);
    expect(removed.DeleteMarker).toBeUndefined();
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }))).VersionId).toBe(v1);
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }))).VersionId!;
    const unmarked = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: marker }));
    expect(unmarked.DeleteMarker).toBe(true);
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'k' }))).VersionId).toBe(v1);
    await expect(
      s3.send(new HeadObjectCommand({ Bucket, Key: 'k', VersionId: v2 })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    await expect(s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: v2 }))).rejects.toMatchObject({
      name: 'NoSuchVersion',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('returns version id, metadata and ETag on HEAD/GET by version', async () => {
    const put1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'm', Body: 'a', Metadata: { Holder: 'A' } }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'm', Body: 'b', Metadata: { holder: 'B' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'm', VersionId: put1.VersionId }));
    expect(head).toMatchObject({ VersionId: put1.VersionId, ETag: put1.ETag, Metadata: { holder: 'A' }, ContentLength: 1 });
  });

  it('pages ListObjectVersions with key and version-id markers', async () => {
    for (const key of ['a', 'b', 'c']) {
      await put(key, '1');
      await put(key, '2');
    }
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'b' }));
    const all = await versions();
    const expected = [
      ...(all.Versions ?? []).map((v) => ({ Key: v.Key, VersionId: v.VersionId, LastModified: v.LastModified })),
      ...(all.DeleteMarkers ?? []).map((v) => ({ Key: v.Key, VersionId: v.VersionId, LastModified: v.LastModified })),
    ];
    expect(expected).toHaveLength(7);
    const seen: { Key?: string; VersionId?: string }[] = [];
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await versions({ MaxKeys: 2, KeyMarker, VersionIdMarker });
      const entries = [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])];
      expect(entries.length).toBeLessThanOrEqual(2);
      seen.push(...entries.map((v) => ({ Key: v.Key, VersionId: v.VersionId })));
      if (!out.IsTruncated) break;
      KeyMarker = out.NextKeyMarker;
      VersionIdMarker = out.NextVersionIdMarker;
    }
    expect(seen.map((v) => v.VersionId).sort()).toEqual(expected.map((v) => v.VersionId).sort());
    expect(seen.map((v) => v.Key)).toEqual(['a', 'a', 'b', 'b', 'b', 'c', 'c']);
    expect((await versions({ Prefix: 'b' })).DeleteMarkers).toHaveLength(1);
  });

  it('writes null versions while suspended, replacing the previous null version', async () => {
    const kept = (await put('k', 'enabled')).VersionId!;
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    expect((await put('k', 's1')).VersionId).toBe('null');
    expect((await put('k', 's2')).VersionId).toBe('null');
    const out = await versions();
    expect(out.Versions?.map((v) => [v.VersionId, v.IsLatest])).toEqual([
      ['null', true],
      [kept, false],
    ]);
    const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
    expect(marker).toMatchObject({ DeleteMarker: true, VersionId: 'null' });
    expect((await versions()).Versions?.map((v) => v.VersionId)).toEqual([kept]);
  });

  it('does not send x-amz-version-id for unversioned buckets', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
    const out = await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x' }));
    expect(out.VersionId).toBeUndefined();
    expect((await s3.send(new DeleteObjectCommand({ Bucket: 'plain', Key: 'k' }))).DeleteMarker).toBeUndefined();
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'plain' }));
    expect(listed.Versions ?? []).toEqual([]);
  });
});
