/** ListObjectsV2 (`list-type=2`) and ListObjects (v1): the current, non-deleted objects of a bucket. */
import type { BucketState, ObjectVersion } from './bucket-state';
import { walkKeys, rollUp, type WalkResult } from './key-walk';
import { delimiterOf, keyEncoderOf, maxKeysOf } from './list-parameters';
import { invalidArgument } from './s3-errors';
import { queryParam, type S3Call, type S3HttpResponse } from './s3-request';
import { xmlResponse } from './s3-response';
import { ownerXml, xmlDocument, xmlNode, xmlText } from './s3-xml';
import { isoDate } from './store-clock';
import { requireBucket, type StoreContext } from './store-context';

interface ResumePoint {
  /** The last key or common prefix returned. */
  readonly after: string;
  /** Whether `after` was a common prefix (its keys are skipped). */
  readonly wasPrefix: boolean;
}

function encodeToken(point: ResumePoint): string {
  return Buffer.from(JSON.stringify({ a: point.after, p: point.wasPrefix ? 1 : 0 }), 'utf8').toString('base64url');
}

function decodeToken(token: string): ResumePoint {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'a' in parsed && typeof parsed.a === 'string') {
      return { after: parsed.a, wasPrefix: 'p' in parsed && parsed.p === 1 };
    }
  } catch {
    // fall through to the S3 error
  }
  throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
}

function walkLiveObjects(
  bucket: BucketState,
  call: S3Call,
  resume: ResumePoint | undefined,
): { prefix: string; delimiter: string | undefined; maxKeys: number; page: WalkResult<ObjectVersion> } {
  const prefix = queryParam(call, 'prefix') ?? '';
  const delimiter = delimiterOf(call);
  const maxKeys = maxKeysOf(call);
  const page = walkKeys<ObjectVersion>({
    keys: bucket.keys(),
    prefix,
    delimiter,
    maxKeys,
    ...(resume === undefined ? {} : { start: { key: resume.after, inclusive: false } }),
    ...(resume?.wasPrefix === true ? { skipPrefix: resume.after } : {}),
    itemsOf: (key) => {
      const live = bucket.live(key);
      return live === undefined ? [] : [live];
    },
  });
  return { prefix, delimiter, maxKeys, page };
}

function lastResumePoint(page: WalkResult<ObjectVersion>): ResumePoint | undefined {
  const last = page.entries[page.entries.length - 1];
  if (last === undefined) return undefined;
  return 'commonPrefix' in last ? { after: last.commonPrefix, wasPrefix: true } : { after: last.key, wasPrefix: false };
}

function pageXml(page: WalkResult<ObjectVersion>, encode: (text: string) => string, withOwner: boolean): string[] {
  return page.entries.map((entry) => {
    if ('commonPrefix' in entry) return xmlNode('CommonPrefixes', [xmlText('Prefix', encode(entry.commonPrefix))]);
    const { item } = entry;
    return xmlNode('Contents', [
      xmlText('Key', encode(item.key)),
      xmlText('LastModified', isoDate(item.lastModifiedMs)),
      xmlText('ETag', item.etag),
      xmlText('Size', item.body.length),
      withOwner ? ownerXml() : '',
      xmlText('StorageClass', 'STANDARD'),
    ]);
  });
}

/** ListObjectsV2: `prefix`, `delimiter`, `max-keys`, `start-after`, `continuation-token`, `fetch-owner`, `encoding-type`. */
export function listObjectsV2(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const token = queryParam(call, 'continuation-token');
  const startAfter = queryParam(call, 'start-after');
  const resume =
    token !== undefined ? decodeToken(token) : startAfter ? { after: startAfter, wasPrefix: false } : undefined;
  const { prefix, delimiter, maxKeys, page } = walkLiveObjects(bucket, call, resume);
  const { encodingType, encode } = keyEncoderOf(call);
  const next = page.truncated ? lastResumePoint(page) : undefined;
  return xmlResponse(
    xmlDocument('ListBucketResult', [
      xmlText('Name', bucket.name),
      xmlText('Prefix', encode(prefix)),
      xmlText('Delimiter', delimiter === undefined ? undefined : encode(delimiter)),
      xmlText('MaxKeys', maxKeys),
      xmlText('KeyCount', page.entries.length),
      xmlText('IsTruncated', page.truncated),
      xmlText('ContinuationToken', token),
      xmlText('NextContinuationToken', next === undefined ? undefined : encodeToken(next)),
      xmlText('StartAfter', startAfter === undefined ? undefined : encode(startAfter)),
      xmlText('EncodingType', encodingType),
      ...pageXml(page, encode, queryParam(call, 'fetch-owner') === 'true'),
    ]),
  );
}

/** ListObjects (v1): `prefix`, `delimiter`, `max-keys`, `marker`; `NextMarker` only with a delimiter, as S3 does. */
export function listObjectsV1(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const marker = queryParam(call, 'marker') ?? '';
  const prefix = queryParam(call, 'prefix') ?? '';
  const delimiter = delimiterOf(call);
  const resume = marker === '' ? undefined : { after: marker, wasPrefix: rollUp(marker, prefix, delimiter) === marker };
  const { maxKeys, page } = walkLiveObjects(bucket, call, resume);
  const { encodingType, encode } = keyEncoderOf(call);
  const next = page.truncated && delimiter !== undefined ? lastResumePoint(page) : undefined;
  return xmlResponse(
    xmlDocument('ListBucketResult', [
      xmlText('Name', bucket.name),
      xmlText('Prefix', encode(prefix)),
      xmlText('Marker', encode(marker)),
      xmlText('MaxKeys', maxKeys),
      xmlText('Delimiter', delimiter === undefined ? undefined : encode(delimiter)),
      xmlText('IsTruncated', page.truncated),
      xmlText('NextMarker', next === undefined ? undefined : encode(next.after)),
      xmlText('EncodingType', encodingType),
      ...pageXml(page, encode, true),
    ]),
  );
}
