/** PutObject, GetObject and HeadObject against the versioned key space of a bucket. */
import { createHash } from 'node:crypto';
import { NULL_VERSION_ID, type BucketState, type ObjectVersion } from './bucket-state';
import { checkPutPreconditions, readPreconditionOutcome } from './s3-conditions';
import { methodNotAllowed, noSuchKey, noSuchVersion, S3Error } from './s3-errors';
import { header, queryParam, type S3Call, type S3HttpResponse } from './s3-request';
import { emptyResponse } from './s3-response';
import { httpDate } from './store-clock';
import { requireBucket, type StoreContext } from './store-context';

const META_PREFIX = 'x-amz-meta-';
const MAX_KEY_BYTES = 1024;

/** `x-amz-version-id` as S3 sends it: only for buckets whose versioning was ever configured. */
export function versionIdHeader(bucket: BucketState, versionId: string): Record<string, string> {
  return bucket.versioning === 'Unversioned' ? {} : { 'x-amz-version-id': versionId };
}

function requireKey(call: S3Call): string {
  const key = call.key ?? '';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
  return key;
}

function userMetadata(call: S3Call): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(call.headers)) {
    if (name.startsWith(META_PREFIX)) metadata[name.slice(META_PREFIX.length)] = value;
  }
  return metadata;
}

/** PutObject: checks preconditions and stores a new version in the same synchronous step. */
export function putObject(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const key = requireKey(call);
  checkPutPreconditions(ctx, bucket, key, call);
  const body = new Uint8Array(call.body);
  const version: ObjectVersion = {
    key,
    versionId: bucket.versioning === 'Enabled' ? ctx.newVersionId() : NULL_VERSION_ID,
    isDeleteMarker: false,
    body,
    etag: `"${createHash('md5').update(body).digest('hex')}"`,
    lastModifiedMs: ctx.now(),
    contentType: header(call, 'content-type') ?? 'binary/octet-stream',
    metadata: userMetadata(call),
    sequence: ctx.nextSequence(),
  };
  bucket.add(version);
  return emptyResponse(200, { etag: version.etag, ...versionIdHeader(bucket, version.versionId) });
}

/** The version a GET/HEAD addresses, or the S3 error for a missing key, version or delete marker. */
function addressedVersion(bucket: BucketState, key: string, versionId: string | undefined, method: string): ObjectVersion {
  if (versionId !== undefined) {
    const version = bucket.find(key, versionId);
    if (version === undefined) throw noSuchVersion(key, versionId);
    if (version.isDeleteMarker) {
      throw methodNotAllowed(method, {
        'x-amz-delete-marker': 'true',
        'x-amz-version-id': version.versionId,
        'last-modified': httpDate(version.lastModifiedMs),
      });
    }
    return version;
  }
  const latest = bucket.latest(key);
  if (latest === undefined) throw noSuchKey(key);
  if (latest.isDeleteMarker) {
    throw noSuchKey(key, { 'x-amz-delete-marker': 'true', ...versionIdHeader(bucket, latest.versionId) });
  }
  return latest;
}

function objectHeaders(bucket: BucketState, version: ObjectVersion): Record<string, string> {
  const headers: Record<string, string> = {
    etag: version.etag,
    'last-modified': httpDate(version.lastModifiedMs),
    ...versionIdHeader(bucket, version.versionId),
  };
  for (const [name, value] of Object.entries(version.metadata)) headers[META_PREFIX + name] = value;
  return headers;
}

/** GetObject / HeadObject (optionally `?versionId=`), with If-Match / If-None-Match / date conditions. */
export function getObject(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const key = requireKey(call);
  const version = addressedVersion(bucket, key, queryParam(call, 'versionId'), call.method);
  if (readPreconditionOutcome(version, call) === 'not-modified') {
    return emptyResponse(304, objectHeaders(bucket, version));
  }
  const headers = {
    ...objectHeaders(bucket, version),
    'content-type': version.contentType,
    'content-length': String(version.body.length),
    'accept-ranges': 'bytes',
  };
  const body = call.method === 'HEAD' ? new Uint8Array(0) : new Uint8Array(version.body);
  return { statusCode: 200, headers, body };
}
