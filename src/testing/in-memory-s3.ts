/**
 * An in-memory S3 store that honours conditional requests as AWS documents them, at the HTTP
 * level (path-style requests, S3 XML responses), with switches that emulate broken stores and a
 * fault injector. Use it through {@link InMemoryS3RequestHandler} (no network) or
 * {@link startInMemoryS3Server} (loopback HTTP).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createBucket,
  deleteBucket,
  getBucketLocation,
  getBucketVersioning,
  headBucket,
  isValidBucketName,
  listBuckets,
  putBucketVersioning,
} from './bucket-operations';
import { BucketState, type VersioningStatus } from './bucket-state';
import { SimulatedConnectionReset } from './connection-reset';
import { FaultInjector, type FaultKind, type FaultTarget, type LatencyOptions, type S3Fault } from './fault-injector';
import { listObjectVersions } from './list-object-versions';
import { listObjectsV1, listObjectsV2 } from './list-objects';
import { deleteObject, deleteObjects } from './object-deletion';
import { getObject, putObject } from './object-operations';
import type { S3RequestLogEntry } from './request-log';
import { defaultErrorMessage, S3Error } from './s3-errors';
import {
  isConditional,
  parseS3Request,
  queryParam,
  type S3Call,
  type S3HttpRequest,
  type S3HttpResponse,
  type S3Operation,
} from './s3-request';
import { errorResponse } from './s3-response';
import { awsBehaviour, type InMemoryS3Behaviour } from './store-behaviour';
import { httpDate, StoreClock } from './store-clock';
import type { StoreContext } from './store-context';

export interface InMemoryS3Options {
  /** Broken-store switches; default all off (AWS behaviour). */
  behaviour?: Partial<InMemoryS3Behaviour>;
  /** Store clock offset against `Date.now()`, ms. Default 0. */
  clockOffsetMs?: number;
  /** Buckets to create up front (unversioned). Default none. */
  buckets?: readonly string[];
  /** Buckets to create up front with versioning `Enabled`. Default none. */
  versionedBuckets?: readonly string[];
  /** Latency on every request. Default none. */
  latency?: Partial<LatencyOptions>;
  /** Seed for latency jitter and random faults. Default random. */
  seed?: number;
  /** Most recent requests kept in {@link InMemoryS3.requests}; older ones are dropped. Default 100 000. */
  requestLogLimit?: number;
}

const DEFAULT_REQUEST_LOG_LIMIT = 100_000;

type OperationHandler = (ctx: StoreContext, call: S3Call) => S3HttpResponse;

const OPERATIONS: Readonly<Record<Exclude<S3Operation, 'Unsupported'>, OperationHandler>> = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: headBucket,
  DeleteBucket: deleteBucket,
  GetBucketLocation: getBucketLocation,
  PutBucketVersioning: putBucketVersioning,
  GetBucketVersioning: getBucketVersioning,
  ListObjects: listObjectsV1,
  ListObjectsV2: listObjectsV2,
  ListObjectVersions: listObjectVersions,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  GetObject: getObject,
  HeadObject: getObject,
  DeleteObject: deleteObject,
};

export class InMemoryS3 {
  /** The state: bucket name -> bucket (versioning status, keys, versions newest first). */
  readonly buckets = new Map<string, BucketState>();
  /** Broken-store switches; mutable at any time. */
  behaviour: InMemoryS3Behaviour;
  /** Fault injection: latency, scripted and random faults. */
  readonly faults: FaultInjector;
  /** The requests received (the last `requestLogLimit`), in order of application. Clear with {@link clearRequests}. */
  readonly requests: S3RequestLogEntry[] = [];
  private readonly requestLogLimit: number;
  private readonly clock: StoreClock;
  private sequence = 0;

  constructor(options: InMemoryS3Options = {}) {
    this.behaviour = { ...awsBehaviour(), ...options.behaviour };
    this.requestLogLimit = options.requestLogLimit ?? DEFAULT_REQUEST_LOG_LIMIT;
    this.clock = new StoreClock(options.clockOffsetMs ?? 0);
    this.faults = new FaultInjector(options.seed);
    if (options.latency !== undefined) this.faults.setLatency(options.latency);
    for (const name of options.buckets ?? []) this.createBucket(name);
    for (const name of options.versionedBuckets ?? []) this.createBucket(name, { versioning: 'Enabled' });
  }

  /** Store time, ms since the epoch: `Date.now() + clockOffsetMs`. */
  now(): number {
    return this.clock.now();
  }

  /** Current clock offset against `Date.now()`, ms. */
  get clockOffsetMs(): number {
    return this.clock.offsetMs;
  }

  /** Skews the store clock (Date, Last-Modified, listing times) by `ms` against `Date.now()`. */
  setClockOffset(ms: number): void {
    this.clock.offsetMs = ms;
  }

  /** Changes some behaviour switches in place, keeping the others. */
  setBehaviour(behaviour: Partial<InMemoryS3Behaviour>): void {
    Object.assign(this.behaviour, behaviour);
  }

