/**
 * ListObjectVersions (`GET /bucket?versions`): keys ascending, each key's versions and delete
 * markers newest first, paged with `key-marker` / `version-id-marker`.
 */
import type { BucketState, ObjectVersion } from './bucket-state';
import { rollUp, walkKeys, type KeyWalk } from './key-walk';
import { delimiterOf, keyEncoderOf, maxKeysOf } from './list-parameters';
import { invalidArgument } from './s3-errors';
import { queryParam, type S3Call, type S3HttpResponse } from './s3-request';
import { xmlResponse } from './s3-response';
import { ownerXml, xmlDocument, xmlNode, xmlText } from './s3-xml';
import { isoDate } from './store-clock';
import { requireBucket, type StoreContext } from './store-context';

/** Where the page starts: after `key-marker`, or after one of its versions when `version-id-marker` is set. */
function startOf(
  bucket: BucketState,
  prefix: string,
  delimiter: string | undefined,
  keyMarker: string,
  versionIdMarker: string,
): Pick<KeyWalk<ObjectVersion>, 'start' | 'skipPrefix' | 'itemsOf'> {
  const all = (key: string): readonly ObjectVersion[] => bucket.versionsOf(key);
  if (keyMarker === '') {
    if (versionIdMarker !== '') {
      throw invalidArgument('A version-id marker cannot be specified without a key marker.', 'version-id-marker', versionIdMarker);
    }
    return { itemsOf: all };
  }
  if (versionIdMarker === '') {
    const skip = rollUp(keyMarker, prefix, delimiter) === keyMarker ? { skipPrefix: keyMarker } : {};
    return { start: { key: keyMarker, inclusive: false }, ...skip, itemsOf: all };
  }
  return {
    start: { key: keyMarker, inclusive: true },
    itemsOf: (key) => {
      const versions = bucket.versionsOf(key);
      if (key !== keyMarker) return versions;
      const at = versions.findIndex((v) => v.versionId === versionIdMarker);
      return at < 0 ? [] : versions.slice(at + 1);
    },
  };
}

function versionXml(version: ObjectVersion, isLatest: boolean, encode: (text: string) => string): string {
  if (version.isDeleteMarker) {
    return xmlNode('DeleteMarker', [
      xmlText('Key', encode(version.key)),
      xmlText('VersionId', version.versionId),
      xmlText('IsLatest', isLatest),
      xmlText('LastModified', isoDate(version.lastModifiedMs)),
      ownerXml(),
    ]);
  }
  return xmlNode('Version', [
    xmlText('Key', encode(version.key)),
    xmlText('VersionId', version.versionId),
    xmlText('IsLatest', isLatest),
    xmlText('LastModified', isoDate(version.lastModifiedMs)),
    xmlText('ETag', version.etag),
    xmlText('Size', version.body.length),
    ownerXml(),
    xmlText('StorageClass', 'STANDARD'),
  ]);
}

/** ListObjectVersions: `prefix`, `delimiter`, `max-keys`, `key-marker`, `version-id-marker`, `encoding-type`. */
export function listObjectVersions(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const prefix = queryParam(call, 'prefix') ?? '';
  const delimiter = delimiterOf(call);
  const maxKeys = maxKeysOf(call);
  const keyMarker = queryParam(call, 'key-marker') ?? '';
  const versionIdMarker = queryParam(call, 'version-id-marker') ?? '';
  const { encodingType, encode } = keyEncoderOf(call);
  const page = walkKeys<ObjectVersion>({
    keys: bucket.keys(),
    prefix,
    delimiter,
    maxKeys,
    ...startOf(bucket, prefix, delimiter, keyMarker, versionIdMarker),
  });
  const last = page.truncated ? page.entries[page.entries.length - 1] : undefined;
  const entries = page.entries.map((entry) =>
    'commonPrefix' in entry
      ? xmlNode('CommonPrefixes', [xmlText('Prefix', encode(entry.commonPrefix))])
      : versionXml(entry.item, bucket.latest(entry.key) === entry.item, encode),
  );
  return xmlResponse(
    xmlDocument('ListVersionsResult', [
      xmlText('Name', bucket.name),
      xmlText('Prefix', encode(prefix)),
      xmlText('KeyMarker', encode(keyMarker)),
      xmlText('VersionIdMarker', versionIdMarker),
      xmlText('NextKeyMarker', last === undefined ? undefined : encode('commonPrefix' in last ? last.commonPrefix : last.key)),
      xmlText('NextVersionIdMarker', last === undefined || 'commonPrefix' in last ? undefined : last.item.versionId),
      xmlText('MaxKeys', maxKeys),
      xmlText('Delimiter', delimiter === undefined ? undefined : encode(delimiter)),
      xmlText('IsTruncated', page.truncated),
      xmlText('EncodingType', encodingType),
      ...entries,
    ]),
  );
}
