/**
 * Small fixtures for the NestJS e2e tests: a Nest application wired to the store under test,
 * listening on a loopback port (routes are called with Node's fetch).
 */
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { S3LockModule, type S3LockModuleOptions } from '../../../src';

/** Short TTL: the whole nest suite stays quick on every store. */
export const TEST_TTL_MS = 3_000;

export interface LockApp {
  readonly app: INestApplication;
  /** `http://127.0.0.1:<port>` when started with `listen`, else ''. */
  readonly url: string;
  get<T>(token: abstract new (...args: never[]) => T): T;
  close(): Promise<void>;
}

export interface LockAppOptions extends Pick<ModuleMetadata, 'imports' | 'controllers' | 'providers'> {
  /** S3LockModule.forRoot options; omit to configure the module yourself through `imports`. */
  readonly lock?: S3LockModuleOptions;
  readonly listen?: boolean;
}

export async function startLockApp(options: LockAppOptions): Promise<LockApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [...(options.lock ? [S3LockModule.forRoot({ logger: false, ...options.lock })] : []), ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  let url = '';
  if (options.listen) {
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as AddressInfo;
    url = `http://127.0.0.1:${address.port}`;
  } else {
    await app.init();
  }
  let closed: Promise<void> | undefined;
  return {
    app,
    url,
    get: <T>(token: abstract new (...args: never[]) => T): T => app.get(token as never) as T,
    close: () => (closed ??= app.close()),
  };
}

export interface FetchResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** GET `url` and parse a JSON body (text when not JSON). */
export async function getJson(url: string): Promise<FetchResult> {
  const response = await fetch(url);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, headers: response.headers };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 25 ms until it is true; throws after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
