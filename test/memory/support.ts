/**
 * Shared set-up of the in-memory fault-injection tests (test/memory/*.spec.ts).
 *
 * One {@link InMemoryS3} per test models the store; every {@link S3LockManager} built by
 * {@link MemoryWorld.manager} models one process with its own S3 client. Each client goes through a
 * {@link ClientTap}, which logs that client's requests (local monotonic send time) and can aim the
 * store's own fault injection at that one client only (store.faults rules hit every client).
 */
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { S3LockManager, type S3LockManagerInternals, type S3LockManagerOptions } from '../../src';
import { encodeLockName } from '../../src/core/lock-name';
import { MAX_EPOCH } from '../../src/core/epoch-key';
import { createInMemoryS3Client, InMemoryS3, InMemoryS3RequestHandler, type FaultRule, type S3HttpRequest, type S3HttpResponse } from '../../src/testing';

export const TTL_MS = 3000;
export const PREFIX = 'locks/';

/** One request as a client sent it. */
export interface TappedRequest {
  /** performance.now() when the client handed the request to the store. */
  readonly at: number;
  readonly method: string;
  /** Decoded key ('' for bucket-level requests). */
  readonly key: string;
  readonly query: Record<string, string | string[]>;
  readonly conditional: boolean;
  /** 'PutObject' | 'HeadObject' | 'ListObjectsV2' | ... (enough for counting). */
  readonly operation: string;
  /** Status of the response the store produced (0 when it threw, e.g. a connection reset). */
  status: number;
}

interface ClientRule {
  readonly rule: FaultRule;
  remaining: number;
  fired: number;
  /** Armed when this rule fires for the first time. */
  readonly then: FaultRule | undefined;
}

/**
 * A per-client view of the store: a request log and fault rules that hit only this client's
 * requests. A client rule is registered in the store (times: 1) synchronously just before the
 * store handles this client's request and removed right after: `InMemoryS3.handle` consumes its
 * fault before its first `await` when there is no latency, so no other client can take it.
 */
export class ClientTap {
  readonly requests: TappedRequest[] = [];
  private rules: ClientRule[] = [];

  constructor(
    readonly store: InMemoryS3,
    readonly bucket: string,
  ) {}

  /**
   * Like store.faults.inject, for this client only. Returns a handle with `fired` and `cancel()`.
   * `then` is armed (for this client) the moment this rule first fires, e.g. to fail exactly the
   * read-back that follows a faulted write.
   */
  inject(rule: FaultRule, then?: FaultRule): { readonly fired: number; cancel(): void } {
    const active: ClientRule = { rule, remaining: rule.times ?? 1, fired: 0, then };
    this.rules.push(active);
    return {
      get fired() {
        return active.fired;
      },
      cancel: () => {
        active.remaining = 0;
        this.rules = this.rules.filter((r) => r !== active);
      },
    };
  }

  clearFaults(): void {
    this.rules = [];
  }

  /** The store-side handler of this client. */
  handle(request: S3HttpRequest): Promise<S3HttpResponse> {
    const entry = describe(request, this.bucket);
    this.requests.push(entry);
    const armed = this.rules.filter((r) => r.remaining > 0).map((r) => ({ r, handle: this.store.faults.inject({ match: r.rule.match, times: 1, fault: r.rule.fault }) }));
    const pending = this.store.handle(request);
    for (const { r, handle } of armed) {
      if (handle.fired > 0) {
        r.fired++;
        r.remaining--;
        if (r.fired === 1 && r.then) this.inject(r.then);
      }
      handle.cancel();
    }
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return pending.then(
      (response) => {
        entry.status = response.statusCode;
        return response;
      },
      (error: unknown) => {
        entry.status = 0;
        throw error;
      },
    );
  }

  /** Requests of this client, optionally only those sent at or after `since` (performance.now()). */
  sent(filter: Partial<Pick<TappedRequest, 'operation' | 'method' | 'conditional'>> = {}, since = -Infinity): TappedRequest[] {
    return this.requests.filter(
      (r) =>
        r.at >= since &&
        (filter.operation === undefined || r.operation === filter.operation) &&
        (filter.method === undefined || r.method === filter.method) &&
        (filter.conditional === undefined || r.conditional === filter.conditional),
    );
  }
}

