/** Building {@link S3HttpResponse}s: XML documents, empty answers and rendered errors. */
import type { S3Error } from './s3-errors';
import type { S3HttpResponse } from './s3-request';
import { xmlDocument, xmlText } from './s3-xml';

const EMPTY = new Uint8Array(0);

/** A 200 (or `status`) response with an XML document body. */
export function xmlResponse(xml: string, status = 200, headers: Record<string, string> = {}): S3HttpResponse {
  const body = Buffer.from(xml, 'utf8');
  return {
    statusCode: status,
    headers: { 'content-type': 'application/xml', 'content-length': String(body.length), ...headers },
    body,
  };
}

/** A response without body (`content-length: 0` unless `headers` says otherwise). */
export function emptyResponse(status: number, headers: Record<string, string> = {}): S3HttpResponse {
  return { statusCode: status, headers: { 'content-length': '0', ...headers }, body: EMPTY };
}

/** Renders an S3 error; HEAD requests get the status and headers only, as from AWS. */
export function errorResponse(error: S3Error, method: string, requestId: string, hostId: string): S3HttpResponse {
  if (method === 'HEAD') return emptyResponse(error.status, { ...error.headers });
  const details = Object.entries(error.details).map(([name, value]) => xmlText(name, value));
  const children = [
    xmlText('Code', error.code),
    xmlText('Message', error.message),
    ...details,
    xmlText('RequestId', requestId),
    xmlText('HostId', hostId),
  ];
  // AWS's <Error> document carries no namespace.
  return xmlResponse(xmlDocument('Error', children, null), error.status, { ...error.headers });
}