  /** Empties {@link requests} (the same array instance stays). */
  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Creates a bucket directly (no request, no fault, not logged), unversioned unless
   * `options.versioning` says otherwise. Throws if it exists or the name is not a valid bucket name.
   */
  createBucket(name: string, options: { versioning?: Exclude<VersioningStatus, 'Unversioned'> } = {}): void {
    if (!isValidBucketName(name)) throw new Error(`Invalid bucket name: ${name}`);
    if (this.buckets.has(name)) throw new Error(`Bucket ${name} already exists`);
    const bucket = new BucketState(name, this.clock.now());
    if (options.versioning !== undefined) bucket.versioning = options.versioning;
    this.buckets.set(name, bucket);
  }

  /** Drops all buckets and the request log, clears faults and counters; behaviour and clock stay. */
  reset(): void {
    this.buckets.clear();
    this.clearRequests();
    this.faults.clear();
    this.faults.resetCounts();
  }

  /**
   * Handles one path-style S3 request. Latency and faults are applied around the operation; the
   * operation itself (check and write) runs in one synchronous step, so requests are atomic.
   * Rejects with {@link SimulatedConnectionReset} for `drop-response` and `reset-before` faults.
   */
  async handle(request: S3HttpRequest): Promise<S3HttpResponse> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(24).toString('base64');
    const parsed = this.parse(request);
    const target = this.targetOf(request, parsed);
    const before = this.faults.latencyBeforeMs();
    if (before > 0) await sleep(before);
    const fault = this.faults.next(target);
    if (fault?.kind === 'delay' && fault.phase !== 'after') await sleep(fault.ms);

    let response: S3HttpResponse;
    if (fault?.kind === 'reset-before') {
      this.log(target, parsed, 0, fault.kind);
      throw new SimulatedConnectionReset();
    }
    if (fault?.kind === 'error' && fault.applied !== true) {
      response = this.injectedError(fault, target.method, requestId, hostId);
    } else {
      response = this.execute(parsed, target.method, requestId, hostId);
      if (fault?.kind === 'error') response = this.injectedError(fault, target.method, requestId, hostId);
    }
    this.log(target, parsed, response.statusCode, fault?.kind);
    if (fault?.kind === 'drop-response') throw new SimulatedConnectionReset();

    const after = this.faults.latencyAfterMs() + (fault?.kind === 'delay' && fault.phase === 'after' ? fault.ms : 0);
    if (after > 0) await sleep(after);
    return {
      statusCode: response.statusCode,
      headers: {
        ...response.headers,
        date: httpDate(this.now()),
        'x-amz-request-id': requestId,
        'x-amz-id-2': hostId,
        server: 'AmazonS3',
      },
      body: response.body,
    };
  }

  private parse(request: S3HttpRequest): S3Call | S3Error {
    try {
      return parseS3Request(request);
    } catch (error) {
      if (error instanceof S3Error) return error;
      throw error;
    }
  }

  private targetOf(request: S3HttpRequest, parsed: S3Call | S3Error): FaultTarget {
    if (parsed instanceof S3Error) {
      return { operation: 'Unsupported', method: request.method.toUpperCase(), bucket: undefined, key: undefined, conditional: false };
    }
    const { operation, method, bucket, key } = parsed;
    return { operation, method, bucket, key, conditional: isConditional(parsed) };
  }

  /** Runs the operation synchronously: no `await` between a precondition check and its write. */
  private execute(parsed: S3Call | S3Error, method: string, requestId: string, hostId: string): S3HttpResponse {
    try {
      if (parsed instanceof S3Error) throw parsed;
      if (parsed.operation === 'Unsupported') {
        throw new S3Error(501, 'NotImplemented', 'The in-memory S3 store does not implement this operation');
      }
      const context: StoreContext = {
        buckets: this.buckets,
        behaviour: this.behaviour,
        now: () => this.clock.now(),
        nextSequence: () => ++this.sequence,
        newVersionId: () => randomBytes(24).toString('base64url'),
      };
      return OPERATIONS[parsed.operation](context, parsed);
    } catch (error) {
      const s3Error =
        error instanceof S3Error
          ? error
          : new S3Error(500, 'InternalError', `In-memory S3 store bug: ${error instanceof Error ? error.stack : String(error)}`);
      return errorResponse(s3Error, method, requestId, hostId);
    }
  }

  private injectedError(
    fault: Extract<S3Fault, { kind: 'error' }>,
    method: string,
    requestId: string,
    hostId: string,
  ): S3HttpResponse {
    const error = new S3Error(fault.status, fault.code, fault.message ?? defaultErrorMessage(fault.code));
    return errorResponse(error, method, requestId, hostId);
  }

  private log(target: FaultTarget, parsed: S3Call | S3Error, status: number, fault: FaultKind | undefined): void {
    this.requests.push({
      operation: target.operation,
      method: target.method,
      bucket: target.bucket,
      key: target.key,
      versionId: parsed instanceof S3Error ? undefined : queryParam(parsed, 'versionId'),
      status,
      conditional: target.conditional,
      fault,
      atMs: this.now(),
    });
    if (this.requests.length > this.requestLogLimit) this.requests.splice(0, this.requests.length - this.requestLogLimit);
  }
}
