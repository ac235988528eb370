/**
 * `npm run soak -- --store rgw --minutes 60 --locks 200`: one manager holds `locks` names with
 * renewals for `minutes`, and every 30 s prints a sample: leases held and lost, renewals so far,
 * heap after GC, RSS, and the live timers (setTimeout). It ends with a summary line (JSON) and exits
 * 1 if any lease was lost. Not part of `npm test` (it is an hour); see docs/benchmarks.md.
 *
 * The store comes from the same environment as the tests (scripts/soak.sh starts RGW or moto).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { S3LockManager, type S3Lock } from '../src';
import { openStore, type BenchStoreName } from './stores';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'rgw' },
    protocol: { type: 'string', default: 'create-only' },
    minutes: { type: 'string', default: '60' },
    locks: { type: 'string', default: '200' },
    'ttl-ms': { type: 'string', default: '30000' },
    'sample-s': { type: 'string', default: '30' },
  },
});
const minutes = Number(values.minutes);
const lockCount = Number(values.locks);
const ttlMs = Number(values['ttl-ms']);
const sampleMs = Number(values['sample-s']) * 1000;
const protocol = values.protocol === 'versioned' ? 'versioned' : 'create-only';

interface Sample {
  readonly atS: number;
  readonly held: number;
  readonly lost: number;
  readonly renewals: number;
  readonly storeErrors: number;
  readonly heapMiB: number;
  readonly rssMiB: number;
  readonly timers: number;
}

/**
 * Live timers made with setTimeout (set, not yet fired or cleared), counted by wrapping the global
 * functions: the engine's timers are unref'd, so the process's active-resource list leaves them out.
 */
const liveTimers = new Set<unknown>();
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = realSetTimeout(() => {
    liveTimers.delete(timer);
    fn(...args);
  }, ms);
  liveTimers.add(timer);
  return timer;
}) as typeof setTimeout;
globalThis.clearTimeout = ((timer: Parameters<typeof clearTimeout>[0]) => {
  liveTimers.delete(timer);
  realClearTimeout(timer);
}) as typeof clearTimeout;

function timers(): number {
  return liveTimers.size;
}

async function main(): Promise<void> {
  const store = await openStore(values.store as BenchStoreName);
  if (!store.target) throw new Error(`${values.store}: ${store.unavailable}`);
  const bucket = await store.target.createBucket({ versioned: protocol === 'versioned' });
  const client = store.target.createClient();
  const manager = new S3LockManager({ client, bucket, protocol, ttlMs, waitMs: 10_000 });
  let renewals = 0;
  let storeErrors = 0;
  const lostReasons: string[] = [];
  manager.on('renewed', () => renewals++);
  manager.on('storeError', () => storeErrors++);
  manager.on('lost', (e) => lostReasons.push(`${e.name}: ${e.reason} ${e.error.cause instanceof Error ? e.error.cause.message : ''}`));
  const held: S3Lock[] = [];
  for (let i = 0; i < lockCount; i++) {
    const lock = manager.lock(`soak-${i}`);
    await lock.acquire();
    held.push(lock);
  }
  const t0 = performance.now();
  const samples: Sample[] = [];
  const sample = (): Sample => {
    gc();
    const memory = process.memoryUsage();
    const s: Sample = {
      atS: Math.round((performance.now() - t0) / 1000),
      held: held.filter((l) => l.isHeld).length,
      lost: lostReasons.length,
      renewals,
      storeErrors,
      heapMiB: Math.round((memory.heapUsed / 2 ** 20) * 10) / 10,
      rssMiB: Math.round((memory.rss / 2 ** 20) * 10) / 10,
      timers: timers(),
    };
    samples.push(s);
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return s;
  };
  process.stdout.write(`# ${lockCount} locks, ttlMs ${ttlMs}, ${protocol} on ${store.label} (${store.target.endpoint}), ${minutes} min, Node ${process.version}\n`);
  sample();
  while (performance.now() - t0 < minutes * 60_000) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(sampleMs, minutes * 60_000 - (performance.now() - t0))));
    sample();
  }
  const first = samples[1] ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  await Promise.all(held.map((l) => l.releaseIfOwner()));
  await manager.close();
  await store.target.close();
  const heaps = samples.slice(1).map((s) => s.heapMiB);
  const summary = {
    locks: lockCount,
    ttlMs,
    protocol,
    store: store.label,
    minutes,
    lost: last.lost,
    lostReasons: lostReasons.slice(0, 10),
    renewals: last.renewals,
    storeErrors: last.storeErrors,
    heapMiB: { first: first.heapMiB, last: last.heapMiB, min: Math.min(...heaps), max: Math.max(...heaps) },
    timers: { first: first.timers, last: last.timers, min: Math.min(...samples.map((s) => s.timers)), max: Math.max(...samples.map((s) => s.timers)) },
  };
  process.stdout.write(`${JSON.stringify({ summary })}\n`);
  process.exit(last.lost === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
