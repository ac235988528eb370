/**
 * Record loss on a real or in-memory store, done by hand the way an operator or a restart would:
 * every key under a prefix deleted, or the whole bucket deleted and created again.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Every key under `prefix` (all pages). */
export async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const c of page.Contents ?? []) if (c.Key) keys.push(c.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Deletes every key under `prefix` with single DeleteObject calls, 32 at a time; returns how many. */
export async function wipePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const keys = await listAll(s3, bucket, prefix);
  for (let i = 0; i < keys.length; i += 32) {
    await Promise.all(keys.slice(i, i + 32).map((Key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
  }
  return keys.length;
}

/**
 * Deletes every version and delete marker under `prefix` of a versioned bucket, by version id, as a
 * store restarted without state would lose them; returns how many.
 */
export async function purgePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const entries: Array<{ Key: string; VersionId: string }> = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (v.Key && v.VersionId) entries.push({ Key: v.Key, VersionId: v.VersionId });
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  for (let i = 0; i < entries.length; i += 32) {
    await Promise.all(entries.slice(i, i + 32).map((e) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: e.Key, VersionId: e.VersionId }))));
  }
  return entries.length;
}

/**
 * Empties and deletes the (unversioned) bucket. Clients still using it can write a key between the
 * wipe and the delete (the store then answers BucketNotEmpty), so it wipes again and retries, as
 * an operator would, at most `attempts` times.
 */
export async function deleteBucket(s3: S3Client, bucket: string, attempts = 20): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await wipePrefix(s3, bucket, '');
    try {
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      return;
    } catch (error) {
      if ((error as { name?: string }).name !== 'BucketNotEmpty' || attempt >= attempts) throw error;
    }
  }
}

export async function createBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Plain PutObject of many small keys, `parallel` at a time. */
export async function putMany(s3: S3Client, bucket: string, keys: readonly string[], parallel = 50): Promise<void> {
  for (let i = 0; i < keys.length; i += parallel) {
    await Promise.all(keys.slice(i, i + parallel).map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'foreign' }))));
  }
}
