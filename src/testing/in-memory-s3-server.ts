/**
 * A loopback HTTP server in front of an {@link InMemoryS3}, for clients in other processes (or to
 * test the real network path of the SDK). Connection-reset faults destroy the socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatedConnectionReset } from './connection-reset';
import { InMemoryS3 } from './in-memory-s3';
import type { S3HttpRequest } from './s3-request';

export interface InMemoryS3ServerOptions {
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** The store to serve; default a new `InMemoryS3()`. */
  store?: InMemoryS3;
}

export interface InMemoryS3Server {
  /** `http://host:port`, for `S3Client({ endpoint, forcePathStyle: true })`. */
  readonly endpoint: string;
  readonly port: number;
  readonly store: InMemoryS3;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function queryOf(search: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of search) {
    const existing = query[name];
    query[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return query;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Turns a node request into the store's request; the path stays URL-encoded. */
export async function toS3HttpRequest(request: IncomingMessage): Promise<S3HttpRequest> {
  const url = request.url ?? '/';
  const pathAndQuery = url.startsWith('/') ? url : url.replace(/^[a-z]+:\/\/[^/]*/i, '') || '/';
  const mark = pathAndQuery.indexOf('?');
  const path = mark < 0 ? pathAndQuery : pathAndQuery.slice(0, mark);
  const search = new URLSearchParams(mark < 0 ? '' : pathAndQuery.slice(mark + 1));
  return {
    method: request.method ?? 'GET',
    path,
    query: queryOf(search),
    headers: headersOf(request),
    body: await readBody(request),
  };
}

async function serve(store: InMemoryS3, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    const result = await store.handle(await toS3HttpRequest(request));
    response.sendDate = false;
    response.writeHead(result.statusCode, result.headers);
    response.end(Buffer.from(result.body));
  } catch (error) {
    if (error instanceof SimulatedConnectionReset) {
      request.socket.destroy();
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    response.writeHead(500, { 'content-type': 'text/plain' });
    response.end(`in-memory S3 server error: ${message}`);
  }
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Starts an HTTP server for `options.store` (or a new store) on `host:port` (default `127.0.0.1:0`). */
export async function startInMemoryS3Server(options: InMemoryS3ServerOptions = {}): Promise<InMemoryS3Server> {
  const store = options.store ?? new InMemoryS3();
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    void serve(store, request, response);
  });
  server.keepAliveTimeout = 5_000;
  const address = await listen(server, options.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${urlHost}:${address.port}`,
    port: address.port,
    store,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
