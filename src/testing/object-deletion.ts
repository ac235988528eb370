/**
 * DeleteObject and DeleteObjects: permanent deletes of a version, delete markers in versioned
 * buckets, and the `If-Match` condition (per object `<ETag>` in DeleteObjects).
 */
import { NULL_VERSION_ID, type BucketState, type ObjectVersion } from './bucket-state';
import { checkDeletePrecondition } from './s3-conditions';
import { malformedXml, S3Error } from './s3-errors';
import { header, queryParam, type S3Call, type S3HttpResponse } from './s3-request';
import { emptyResponse, xmlResponse } from './s3-response';
import { xmlDocument, xmlElements, xmlFirstText, xmlNode, xmlText } from './s3-xml';
import { requireBucket, type StoreContext } from './store-context';

const MAX_OBJECTS_PER_DELETE = 1000;

interface DeleteOutcome {
  /** The version removed or the delete marker created, when S3 reports one. */
  readonly versionId: string | undefined;
  /** True when a delete marker was created or a delete marker was removed. */
  readonly deleteMarker: boolean;
}

function deleteMarkerFor(ctx: StoreContext, bucket: BucketState, key: string): ObjectVersion {
  return {
    key,
    versionId: bucket.versioning === 'Enabled' ? ctx.newVersionId() : NULL_VERSION_ID,
    isDeleteMarker: true,
    body: new Uint8Array(0),
    etag: '',
    lastModifiedMs: ctx.now(),
    contentType: '',
    metadata: {},
    sequence: ctx.nextSequence(),
  };
}

/** Deletes one key or version, after the `If-Match` check, in one synchronous step. */
function deleteOne(
  ctx: StoreContext,
  bucket: BucketState,
  key: string,
  versionId: string | undefined,
  ifMatch: string | undefined,
): DeleteOutcome {
  const target = versionId === undefined ? bucket.latest(key) : bucket.find(key, versionId);
  checkDeletePrecondition(ctx, key, target, ifMatch);
  if (versionId !== undefined) {
    const removed = bucket.remove(key, versionId);
    return { versionId, deleteMarker: removed?.isDeleteMarker ?? false };
  }
  if (bucket.versioning === 'Unversioned') {
    bucket.remove(key, NULL_VERSION_ID);
    return { versionId: undefined, deleteMarker: false };
  }
  const marker = deleteMarkerFor(ctx, bucket, key);
  bucket.add(marker);
  return { versionId: marker.versionId, deleteMarker: true };
}

/** DeleteObject: 204 with `x-amz-delete-marker` / `x-amz-version-id` as S3 sends them. */
export function deleteObject(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const outcome = deleteOne(ctx, bucket, call.key ?? '', queryParam(call, 'versionId'), header(call, 'if-match'));
  const headers: Record<string, string> = {};
  if (outcome.deleteMarker) headers['x-amz-delete-marker'] = 'true';
  if (outcome.versionId !== undefined) headers['x-amz-version-id'] = outcome.versionId;
  return emptyResponse(204, headers);
}

interface DeleteEntry {
  readonly key: string;
  readonly versionId: string | undefined;
  readonly etag: string | undefined;
}

function parseDeleteRequest(body: Uint8Array): { entries: DeleteEntry[]; quiet: boolean } {
  const xml = Buffer.from(body).toString('utf8');
  if (xmlElements(xml, 'Delete').length !== 1) throw malformedXml();
  const entries = xmlElements(xml, 'Object').map((object) => {
    const key = xmlFirstText(object, 'Key');
    if (key === undefined) throw malformedXml();
    return { key, versionId: xmlFirstText(object, 'VersionId'), etag: xmlFirstText(object, 'ETag') };
  });
  if (entries.length === 0 || entries.length > MAX_OBJECTS_PER_DELETE) throw malformedXml();
  return { entries, quiet: xmlFirstText(xml, 'Quiet') === 'true' };
}

/** DeleteObjects (`POST /bucket?delete`): per-object results; checksum headers are ignored. */
export function deleteObjects(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const { entries, quiet } = parseDeleteRequest(call.body);
  const results = entries.map((entry) => {
    try {
      const outcome = deleteOne(ctx, bucket, entry.key, entry.versionId, entry.etag);
      if (quiet) return '';
      return xmlNode('Deleted', [
        xmlText('Key', entry.key),
        xmlText('VersionId', entry.versionId),
        outcome.deleteMarker ? xmlText('DeleteMarker', true) : '',
        outcome.deleteMarker ? xmlText('DeleteMarkerVersionId', outcome.versionId) : '',
      ]);
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      return xmlNode('Error', [
        xmlText('Key', entry.key),
        xmlText('VersionId', entry.versionId),
        xmlText('Code', error.code),
        xmlText('Message', error.message),
      ]);
    }
  });
  return xmlResponse(xmlDocument('DeleteResult', results));
}
