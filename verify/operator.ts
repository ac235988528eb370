/**
 * The operator of a verification run: what people and other software do to a lock's store while
 * the workers contend. It talks to the store directly (not through the fault proxy) and logs every
 * action with its monotonic start and end times for the checker (run.json `operations`):
 *
 *  - force-release   `forceRelease(name)` of a random name every few seconds, and of the lock whose
 *                    claim the proxy is holding (between a contender's claim and its re-read)
 *  - wipe            every object and version under the prefix deleted while locks are held
 *  - recreate-bucket the bucket emptied, deleted, left missing for a while and created again
 *  - foreign keys    another lock manager whose prefix is nested under the first lock's key prefix
 *                    (`<prefix><name>/`) holds many names, and stray keys lie under every lock
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { endpointClient } from '../test/support/endpoint-client';
import { S3LockManager } from '../src';
import type { ClaimInfo, FaultProxy } from './fault-proxy';
import type { OperationRecord } from './history';
import { Random, monoMs } from './random';
import type { ScheduleName, ScheduleRates } from './schedules';
import type { StoreHandle } from './store';

export interface OperatorOptions {
  readonly store: StoreHandle;
  readonly bucket: string;
  readonly prefix: string;
  readonly protocol: 'create-only' | 'versioned';
  readonly ttlMs: number;
  readonly names: readonly string[];
  readonly schedules: readonly ScheduleName[];
  readonly rates: ScheduleRates;
  readonly proxy: FaultProxy;
  readonly random: Random;
  readonly log: (message: string) => void;
}

/** Foreign names sort before the 15-digit epoch keys of the lock they are nested under. */
const FOREIGN_NAME = (i: number): string => `0-foreign-${String(i).padStart(4, '0')}`;
/** Foreign names the nested manager acquires itself (the rest are written as keys of the same shape). */
const FOREIGN_NAMES_HELD = 100;
/** Concurrent requests while planting foreign names. */
const PLANT_CONCURRENCY = 16;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class Operator {
  readonly operations: OperationRecord[] = [];
  /** What was planted under the prefix (foreign-keys schedule). */
  foreign: { prefix: string; names: number; strayKeys: number; refused?: string } | undefined;
  private readonly client: S3Client;
  private readonly manager: S3LockManager;
  private foreignManager: S3LockManager | undefined;
  private readonly background = new Set<Promise<unknown>>();
  private lossInProgress = false;
  private stopped = false;

  constructor(private readonly options: OperatorOptions) {
    const { store } = options;
    this.client = endpointClient(store);
    this.manager = new S3LockManager({ client: this.client, bucket: options.bucket, prefix: options.prefix, protocol: options.protocol, ttlMs: options.ttlMs });
  }

  private on(schedule: ScheduleName): boolean {
    return this.options.schedules.includes(schedule);
  }

  /** Before the workers start: the foreign manager's names and the stray keys. */
  async setUp(): Promise<void> {
    if (this.on('force-release')) await this.manager.probe();
    if (this.on('foreign-keys')) await this.plantForeignKeys();
  }

  /** Runs the random force releases and the record losses until `until` (monotonic ms). */
  async run(until: number): Promise<void> {
    const { rates, random } = this.options;
    const loops: Array<Promise<void>> = [];
    if (this.on('force-release')) {
      loops.push(
        (async () => {
          for (let next = monoMs() + random.between(...rates.forceReleaseEveryMs); next < until; next = monoMs() + random.between(...rates.forceReleaseEveryMs)) {
            await sleep(next - monoMs());
            if (this.stopped) return;
            if (!this.lossInProgress) await this.forceRelease(random.pick(this.options.names), 'random');
          }
        })(),
      );
    }
    if (this.on('record-loss')) {
      loops.push(
        (async () => {
          let wipeNext = true;
          for (let next = monoMs() + random.between(...rates.firstLossMs); next < until; next = monoMs() + random.between(...rates.lossEveryMs)) {
            await sleep(next - monoMs());
            if (this.stopped) return;
            if (wipeNext) await this.wipe();
            else await this.recreateBucket();
            wipeNext = !wipeNext;
          }
        })(),
      );
    }
    await Promise.all(loops);
  }

  /** The proxy holds a claim's answer: force-release its lock now (between the claim and the re-read). */
  readonly onClaim = async (claim: ClaimInfo): Promise<void> => {
    if (this.stopped || this.lossInProgress || !claim.key.startsWith(this.options.prefix)) return;
    const encoded = claim.key.slice(this.options.prefix.length).split('/')[0] ?? '';
    const name = safeDecode(encoded);
    if (!this.options.names.includes(name)) return;
    await this.forceRelease(name, 'claim');
  };

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.background]);
    await Promise.allSettled([this.manager.close(), this.foreignManager?.close()]);
    this.client.destroy();
  }

  private async forceRelease(name: string, trigger: 'random' | 'claim'): Promise<void> {
    const startAt = monoMs();
    try {
      const result = await this.manager.forceRelease(name);
      this.operations.push({ kind: 'force-release', name, trigger, startAt, endAt: monoMs(), result });
    } catch (error) {
      this.operations.push({ kind: 'force-release', name, trigger, startAt, endAt: monoMs(), error: describe(error) });
    }
  }

  /** Deletes every object and version under the prefix (the foreign manager's records stay, so that the foreign keys keep sorting first). */
  private async wipe(): Promise<void> {
    this.lossInProgress = true;
    const startAt = monoMs();
    try {
      const deleted = await this.options.store.wipe(this.options.bucket, this.options.prefix, (key) => this.isForeignRecord(key));
      this.operations.push({ kind: 'wipe', startAt, endAt: monoMs(), result: deleted });
      this.options.log(`wipe: ${deleted} objects deleted under ${this.options.prefix}`);
    } catch (error) {
      this.operations.push({ kind: 'wipe', startAt, endAt: monoMs(), error: describe(error) });
    } finally {
      this.lossInProgress = false;
    }
    if (this.on('foreign-keys')) await this.plantStrayKeys().catch((error: unknown) => this.options.log(`stray keys: ${describe(error)}`));
  }

  /**
   * Empties and deletes the bucket (new requests wait meanwhile, so that it can be deleted), leaves it
   * missing for a while (requests fail with NoSuchBucket), then creates it again (requests wait
   * until versioning is enabled again).
   */
  private async recreateBucket(): Promise<void> {
    const { store, bucket, proxy, rates, random } = this.options;
    this.lossInProgress = true;
    const startAt = monoMs();
    try {
      await proxy.holdWhile(
        (async () => {
          for (let attempt = 1; ; attempt++) {
            try {
              await store.deleteBucket(bucket);
              return;
            } catch (error) {
              if (attempt >= 5) throw error; // a write in flight landed after the emptying
              await sleep(100);
            }
          }
        })(),
      );
      await sleep(random.between(...rates.bucketGoneMs));
      await proxy.holdWhile(store.recreateBucket(bucket));
      this.operations.push({ kind: 'recreate-bucket', startAt, endAt: monoMs() });
      this.options.log(`bucket ${bucket} deleted and created again`);
    } catch (error) {
      this.operations.push({ kind: 'recreate-bucket', startAt, endAt: monoMs(), error: describe(error) });
      this.options.log(`bucket re-creation failed: ${describe(error)}`);
    } finally {
      this.lossInProgress = false;
    }
    if (this.on('foreign-keys')) {
      const replant = this.plantForeignKeys().catch((error: unknown) => this.options.log(`foreign keys: ${describe(error)}`));
      this.background.add(replant);
      void replant.finally(() => this.background.delete(replant));
    }
  }

  private get foreignPrefix(): string {
    return `${this.options.prefix}${encodeURIComponent(this.options.names[0]!)}/`;
  }

  private isForeignRecord(key: string): boolean {
    return key.startsWith(`${this.foreignPrefix}0-foreign-`);
  }

  /**
   * A second lock manager with the prefix `<prefix><first name>/` acquires the first 100 of
   * `foreignNames` names (TTL one hour: no renewals during a run); the keys of the others are
   * written directly in the same shape. They all sort before the first lock's epoch keys. If the
   * engine refuses the nested prefix, every key is written directly.
   */
  private async plantForeignKeys(): Promise<void> {
    const { rates, store, bucket } = this.options;
    const prefix = this.foreignPrefix;
    const old = this.foreignManager;
    if (old) {
      this.foreignManager = undefined;
      await old.close().catch(() => undefined);
    }
    const manager = new S3LockManager({ client: this.client, bucket, prefix, protocol: this.options.protocol, ttlMs: 3_600_000 });
    let refused: string | undefined;
    // The manager holds the first names itself; the others' keys (same shape, one PUT each instead
    // of a whole acquisition) are written directly, so that setting up stays cheap on a slow store.
    const held = Math.min(rates.foreignNames, FOREIGN_NAMES_HELD);
    let written = held;
    try {
      await manager.probe();
      this.foreignManager = manager;
      await forEachConcurrently(held, async (i) => {
        if (!(await manager.lock(FOREIGN_NAME(i)).tryAcquire())) throw new Error(`foreign name ${FOREIGN_NAME(i)} not acquired`);
      });
    } catch (error) {
      refused = describe(error);
      written = 0;
      this.options.log(`foreign manager under ${prefix}: ${refused}; writing its keys directly`);
    }
    const leaf = this.options.protocol === 'versioned' ? 'lock' : '999999999999998';
    await forEachConcurrently(rates.foreignNames - written, (i) => store.putEmpty(bucket, `${prefix}${FOREIGN_NAME(written + i)}/${leaf}`));
    const strayKeys = await this.plantStrayKeys();
    this.foreign = { prefix, names: rates.foreignNames, strayKeys, ...(refused ? { refused } : {}) };
  }

  /** Keys under the prefix that are no lock record: under every lock's key prefix and beside them. */
  private async plantStrayKeys(): Promise<number> {
    const { prefix, names, rates, store, bucket } = this.options;
    const keys: string[] = [];
    for (let i = 0; i < rates.strayKeysPerName; i++) {
      keys.push(`${prefix}!stray-${i}`);
      for (const name of names) keys.push(`${prefix}${encodeURIComponent(name)}/!stray-${i}`);
    }
    await forEachConcurrently(keys.length, (i) => store.putEmpty(bucket, keys[i]!));
    return keys.length;
  }
}

async function forEachConcurrently(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PLANT_CONCURRENCY, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