function describe(request: S3HttpRequest, bucket: string): TappedRequest {
  const path = decodeURIComponent(request.path);
  const bucketPath = `/${bucket}`;
  const key = path.startsWith(bucketPath + '/') ? path.slice(bucketPath.length + 1) : '';
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const conditional = headers['if-none-match'] !== undefined || headers['if-match'] !== undefined;
  const method = request.method.toUpperCase();
  let operation = 'Other';
  if (method === 'PUT' && key) operation = 'PutObject';
  else if (method === 'HEAD' && key) operation = 'HeadObject';
  else if (method === 'GET' && key) operation = 'GetObject';
  else if (method === 'DELETE' && key) operation = 'DeleteObject';
  else if (method === 'GET' && request.query['list-type'] !== undefined) operation = 'ListObjectsV2';
  else if (method === 'POST' && request.query['delete'] !== undefined) operation = 'DeleteObjects';
  return { at: performance.now(), method, key, query: request.query, conditional, operation, status: -1 };
}

/** A tapped S3 client on `store`. */
export function tappedClient(store: InMemoryS3, bucket: string): { client: S3Client; tap: ClientTap } {
  const tap = new ClientTap(store, bucket);
  // The handler only ever calls `store.handle`; route it through the tap.
  const proxy = Object.create(store) as InMemoryS3;
  proxy.handle = (request) => tap.handle(request);
  const client = createInMemoryS3Client(store, { requestHandler: new InMemoryS3RequestHandler(proxy) });
  return { client, tap };
}

/** A manager (one "process") with its tap. */
export interface Proc {
  readonly manager: S3LockManager;
  readonly client: S3Client;
  readonly tap: ClientTap;
}

/** A store, a bucket, and the managers of one test; `close()` closes them all. */
export class MemoryWorld {
  readonly store: InMemoryS3;
  readonly admin: S3Client;
  private readonly procs: Proc[] = [];

  private constructor(
    store: InMemoryS3,
    readonly bucket: string,
  ) {
    this.store = store;
    this.admin = createInMemoryS3Client(store);
  }

  static async create(options: { bucket?: string; versioned?: boolean; clockOffsetMs?: number } = {}): Promise<MemoryWorld> {
    const store = new InMemoryS3({ clockOffsetMs: options.clockOffsetMs ?? 0 });
    const world = new MemoryWorld(store, options.bucket ?? 'lock-bucket');
    await world.admin.send(new CreateBucketCommand({ Bucket: world.bucket }));
    if (options.versioned) {
      await world.admin.send(new PutBucketVersioningCommand({ Bucket: world.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    }
    return world;
  }

  /** A new manager with its own client; defaults: ttlMs 3000, protocol create-only, prefix locks/. */
  manager(options: Partial<S3LockManagerOptions> = {}, internals: S3LockManagerInternals = {}): Proc {
    const { client, tap } = tappedClient(this.store, this.bucket);
    const manager = new S3LockManager({ client, bucket: this.bucket, ttlMs: TTL_MS, protocol: 'create-only', prefix: PREFIX, ...options }, internals);
    const proc = { manager, client, tap };
    this.procs.push(proc);
    return proc;
  }

  /** Every key under `prefix` (ListObjectsV2, all pages). */
  async keys(prefix: string = PREFIX): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.admin.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const c of page.Contents ?? []) if (c.Key) keys.push(c.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /**
   * Record epochs of one lock, newest first, counted from its generation's base (1 = the first
   * record of the generation); records at or below the base are left out.
   */
  async epochs(name: string): Promise<number[]> {
    const base = await this.base(name);
    return (await this.absoluteEpochs(name)).map((e) => e - base).filter((e) => e > 0);
  }

  /** Record epochs of one lock's current generation as stored (fencing tokens), newest first. */
  async absoluteEpochs(name: string): Promise<number[]> {
    const generation = await this.generationId(name);
    const folder = `${lockPrefixOf(name)}.${generation}/`;
    return (await this.keys(folder)).map((k) => epochOf(name, k, generation)).filter((e): e is number => e !== undefined);
  }

  /** The id of the current generation of `name` (read from its generation record). */
  async generationId(name: string, prefix: string = PREFIX): Promise<string> {
    const out = await this.admin.send(new HeadObjectCommand({ Bucket: this.bucket, Key: lockPrefixOf(name, prefix) + 'generation' }));
    const id = out.Metadata?.['lock-generation'];
    if (!id) throw new Error(`no generation record for ${name}`);
    return id;
  }

  /** The base of the lock's log generation (its first record is base + 1); throws if the log has none. */
  async base(name: string, prefix: string = PREFIX): Promise<number> {
    const out = await this.admin.send(new HeadObjectCommand({ Bucket: this.bucket, Key: lockPrefixOf(name, prefix) + 'generation' }));
    const base = Number(out.Metadata?.['lock-base']);
    if (!Number.isSafeInteger(base)) throw new Error(`no generation record for ${name}`);
    return base;
  }

  /**
   * Plants generation records with base 0 for `names`, as the engine would write them, so that
   * their logs count epochs from 1 (the engine itself takes a base from the store's clock). For
   * tests that read exact epochs and request sequences.
   */
  async plantGenerations(names: readonly string[], base = 0): Promise<void> {
    for (const name of names) {
      const metadata = { 'lock-format': '1', 'lock-generation': plantedGenerationId(name), 'lock-base': String(base) };
      await this.admin.send(new PutObjectCommand({ Bucket: this.bucket, Key: lockPrefixOf(name) + 'generation', Body: JSON.stringify(metadata), Metadata: metadata, IfNoneMatch: '*' }));
    }
  }

  async put(key: string, metadata: Record<string, string> = {}, body = 'planted'): Promise<void> {
    await this.admin.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, Metadata: metadata }));
  }

