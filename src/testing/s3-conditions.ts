/**
 * Preconditions as AWS evaluates them: `If-None-Match: *` and `If-Match` on PUT, `If-Match` on
 * DELETE, and the four RFC 7232 headers on GET/HEAD. Each check runs in the same synchronous step
 * as the write it guards.
 */
import type { BucketState, ObjectVersion } from './bucket-state';
import { noSuchKey, notImplemented, preconditionFailed } from './s3-errors';
import { header, type S3Call } from './s3-request';
import type { StoreContext } from './store-context';
import { floorToSecond, parseHttpDate } from './store-clock';

function bareEtag(tag: string): string {
  const trimmed = tag.trim().replace(/^W\//, '');
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/**
 * Whether an `If-Match` / `If-None-Match` value matches `etag`: `*`, or any entry of a comma-separated
 * list, compared without quotes (AWS accepts quoted and unquoted ETags alike).
 */
export function etagMatches(headerValue: string, etag: string): boolean {
  return headerValue.split(',').some((candidate) => candidate.trim() === '*' || bareEtag(candidate) === bareEtag(etag));
}

/** Checks PutObject's `If-None-Match` / `If-Match` against the current version; throws 412 / 404 / 501. */
export function checkPutPreconditions(ctx: StoreContext, bucket: BucketState, key: string, call: S3Call): void {
  const { behaviour } = ctx;
  const ifNoneMatch = header(call, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw notImplemented('If-None-Match');
    const ignored =
      behaviour.ignoreIfNoneMatch || (behaviour.ignoreIfNoneMatchWhenVersioned && bucket.versioning !== 'Unversioned');
    if (!ignored && bucket.live(key) !== undefined) throw preconditionFailed('If-None-Match');
  }
  const ifMatch = header(call, 'if-match');
  if (ifMatch !== undefined && !behaviour.ignoreIfMatch) {
    if (behaviour.rejectQuotedIfMatch && ifMatch.includes('"')) throw preconditionFailed('If-Match');
    const current = bucket.live(key);
    if (current === undefined) throw noSuchKey(key);
    if (!etagMatches(ifMatch, current.etag)) throw preconditionFailed('If-Match');
  }
}

/** Checks a delete's `If-Match` against `target` (the current version, or the addressed one). */
export function checkDeletePrecondition(
  ctx: StoreContext,
  key: string,
  target: ObjectVersion | undefined,
  ifMatch: string | undefined,
): void {
  if (ifMatch === undefined || ctx.behaviour.ignoreConditionalDelete) return;
  if (target === undefined || target.isDeleteMarker) throw noSuchKey(key);
  if (!etagMatches(ifMatch, target.etag)) throw preconditionFailed('If-Match');
}

/**
 * GET/HEAD preconditions (RFC 7232 as S3 applies them): `If-Match` false -> 412; else
 * `If-Unmodified-Since` false -> 412 (ignored when `If-Match` is present); `If-None-Match` matching
 * -> 304; else `If-Modified-Since` not modified -> 304 (ignored when `If-None-Match` is present).
 */
export function readPreconditionOutcome(version: ObjectVersion, call: S3Call): 'proceed' | 'not-modified' {
  const lastModified = floorToSecond(version.lastModifiedMs);
  const ifMatch = header(call, 'if-match');
  const ifUnmodifiedSince = parseHttpDate(header(call, 'if-unmodified-since'));
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, version.etag)) throw preconditionFailed('If-Match');
  } else if (ifUnmodifiedSince !== undefined && lastModified > ifUnmodifiedSince) {
    throw preconditionFailed('If-Unmodified-Since');
  }
  const ifNoneMatch = header(call, 'if-none-match');
  const ifModifiedSince = parseHttpDate(header(call, 'if-modified-since'));
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, version.etag) ? 'not-modified' : 'proceed';
  return ifModifiedSince !== undefined && lastModified <= ifModifiedSince ? 'not-modified' : 'proceed';
}
