import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3LockBucketMissingError, S3LockStoreError, type S3LockStoreErrorContext } from './errors';
import type { MonotonicClock, ServerClock } from './server-clock';
import { NO_TELEMETRY, type LockTelemetry } from './lock-telemetry';

/** Outcome of a create-only write. */
export type CreateOutcome =
  | { readonly kind: 'created'; readonly sentAt: number; readonly versionId: string | undefined }
  /** 412: the key existed (possibly our own earlier attempt, retried by the SDK). */
  | { readonly kind: 'exists'; readonly sentAt: number }
  /** 409, 5xx, timeout or connection failure: the write may or may not have been applied. */
  | { readonly kind: 'unknown'; readonly sentAt: number; readonly error: unknown };

/** A HEAD result. */
export type HeadResult =
  /** `dateMs`: the answer's own `Date` header (ms), when the request could read it (GET). */
  | { readonly found: false; readonly dateMs?: number }
  | { readonly found: true; readonly metadata: Record<string, string>; readonly lastModifiedMs: number; readonly versionId: string | undefined; readonly dateMs?: number };

/** One listed key. */
export interface ListedKey {
  readonly key: string;
  readonly lastModifiedMs: number;
}

/** One ListObjectsV2 page. */
export interface KeyPage {
  readonly keys: ListedKey[];
  /** Common prefixes (with a delimiter): keys rolled up below the listed level. */
  readonly commonPrefixes: string[];
  readonly truncated: boolean;
  readonly nextContinuationToken: string | undefined;
  /** Local monotonic time at which the request was sent. */
  readonly sentAt: number;
}

/** Optional ListObjectsV2 parameters. */
export interface ListOptions {
  readonly startAfter?: string;
  readonly delimiter?: string;
  readonly continuationToken?: string;
}

/** Outcome of an unconditional PUT whose outcome must be settled by the caller (versioned protocol). */
export type PutOutcome =
  | { readonly kind: 'written'; readonly sentAt: number; readonly versionId: string | undefined }
  /** 409, 5xx, timeout or connection failure: the write may or may not have been applied (perhaps more than once, by SDK retries). */
  | { readonly kind: 'unknown'; readonly sentAt: number; readonly error: unknown };

/** One entry of a ListObjectVersions page. */
export interface ListedVersion {
  readonly key: string;
  readonly versionId: string;
  /** Server time of the write, ms (listings carry millisecond timestamps on most stores). */
  readonly lastModifiedMs: number;
  readonly isLatest: boolean;
}

/** One ListObjectVersions page: versions newest first per key, delete markers apart (the SDK separates them). */
export interface VersionPage {
  readonly versions: ListedVersion[];
  readonly deleteMarkers: ListedVersion[];
  readonly truncated: boolean;
  readonly nextKeyMarker: string | undefined;
  readonly nextVersionIdMarker: string | undefined;
  /** Local monotonic time at which the request was sent. */
  readonly sentAt: number;
}

