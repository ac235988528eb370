import { v4 as uuidv4 } from 'uuid';
import type { S3Gateway } from './s3-gateway';
import { probeKey, type ProbeVerdict } from './store-probe';

/** Advice given when the versioned probe fails. */
export const VERSIONED_ADVICE =
  "Enable versioning on the bucket (PutBucketVersioning Status=Enabled) on a store that lists object versions newest first, or use protocol 'create-only' " +
  'on a store and bucket that honour conditional creates (Amazon S3, MinIO, Cloudflare R2, Ceph RGW on an unversioned bucket).';

/** Advice given when neither protocol can run ('auto'). */
export const AUTO_ADVICE =
  "Neither protocol can run here. 'create-only' needs PutObject with If-None-Match: * honoured (Amazon S3, MinIO, Cloudflare R2, " +
  "Ceph RGW on an unversioned bucket); 'versioned' needs a bucket with versioning enabled whose ListObjectVersions lists versions " +
  'newest first and whose DeleteObject removes a version by its id. Use a bucket that offers one of them.';

/**
 * Proves what the versioned protocol needs, in this bucket and prefix: versioning is `Enabled`;
 * two PUTs of a fresh key create two versions with distinct ids; a HEAD by version id returns
 * that version's metadata; ListObjectVersions lists those two, newest first (with at most
 * duplicates of them, written by SDK retries after lost answers); a DELETE by
 * version id removes the version (no delete marker). Cleans up its versions. Store failures throw
 * `S3LockStoreError`.
 */
export async function probeVersioned(gateway: S3Gateway, prefix: string): Promise<ProbeVerdict> {
  const status = await gateway.getBucketVersioning('probe');
  if (status !== 'Enabled') {
    return { ok: false, primitive: 'versioning', detail: `GetBucketVersioning says ${status === undefined ? 'versioning was never enabled' : `Status=${status}`}` };
  }
  const key = probeKey(prefix);
  const written: string[] = [];
  let cleaned = false;
  try {
    const tags = [uuidv4(), uuidv4()];
    for (const tag of tags) {
      const put = await gateway.putVersion(key, { 'lock-probe': tag }, undefined, 'probe');
      if (put.kind === 'unknown') throw gateway.failure(undefined, 'probe', put.error);
      if (put.versionId === undefined || put.versionId === 'null') {
        return { ok: false, primitive: 'versioning', detail: `PutObject returned no version id (${String(put.versionId)})` };
      }
      written.push(put.versionId);
    }
    const [first, second] = written as [string, string];
    if (first === second) return { ok: false, primitive: 'versioning', detail: 'two PutObject calls returned the same version id' };
    const head = await gateway.head(key, undefined, 'probe', first);
    if (!head.found || head.metadata['lock-probe'] !== tags[0]) {
      return { ok: false, primitive: 'versioning', detail: 'HeadObject by version id did not return the first version' };
    }
    const listed = await listedIds(gateway, key);
    // The key is fresh: a version that is not one of ours is a duplicate of one of our PUTs (an SDK
    // retry after a lost answer writes another version), which carries our tag and goes too.
    const extras = listed.filter((id) => id !== first && id !== second);
    written.push(...extras);
    let duplicatesOnly = true;
    for (const id of extras) {
      const extra = await gateway.head(key, undefined, 'probe', id);
      if (!extra.found || !tags.includes(extra.metadata['lock-probe'] ?? '')) duplicatesOnly = false;
    }
    const newer = listed.indexOf(second);
    const older = listed.indexOf(first);
    if (newer < 0 || older < 0 || newer > older || !duplicatesOnly) {
      return {
        ok: false,
        primitive: 'list-object-versions',
        detail: `ListObjectVersions listed [${listed.join(', ')}] for versions [${second}, ${first}] (expected those, newest first, and at most duplicates of them)`,
      };
    }
    for (const versionId of written) await gateway.delete(key, undefined, 'probe clean-up', versionId);
    cleaned = true;
    const left = await gateway.listVersions(key, undefined, 'probe');
    const remaining = [...left.versions, ...left.deleteMarkers].filter((v) => v.key === key);
    if (remaining.length > 0) {
      for (const v of remaining) await gateway.delete(key, undefined, 'probe clean-up', v.versionId).catch(() => undefined);
      return { ok: false, primitive: 'versioning', detail: `DeleteObject by version id left ${remaining.length} version(s) or delete marker(s) behind` };
    }
    return { ok: true };
  } finally {
    if (!cleaned) {
      for (const versionId of written) await gateway.delete(key, undefined, 'probe clean-up', versionId).catch(() => undefined);
    }
  }
}

async function listedIds(gateway: S3Gateway, key: string): Promise<string[]> {
  const page = await gateway.listVersions(key, undefined, 'probe');
  return page.versions.filter((v) => v.key === key).map((v) => v.versionId);
}
