/**
 * The HTTP-level request and response of the in-memory store, and the parsing of a path-style
 * request (`/bucket/key...`) into an {@link S3Call}: which operation, on which bucket and key.
 */
import { S3Error } from './s3-errors';

/** A path-style S3 request as the store receives it. `path` is URL-encoded, without query string. */
export interface S3HttpRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The store's answer. Header names are lower-case. */
export interface S3HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The operations the store implements; anything else is answered with 501 NotImplemented. */
export type S3Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'GetBucketLocation'
  | 'PutBucketVersioning'
  | 'GetBucketVersioning'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListObjectVersions'
  | 'DeleteObjects'
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObject'
  | 'Unsupported';

/** A parsed request: names are lower-case, the key is decoded, the body is decoded from aws-chunked. */
export interface S3Call {
  readonly operation: S3Operation;
  readonly method: string;
  /** `undefined` for service-level requests (`GET /`). */
  readonly bucket: string | undefined;
  /** `undefined` for bucket-level requests. */
  readonly key: string | undefined;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** First value of a query parameter. */
export function queryParam(call: S3Call, name: string): string | undefined {
  const value = call.query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Value of a (lower-case) header. */
export function header(call: S3Call, name: string): string | undefined {
  return call.headers[name];
}

const CONDITION_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

/** True when the request carries a precondition (header, or per-object ETag in a DeleteObjects body). */
export function isConditional(call: S3Call): boolean {
  if (CONDITION_HEADERS.some((name) => call.headers[name] !== undefined)) return true;
  return call.operation === 'DeleteObjects' && /<ETag>/i.test(Buffer.from(call.body).toString('utf8'));
}

/** Query parameters a bucket-level GET may carry without naming an unsupported sub-resource. */
const BUCKET_GET_PARAMS = new Set([
  'list-type', 'prefix', 'delimiter', 'max-keys', 'start-after', 'continuation-token', 'fetch-owner',
  'encoding-type', 'marker', 'key-marker', 'version-id-marker', 'versions', 'versioning', 'location',
  'x-id', 'optional-object-attributes',
]);

/** Object sub-resources the store does not implement (multipart, tagging, ACLs, ...). */
const UNSUPPORTED_OBJECT_PARAMS = [
  'uploads', 'uploadId', 'partNumber', 'tagging', 'acl', 'attributes', 'retention', 'legal-hold',
  'torrent', 'restore', 'select', 'renameObject',
];

/** Parses a path-style request. Throws {@link S3Error} 400 InvalidURI on bad percent-encoding. */
export function parseS3Request(request: S3HttpRequest): S3Call {
  const method = request.method.toUpperCase();
  const headers = lowerCaseHeaders(request.headers);
  const { bucket, key } = splitPath(request.path);
  const call = { method, bucket, key, query: request.query, headers, body: decodeBody(request.body, headers) };
  return { ...call, operation: detectOperation(call) };
}

function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function splitPath(path: string): { bucket: string | undefined; key: string | undefined } {
  const raw = path.startsWith('/') ? path.slice(1) : path;
  const slash = raw.indexOf('/');
  const bucketPart = slash < 0 ? raw : raw.slice(0, slash);
  const keyPart = slash < 0 ? '' : raw.slice(slash + 1);
  try {
    return {
      bucket: bucketPart === '' ? undefined : decodeURIComponent(bucketPart),
      key: keyPart === '' ? undefined : decodeURIComponent(keyPart),
    };
  } catch {
    throw new S3Error(400, 'InvalidURI', `Couldn't parse the specified URI.`, { URI: path });
  }
}

type CallWithoutOperation = Omit<S3Call, 'operation'>;

function detectOperation(call: CallWithoutOperation): S3Operation {
  const has = (name: string): boolean => call.query[name] !== undefined;
  const { method } = call;
  if (call.bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (call.key === undefined) return detectBucketOperation(method, has, Object.keys(call.query));
  if (UNSUPPORTED_OBJECT_PARAMS.some(has) || call.headers['x-amz-copy-source'] !== undefined) return 'Unsupported';
  switch (method) {
    case 'PUT':
      return 'PutObject';
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return 'DeleteObject';
    default:
      return 'Unsupported';
  }
}

function detectBucketOperation(method: string, has: (name: string) => boolean, params: string[]): S3Operation {
  switch (method) {
    case 'PUT':
      if (has('versioning')) return 'PutBucketVersioning';
      return params.every((p) => p === 'x-id') ? 'CreateBucket' : 'Unsupported';
    case 'HEAD':
      return 'HeadBucket';
    case 'DELETE':
      return params.every((p) => p === 'x-id') ? 'DeleteBucket' : 'Unsupported';
    case 'POST':
      return has('delete') ? 'DeleteObjects' : 'Unsupported';
    case 'GET':
      if (!params.every((p) => BUCKET_GET_PARAMS.has(p))) return 'Unsupported';
      if (has('versioning')) return 'GetBucketVersioning';
      if (has('location')) return 'GetBucketLocation';
      if (has('versions')) return 'ListObjectVersions';
      return has('list-type') ? 'ListObjectsV2' : 'ListObjects';
    default:
      return 'Unsupported';
  }
}

/**
 * Undoes `aws-chunked` content encoding (`<hex size>[;chunk-signature=..]\r\n<data>\r\n ... 0\r\n<trailers>`),
 * which SDKs use for streaming bodies with trailing checksums. Other bodies are returned as they are.
 */
function decodeBody(body: Uint8Array, headers: Record<string, string>): Uint8Array {
  const chunked =
    (headers['content-encoding'] ?? '').includes('aws-chunked') ||
    (headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
  if (!chunked) return body;
  const input = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = input.indexOf('\r\n', offset);
    if (lineEnd < 0) throw new S3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly');
    const size = parseInt(input.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (Number.isNaN(size)) throw new S3Error(400, 'InvalidChunkSizeError', 'Invalid chunk size');
    if (size === 0) break;
    parts.push(input.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