/** Any S3 command (its input and output types vary; callers cast the output they expect). */
type Sendable = { readonly middlewareStack: unknown };
type Deserialize = (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>;
type MiddlewareAdder = { add(middleware: Deserialize, options: { step: 'deserialize'; priority: 'low'; name: string; override: boolean }): void };

/**
 * The only place that talks to S3 for the engine: one method per primitive, typed outcomes,
 * every response's `Date` header fed to the {@link ServerClock}, and every failure mapped to
 * {@link S3LockStoreError} (except the outcomes a caller must resolve itself).
 */
export class S3Gateway {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly serverClock: ServerClock,
    private readonly mono: MonotonicClock,
    private readonly requestTimeoutMs: number,
    /** The manager's key prefix, named in errors. */
    readonly prefix?: string,
    /** Counts every request sent (`s3lock.store.requests`). */
    private readonly telemetry: Pick<LockTelemetry, 'storeRequest'> = NO_TELEMETRY,
  ) {}

  /** The endpoint requests go to (`protocol://host[:port]`), learnt from the first request sent. */
  private endpoint: string | undefined;
  /** The S3 call each failed request made, for its error. */
  private readonly failedCalls = new WeakMap<object, string>();

  /** PutObject with `If-None-Match: *`. */
  async createIfAbsent(key: string, metadata: Record<string, string>, lockName: string | undefined, operation: string): Promise<CreateOutcome> {
    const sentAt = this.mono.now();
    try {
      const out = await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, ...bodyOf(metadata), IfNoneMatch: '*', Metadata: metadata }));
      return { kind: 'created', sentAt, versionId: (out as { VersionId?: string }).VersionId };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412) return { kind: 'exists', sentAt };
      if (isUnknownOutcome(error)) return { kind: 'unknown', sentAt, error };
      throw this.failure(lockName, operation, error);
    }
  }

  /** Unconditional PutObject; returns the version id in a versioned bucket. */
  async put(key: string, metadata: Record<string, string>, lockName: string | undefined, operation: string): Promise<{ sentAt: number; versionId: string | undefined }> {
    const sentAt = this.mono.now();
    try {
      const out = await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, ...bodyOf(metadata), Metadata: metadata }));
      return { sentAt, versionId: (out as { VersionId?: string }).VersionId };
    } catch (error) {
      throw this.failure(lockName, operation, error);
    }
  }

  /**
   * HeadObject; 404 is `found: false`. A HEAD cannot tell a missing key from a missing bucket (both
   * answer 404 without a body on RGW and moto): use {@link get} where that matters.
   */
  async head(key: string, lockName: string | undefined, operation: string, versionId?: string): Promise<HeadResult> {
    try {
      const out = (await this.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }))) as {
        Metadata?: Record<string, string>;
        LastModified?: Date;
        VersionId?: string;
      };
      return { found: true, metadata: out.Metadata ?? {}, lastModifiedMs: out.LastModified?.getTime() ?? 0, versionId: out.VersionId };
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 && !isNoSuchBucket(error)) return { found: false };
      throw this.failure(lockName, operation, error);
    }
  }

  /**
   * GetObject (same price class as HEAD): `found: false` only for `NoSuchKey`; a missing bucket is
   * {@link S3LockBucketMissingError}. The small body is read and dropped.
   */
  async get(key: string, lockName: string | undefined, operation: string): Promise<HeadResult> {
    let date: string | undefined;
    try {
      const out = (await this.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), this.requestTimeoutMs, (d) => (date = d))) as {
        Metadata?: Record<string, string>;
        LastModified?: Date;
        VersionId?: string;
        Body?: { transformToString?: () => Promise<string> };
      };
      await out.Body?.transformToString?.();
      const dateMs = date === undefined ? NaN : Date.parse(date);
      return { found: true, metadata: out.Metadata ?? {}, lastModifiedMs: out.LastModified?.getTime() ?? 0, versionId: out.VersionId, ...(Number.isNaN(dateMs) ? {} : { dateMs }) };
    } catch (error) {
      if (statusOf(error) === 404 && (error as { name?: string } | null)?.name === 'NoSuchKey') {
        const dateMs = date === undefined ? NaN : Date.parse(date);
        return Number.isNaN(dateMs) ? { found: false } : { found: false, dateMs };
      }
      throw this.failure(lockName, operation, error);
    }
  }

  /** ListObjectsV2 under `prefix` (keys ascending), up to `maxKeys`, after `startAfter`. */
  async list(prefix: string, maxKeys: number, lockName: string | undefined, operation: string, options: ListOptions = {}): Promise<KeyPage> {
    const sentAt = this.mono.now();
    try {
      const out = (await this.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          StartAfter: options.continuationToken === undefined ? options.startAfter : undefined,
          Delimiter: options.delimiter,
          ContinuationToken: options.continuationToken,
        }),
      )) as {
        Contents?: Array<{ Key?: string; LastModified?: Date }>;
        CommonPrefixes?: Array<{ Prefix?: string }>;
        IsTruncated?: boolean;
        NextContinuationToken?: string;
      };
      const keys = (out.Contents ?? []).filter((c) => c.Key !== undefined).map((c) => ({ key: c.Key!, lastModifiedMs: c.LastModified?.getTime() ?? 0 }));
      const commonPrefixes = (out.CommonPrefixes ?? []).map((c) => c.Prefix).filter((p): p is string => p !== undefined);
      return { keys, commonPrefixes, truncated: out.IsTruncated === true, nextContinuationToken: out.NextContinuationToken || undefined, sentAt };
    } catch (error) {
      throw this.failure(lockName, operation, error);
    }
  }

  /** Plain DeleteObject (optionally of one version). */
  async delete(key: string, lockName: string | undefined, operation: string, versionId?: string): Promise<void> {
    try {
      await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
    } catch (error) {
      const status = statusOf(error);
      if (status === 404 && !isNoSuchBucket(error)) return;
      throw this.failure(lockName, operation, error);
    }
  }

  /** DeleteObjects in batches of 1000; per-key errors are reported as a store error. */
  async deleteMany(keys: ReadonlyArray<{ key: string; versionId?: string }>, lockName: string | undefined, operation: string): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const out = (await this.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: k.key, VersionId: k.versionId })), Quiet: true },
          }),
        )) as { Errors?: Array<{ Key?: string; Code?: string; Message?: string }> };
        const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey' && e.Code !== 'NoSuchVersion');
        if (failed.length > 0) {
          throw new Error(`${failed.length} keys not deleted, first ${failed[0]!.Key}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
        }
      } catch (error) {
        if (error instanceof S3LockStoreError) throw error;
        throw this.failure(lockName, operation, error);
      }
    }
  }

  /** Unconditional PutObject whose 409/5xx/timeout outcome is returned as `unknown` instead of thrown. */
  async putVersion(key: string, metadata: Record<string, string>, lockName: string | undefined, operation: string): Promise<PutOutcome> {
    const sentAt = this.mono.now();
    try {
      const out = await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, ...bodyOf(metadata), Metadata: metadata }));
      return { kind: 'written', sentAt, versionId: (out as { VersionId?: string }).VersionId };
    } catch (error) {
      if (isUnknownOutcome(error)) return { kind: 'unknown', sentAt, error };
      throw this.failure(lockName, operation, error);
    }
  }

  /** One ListObjectVersions page under `prefix`, from the given markers. */
  async listVersions(
    prefix: string,
    lockName: string | undefined,
    operation: string,
    markers: { keyMarker?: string; versionIdMarker?: string } = {},
    maxKeys = 1000,
  ): Promise<VersionPage> {
    const sentAt = this.mono.now();
    try {
      const out = (await this.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          KeyMarker: markers.keyMarker,
          VersionIdMarker: markers.versionIdMarker,
        }),
      )) as {
        Versions?: Array<{ Key?: string; VersionId?: string; LastModified?: Date; IsLatest?: boolean }>;
        DeleteMarkers?: Array<{ Key?: string; VersionId?: string; LastModified?: Date; IsLatest?: boolean }>;
        IsTruncated?: boolean;
        NextKeyMarker?: string;
        NextVersionIdMarker?: string;
      };
      const entries = (list: typeof out.Versions): ListedVersion[] =>
        (list ?? [])
          .filter((v) => v.Key !== undefined && v.VersionId !== undefined)
          .map((v) => ({ key: v.Key!, versionId: v.VersionId!, lastModifiedMs: v.LastModified?.getTime() ?? 0, isLatest: v.IsLatest === true }));
      return {
        versions: entries(out.Versions),
        deleteMarkers: entries(out.DeleteMarkers),
        truncated: out.IsTruncated === true,
        nextKeyMarker: out.NextKeyMarker || undefined,
        nextVersionIdMarker: out.NextVersionIdMarker || undefined,
        sentAt,
      };
    } catch (error) {
      throw this.failure(lockName, operation, error);
    }
  }

  /** GetBucketVersioning: `Enabled`, `Suspended`, or `undefined` when versioning was never configured. */
  async getBucketVersioning(operation: string): Promise<string | undefined> {
    try {
      const out = (await this.send(new GetBucketVersioningCommand({ Bucket: this.bucket }))) as { Status?: string };
      return out.Status || undefined;
    } catch (error) {
      throw this.failure(undefined, operation, error);
    }
  }

  /**
   * The typed error for a failed request (or an outcome a caller could not settle), naming the S3
   * call, bucket, prefix and endpoint: {@link S3LockBucketMissingError} for `NoSuchBucket`.
   */
  failure(lockName: string | undefined, operation: string, error: unknown): S3LockStoreError {
    if (error instanceof S3LockStoreError) return error;
    const context = this.context(error);
    if (isNoSuchBucket(error)) return new S3LockBucketMissingError(lockName, operation, this.bucket, error, context);
    return new S3LockStoreError(lockName, operation, statusOf(error), error, context);
  }

  /** Bucket, prefix, endpoint, and the S3 call that `error` came from (when it came from one). */
  context(error?: unknown): S3LockStoreErrorContext {
    const s3Operation = error !== null && typeof error === 'object' ? this.failedCalls.get(error) : undefined;
    return { bucket: this.bucket, prefix: this.prefix, endpoint: this.endpoint, ...(s3Operation === undefined ? {} : { s3Operation }) };
  }


  /**
   * Sends a command with a request timeout, feeding the response's `Date` header (success or
   * error) to the server clock, and to `onDate` when given (the last attempt's header wins).
   */
  async send(command: Sendable, timeoutMs: number = this.requestTimeoutMs, onDate?: (dateHeader: string | undefined) => void): Promise<unknown> {
    const clock = this.serverClock;
    const mono = this.mono;
    const operation = command.constructor.name.replace(/Command$/, '');
    (command.middlewareStack as MiddlewareAdder).add(
      (next) => async (args) => {
        this.endpoint ??= endpointOf((args as { request?: unknown }).request, this.bucket);
        const sentAt = mono.now();
        let result;
        try {
          result = await next(args);
        } catch (error) {
          this.telemetry.storeRequest(operation, statusOf(error) ?? 'error');
          throw error;
        }
        const response = (result as { response?: { headers?: Record<string, string>; statusCode?: number } }).response;
        this.telemetry.storeRequest(operation, response?.statusCode ?? 'error');
        clock.observe(response?.headers?.['date'], mono.now(), sentAt);
        onDate?.(response?.headers?.['date']);
        return result;
      },
      { step: 'deserialize', priority: 'low', name: 's3LockServerDate', override: true },
    );
    try {
      return await this.client.send(command as Parameters<S3Client['send']>[0], { abortSignal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      if (error !== null && typeof error === 'object') this.failedCalls.set(error, operation);
      throw error;
    }
  }
}

/** `protocol://host[:port]` of an SDK HTTP request, without a virtual-hosted bucket's name. */
function endpointOf(request: unknown, bucket: string): string | undefined {
  const r = request as { protocol?: string; hostname?: string; port?: number } | undefined;
  if (!r?.hostname) return undefined;
  const host = r.hostname.startsWith(`${bucket}.`) ? r.hostname.slice(bucket.length + 1) : r.hostname;
  return `${r.protocol ?? 'https:'}//${host}${r.port === undefined ? '' : `:${r.port}`}`;
}

/** The record repeated as a small JSON body, for people reading the bucket (the metadata is authoritative). */
function bodyOf(metadata: Record<string, string>): { Body: string; ContentLength: number; ContentType: string } {
  const body = JSON.stringify(metadata);
  return { Body: body, ContentLength: Buffer.byteLength(body), ContentType: 'application/json' };
}

/** HTTP status of an SDK error, if the store answered. */
export function statusOf(error: unknown): number | undefined {
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}

function isNoSuchBucket(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'NoSuchBucket';
}

/** 409, 5xx, throttling, timeouts and network failures: the write's outcome is unknown. */
export function isUnknownOutcome(error: unknown): boolean {
  const status = statusOf(error);
  if (status === undefined) return true; // no response: network error, timeout, abort
  return status === 409 || status === 429 || status >= 500;
}
