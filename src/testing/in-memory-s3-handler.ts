/**
 * A smithy HTTP handler that sends AWS SDK v3 requests to an {@link InMemoryS3} without network:
 * `new S3Client({ requestHandler: new InMemoryS3RequestHandler(store), forcePathStyle: true, ... })`,
 * or simply {@link createInMemoryS3Client}.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler, RequestHandlerMetadata } from '@smithy/types';
import { Readable } from 'node:stream';
import { collectBody } from './body-collector';
import type { InMemoryS3 } from './in-memory-s3';

/** Configuration of {@link InMemoryS3RequestHandler}. */
export interface InMemoryS3RequestHandlerConfig {
  /**
   * Milliseconds after which a request that got no response fails with a `TimeoutError` (which the
   * SDK retries); the request may still be applied later, as over a real network. Default: none.
   * A per-call `requestTimeout` handler option wins.
   */
  requestTimeout?: number;
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`Request timed out after ${ms} ms (in-memory S3)`), { name: 'TimeoutError' });
}

function abortError(): Error {
  return Object.assign(new Error('Request aborted'), { name: 'AbortError' });
}

function queryOf(request: HttpRequest): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.query ?? {})) query[name] = value ?? '';
  return query;
}

export class InMemoryS3RequestHandler implements RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> {
  readonly metadata: RequestHandlerMetadata = { handlerProtocol: 'http/1.1' };
  private config: InMemoryS3RequestHandlerConfig;

  constructor(
    /** The store every request goes to. */
    readonly store: InMemoryS3,
    config: InMemoryS3RequestHandlerConfig = {},
  ) {
    this.config = { ...config };
  }

  /** Sends one request to the store; rejects like a network error for connection-reset faults. */
  async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<{ response: HttpResponse }> {
    const signal = options.abortSignal;
    if (signal?.aborted === true) throw abortError();
    const body = await collectBody(request.body);
    const pending = this.store.handle({
      method: request.method,
      path: request.path,
      query: queryOf(request),
      headers: { ...request.headers },
      body,
    });
    const result = await this.raceTimeoutAndAbort(pending, options);
    const response: HttpResponse = {
      statusCode: result.statusCode,
      headers: result.headers,
      body: Readable.from([Buffer.from(result.body)], { objectMode: false }),
    };
    return { response };
  }

  /** Part of smithy's `HttpHandler` contract: updates a config field. */
  updateHttpClientConfig<K extends keyof InMemoryS3RequestHandlerConfig>(
    key: K,
    value: InMemoryS3RequestHandlerConfig[K],
  ): void {
    this.config = { ...this.config, [key]: value };
  }

  /** Part of smithy's `HttpHandler` contract: the current config. */
  httpHandlerConfigs(): InMemoryS3RequestHandlerConfig {
    return { ...this.config };
  }

  destroy(): void {
    // nothing to release
  }

  private raceTimeoutAndAbort<T>(pending: Promise<T>, options: HttpHandlerOptions): Promise<T> {
    const timeoutMs = options.requestTimeout ?? this.config.requestTimeout;
    const signal = options.abortSignal;
    if ((timeoutMs === undefined || timeoutMs <= 0) && signal === undefined) return pending;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish(() => reject(abortError()));
      const finish = (settle: () => void): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (signal !== undefined && 'removeEventListener' in signal) signal.removeEventListener('abort', onAbort);
        settle();
      };
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => finish(() => reject(timeoutError(timeoutMs))), timeoutMs);
      }
      if (signal !== undefined && 'addEventListener' in signal) signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
      );
    });
  }
}

/**
 * An `S3Client` wired to `store` through {@link InMemoryS3RequestHandler}. Defaults: region
 * `us-east-1`, dummy credentials, `forcePathStyle: true`, endpoint `http://memory.s3.local`,
 * `requestChecksumCalculation` and `responseChecksumValidation` `WHEN_REQUIRED`; `config` overrides them.
 */
export function createInMemoryS3Client(store: InMemoryS3, config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'in-memory', secretAccessKey: 'in-memory' },
    forcePathStyle: true,
    endpoint: 'http://memory.s3.local',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new InMemoryS3RequestHandler(store),
    ...config,
  });
}
