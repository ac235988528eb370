/** Collects any request body an SDK may hand over (bytes, string, Node or web stream) into bytes. */
import { Readable } from 'node:stream';

/** The bytes of `body`: Uint8Array / Buffer, ArrayBuffer(View), string (UTF-8), Node Readable, web ReadableStream, or none. */
export async function collectBody(body: unknown): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable || isAsyncIterable(body)) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<unknown>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array));
    }
    return Buffer.concat(chunks);
  }
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) {
    return collectBody(Readable.fromWeb(body as import('node:stream/web').ReadableStream));
  }
  throw new TypeError(`Unsupported request body type: ${Object.prototype.toString.call(body)}`);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
