/** Bucket-level operations: create, head, delete, list, location and versioning configuration. */
import { BucketState } from './bucket-state';
import { malformedXml, S3Error } from './s3-errors';
import { queryParam, type S3Call, type S3HttpResponse } from './s3-request';
import { emptyResponse, xmlResponse } from './s3-response';
import { ownerXml, xmlDocument, xmlFirstText, xmlNode, xmlText } from './s3-xml';
import { isoDate } from './store-clock';
import { requireBucket, type StoreContext } from './store-context';
import { compareUtf8 } from './utf8-order';

/** The region every in-memory bucket reports. */
export const STORE_REGION = 'us-east-1';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether `name` follows the S3 bucket naming rules (3-63 chars, lower case, digits, `.`, `-`, not an IP). */
export function isValidBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/** CreateBucket; 409 BucketAlreadyOwnedByYou when it exists (S3 outside us-east-1's legacy 200). */
export function createBucket(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const name = call.bucket ?? '';
  if (!isValidBucketName(name)) {
    throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  }
  if (ctx.buckets.has(name)) {
    throw new S3Error(
      409,
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: name },
    );
  }
  ctx.buckets.set(name, new BucketState(name, ctx.now()));
  return emptyResponse(200, { location: `/${name}` });
}

export function headBucket(ctx: StoreContext, call: S3Call): S3HttpResponse {
  requireBucket(ctx, call.bucket);
  return emptyResponse(200, { 'x-amz-bucket-region': STORE_REGION });
}

/** DeleteBucket; 409 BucketNotEmpty while any version or delete marker remains. */
export function deleteBucket(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  if (!bucket.isEmpty()) {
    throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: bucket.name });
  }
  ctx.buckets.delete(bucket.name);
  return emptyResponse(204);
}

/** ListBuckets, all buckets by name (`prefix` honoured, no paging). */
export function listBuckets(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const prefix = queryParam(call, 'prefix') ?? '';
  const buckets = [...ctx.buckets.values()]
    .filter((bucket) => bucket.name.startsWith(prefix))
    .sort((a, b) => compareUtf8(a.name, b.name))
    .map((bucket) =>
      xmlNode('Bucket', [
        xmlText('Name', bucket.name),
        xmlText('CreationDate', isoDate(bucket.creationMs)),
        xmlText('BucketRegion', STORE_REGION),
      ]),
    );
  return xmlResponse(
    xmlDocument('ListAllMyBucketsResult', [ownerXml(), xmlNode('Buckets', buckets), xmlText('Prefix', prefix || undefined)]),
  );
}

export function getBucketLocation(ctx: StoreContext, call: S3Call): S3HttpResponse {
  requireBucket(ctx, call.bucket);
  return xmlResponse(xmlDocument('LocationConstraint', []));
}

/** PutBucketVersioning: `Enabled` or `Suspended`; a bucket never returns to unversioned. */
export function putBucketVersioning(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const xml = Buffer.from(call.body).toString('utf8');
  if (!xml.includes('VersioningConfiguration')) throw malformedXml();
  const status = xmlFirstText(xml, 'Status');
  if (status !== undefined) {
    if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
    bucket.versioning = status;
  }
  return emptyResponse(200);
}

/** GetBucketVersioning: `<Status>` only once versioning was configured. */
export function getBucketVersioning(ctx: StoreContext, call: S3Call): S3HttpResponse {
  const bucket = requireBucket(ctx, call.bucket);
  const status = bucket.versioning === 'Unversioned' ? [] : [xmlText('Status', bucket.versioning)];
  return xmlResponse(xmlDocument('VersioningConfiguration', status));
}
