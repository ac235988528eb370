/**
 * One column of the report: a store and a protocol ('create-only' on a plain bucket, 'versioned'
 * on a versioned bucket), with a bucket of its own and a factory of counted lock managers.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { S3LockManagerOptions } from '../src/core/lock-options';
import { endpointClient } from '../test/support/endpoint-client';
import { newCountedManager, type BenchProtocol, type CountedManager } from './counted-manager';
import { firstLine, type BenchStore } from './stores';

/** What a child process needs to open the same bucket. */
export interface ColumnConfig {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;
  readonly protocol: BenchProtocol;
}

/** The S3 client a child process makes for a column's store (path-style, checksums only when required). */
export function columnClient(config: Pick<ColumnConfig, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>): S3Client {
  return endpointClient(config);
}

export class LockColumn {
  readonly id: string;
  readonly label: string;
  private readonly managers: CountedManager[] = [];
  private names = 0;

  private constructor(
    readonly store: BenchStore,
    readonly protocol: BenchProtocol,
    readonly bucket: string,
    /** Why this column cannot be measured (store down, protocol refused or not built yet). */
    readonly unavailable: string | undefined,
  ) {
    this.id = `${store.label}/${protocol}`;
    this.label = `${store.label} · ${protocol}`;
  }

  /** Creates the column's bucket and checks, with the store probe, that the protocol runs there. */
  static async open(store: BenchStore, protocol: BenchProtocol): Promise<LockColumn> {
    if (!store.target) return new LockColumn(store, protocol, '', store.unavailable);
    let bucket = '';
    try {
      bucket = await store.target.createBucket({ versioned: protocol === 'versioned' });
      const column = new LockColumn(store, protocol, bucket, undefined);
      const probe = column.manager();
      await probe.manager.probe();
      return column;
    } catch (error) {
      // a refused store says why in `advice`; anything else by its message
      const advice = (error as { advice?: unknown }).advice;
      return new LockColumn(store, protocol, bucket, typeof advice === 'string' ? advice : firstLine(error));
    }
  }

  get available(): boolean {
    return this.unavailable === undefined;
  }

  get config(): ColumnConfig {
    const target = this.store.target!;
    return { endpoint: target.endpoint, ...target.credentials, bucket: this.bucket, protocol: this.protocol };
  }

  /** A fresh lock name for one scenario. */
  lockName(scenario: string): string {
    return `${scenario}-${++this.names}-${randomBytes(3).toString('hex')}`;
  }

  /** A new manager with its own counted client. */
  manager(options: Partial<Omit<S3LockManagerOptions, 'client' | 'bucket' | 'protocol'>> = {}): CountedManager {
    const client = this.store.target!.createClient();
    const counted = newCountedManager(client, { ...options, bucket: this.bucket, protocol: this.protocol });
    this.managers.push(counted);
    return counted;
  }

  /** A new manager whose probe already ran (its requests are not part of what is measured next). */
  async probedManager(options: Parameters<LockColumn['manager']>[0] = {}): Promise<CountedManager> {
    const counted = this.manager(options);
    await counted.manager.probe();
    return counted;
  }

  /** storeError events of this column's managers, except those cut off on purpose (partitioned). */
  storeErrors(): number {
    return this.managers.filter((m) => !m.partitioned).reduce((n, m) => n + m.storeErrors.length, 0);
  }

  /** Closes every manager this column made (their clients go with the store target). */
  async close(): Promise<void> {
    for (const m of this.managers) m.partitioned = false;
    await Promise.allSettled(this.managers.map((m) => m.manager.close()));
    this.managers.length = 0;
  }
}