  async close(): Promise<void> {
    this.store.faults.clear();
    for (const p of this.procs) p.tap.clearFaults();
    await Promise.allSettled(this.procs.map((p) => p.manager.close()));
    for (const p of this.procs) p.client.destroy();
    this.admin.destroy();
  }
}

/** `<prefix><encoded name>/` */
export function lockPrefixOf(name: string, prefix: string = PREFIX): string {
  return `${prefix}${encodeLockName(name)}/`;
}

/** The id {@link MemoryWorld.plantGenerations} gives the generation of `name`: a uuid derived from the name. */
export function plantedGenerationId(name: string): string {
  const h = createHash('sha1').update(`planted-${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Key of a record of `name` in generation `generation` (written independently of the engine's
 * helpers: `<lock prefix>.<generation>/`, then MAX - epoch in 15 digits).
 */
export function recordKey(name: string, epoch: number, generation: string = plantedGenerationId(name), prefix: string = PREFIX): string {
  return `${lockPrefixOf(name, prefix)}.${generation}/` + String(MAX_EPOCH - epoch).padStart(15, '0');
}

export function epochOf(name: string, key: string, generation: string = plantedGenerationId(name), prefix: string = PREFIX): number | undefined {
  const lp = `${lockPrefixOf(name, prefix)}.${generation}/`;
  if (!key.startsWith(lp)) return undefined;
  const rest = key.slice(lp.length);
  return /^\d{15}$/.test(rest) ? MAX_EPOCH - Number(rest) : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 20 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what = 'condition'): Promise<NonNullable<T>> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Settles a promise into a value or the error it rejected with (never throws). */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * The real `process`: jest gives each test file a copy whose listeners never see process events
 * (a listener on it would make the check below vacuous). Node >= 20.16 exposes the real one.
 */
function realProcess(): NodeJS.Process {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return (getBuiltin?.('process') as NodeJS.Process | undefined) ?? process;
}

/** Records every unhandled rejection from now until `stop()` (jest also fails the running test on one). */
export function watchUnhandledRejections(): { readonly seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  const target = realProcess();
  target.on('unhandledRejection', listener);
  return {
    seen,
    stop: () => {
      target.off('unhandledRejection', listener);
    },
  };
}

/** A valid lock record's metadata (as the engine writes it), for planting by hand. */
export function recordMetadata(fields: Partial<Record<string, string>> = {}): Record<string, string> {
  return {
    'lock-format': '1',
    'lock-kind': 'acquire',
    'lock-lease': 'lease-planted',
    'lock-owner': 'owner-planted',
    'lock-ttl': String(TTL_MS),
    'lock-token': '1',
    'lock-nonce': 'nonce-planted',
    'lock-host': 'planted-host',
    'lock-pid': '1',
    ...(fields as Record<string, string>),
  };
}
