/**
 * Health indicator for `@nestjs/terminus` (an optional peer: install it to serve health checks).
 * This file imports nothing from terminus, not even types, so the library loads without it: the
 * result has the shape terminus's `HealthIndicatorResult` expects (`{ [key]: { status, ... } }`).
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { Injectable } from '@nestjs/common';
import { S3LockManager } from '../core/lock-manager';
import { electionsOf } from './s3-lock.registry';

/** One leader election this application campaigns in (`S3LockService.elect()`, `@WhileLeader()`). */
export interface S3LockHealthElection {
  /** The election's name. */
  readonly name: string;
  /** True while this instance leads (its term's lease is held), as this process knows it (no store read). */
  readonly leader: boolean;
  /** The current term's fencing token, when this instance leads. */
  readonly fencingToken?: number;
}

/** Details reported under the indicator's key. */
export interface S3LockHealthDetails {
  /** `'up'` when the bucket answered and the store probe passed. */
  readonly status: 'up' | 'down';
  readonly bucket: string;
  readonly prefix: string;
  /** The protocol in use (when the probe passed). */
  readonly protocol?: 'create-only' | 'versioned';
  /** Leases this application holds now (locks, semaphore permits and leader terms). */
  readonly heldLocks?: number;
  /**
   * The leader elections this application campaigns in (`S3LockService.elect()` and
   * `@WhileLeader()` methods, until stopped), in start order, with whether this instance leads.
   * Present (also when `down`) only when there is at least one; leadership never makes the
   * status `down`. Elections made with the engine's `S3LockManager.elect()` are not listed.
   */
  readonly elections?: readonly S3LockHealthElection[];
  /** Round trip of the bucket check, ms. */
  readonly latencyMs?: number;
  /** Why the check failed. */
  readonly error?: string;
  /** Index signature of terminus's HealthIndicatorResult. */
  readonly [detail: string]: unknown;
}

/** `{ [key]: details }`: assignable to terminus's `HealthIndicatorResult`. */
export type S3LockHealthIndicatorResult<Key extends string = string> = Record<Key, S3LockHealthDetails>;

/** Options of {@link S3LockHealthIndicator.isHealthy}. */
export interface S3LockHealthCheckOptions {
  /**
   * Longest time the check may take before it reports `down`, in ms.
   * @default 5000
   */
  timeoutMs?: number;
}

/**
 * Reports whether the lock bucket is reachable and the store probe passed, with the protocol in
 * use, the leases held and, when the application campaigns in leader elections, which of them
 * this instance leads (`elections`). Needs `@nestjs/terminus` (optional peer dependency) to be served:
 *
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.s3Lock.isHealthy('locks')]);
 * }
 * ```
 *
 * A failing check resolves with `status: 'down'` (terminus then answers 503); it never throws.
 */
@Injectable()
export class S3LockHealthIndicator {
  constructor(private readonly manager: S3LockManager) {}

  async isHealthy<Key extends string = 's3-lock'>(key: Key = 's3-lock' as Key, options: S3LockHealthCheckOptions = {}): Promise<S3LockHealthIndicatorResult<Key>> {
    const { bucket, prefix } = this.manager.options;
    const timeoutMs = options.timeoutMs ?? 5_000;
    const started = performance.now();
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const protocol = await withAbort(this.manager.probe(), signal, timeoutMs);
      await this.manager.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
      const details: S3LockHealthDetails = {
        status: 'up',
        bucket,
        prefix,
        protocol,
        heldLocks: this.manager.heldCount,
        latencyMs: Math.round(performance.now() - started),
        ...this.elections(),
      };
      return { [key]: details } as S3LockHealthIndicatorResult<Key>;
    } catch (error) {
      const details: S3LockHealthDetails = { status: 'down', bucket, prefix, error: describe(error, signal, timeoutMs), ...this.elections() };
      return { [key]: details } as S3LockHealthIndicatorResult<Key>;
    }
  }

  /** `{ elections }` when the application campaigns, else nothing. */
  private elections(): { elections?: readonly S3LockHealthElection[] } {
    const elections = electionsOf(this.manager);
    if (elections.length === 0) return {};
    return {
      elections: elections.map((e) => {
        const fencingToken = e.fencingToken;
        return e.isLeader && fencingToken !== undefined ? { name: e.name, leader: true, fencingToken } : { name: e.name, leader: false };
      }),
    };
  }
}

function withAbort<T>(promise: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`timed out after ${timeoutMs} ms`));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function describe(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `timed out after ${timeoutMs} ms`;
  if (error instanceof Error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return `${error.name}${status === undefined ? '' : ` (HTTP ${status})`}: ${error.message || 'no message'}`;
  }
  return String(error);
}
