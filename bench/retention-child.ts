/**
 * The memory-per-name measurement (started by retention.ts in a process of its own, so that
 * neither the bench nor an in-process store counts): one manager acquires and releases
 * ever-new names, and the heap after GC is compared between the end of a first round (which warms
 * up everything allocated once) and the end of a second one of the same size, each measured once
 * the names are idle: the manager's monotonic clock is moved past every cache age (its only clock
 * for them) and the request timers have fired. Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { S3LockManager } from '../src';
import { columnClient, type ColumnConfig } from './lock-column';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface RetentionConfig extends ColumnConfig {
  readonly names: number;
  readonly prefix: string;
}

const WORKERS = 8;
/** Longer than every cache age (the longest is 10 minutes). */
const LATER_MS = 2 * 3_600_000;

const config = JSON.parse(process.argv[2] ?? '{}') as RetentionConfig;
let offset = 0;
const client = columnClient(config);
const manager = new S3LockManager({ client, bucket: config.bucket, protocol: config.protocol, prefix: config.prefix, ttlMs: 6_000 }, { mono: { now: () => performance.now() + offset } });

async function round(tag: string): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < config.names) {
      const name = `order:${tag}-${next++}`;
      await manager.using(name, () => undefined);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
}

async function idleHeap(): Promise<{ heap: number; entries: Readonly<Record<string, number>> }> {
  offset += LATER_MS;
  await new Promise((resolve) => setTimeout(resolve, 6_000)); // request timeouts (AbortSignal.timeout, TTL/2) fire
  // GC, then let finalizers run (an AbortSignal.timeout's timer is freed through a FinalizationRegistry), a few times
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  gc();
  return { heap: process.memoryUsage().heapUsed, entries: manager.retainedEntries() };
}

async function main(): Promise<void> {
  await manager.probe();
  await round('warm-up');
  const before = await idleHeap();
  const started = performance.now();
  await round('churn');
  const churnMs = performance.now() - started;
  const busy = manager.retainedEntries();
  const after = await idleHeap();
  await manager.close();
  client.destroy();
  process.stdout.write(
    JSON.stringify({
      names: config.names,
      bytesPerName: (after.heap - before.heap) / config.names,
      heapBefore: before.heap,
      heapAfter: after.heap,
      churnMs,
      entriesWhileFresh: busy,
      entriesIdle: after.entries,
    }) + '\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
