/**
 * CPU time per warm acquire + release with no network at all: the in-memory store answers through
 * an in-process request handler, so process.cpuUsage() covers the engine, the SDK and the store.
 * The same requests sent directly with the SDK (raw-replay.ts) show what the engine adds.
 */
import { randomBytes } from 'node:crypto';
import { InMemoryS3, createInMemoryS3Client } from '../src/testing';
import { BENCH_PROTOCOLS, newCountedManager, type BenchProtocol } from './counted-manager';
import { RawReplayer, planFrom } from './raw-replay';
import { firstLine } from './stores';
import { repeatBounded } from './timing';

export interface CpuResult {
  readonly protocol: BenchProtocol;
  readonly unavailable: string | undefined;
  readonly cycles: number;
  /** CPU (user + system) per lock cycle, microseconds. */
  readonly engineUs: number;
  /** CPU per replay of the same requests with the SDK alone, microseconds. */
  readonly rawUs: number;
}

export interface CpuOptions {
  readonly cycles: number;
  /** Time allowed for each of the two measurements (lock, raw) per protocol. */
  readonly budgetMs: number;
}

export async function measureCpu(options: CpuOptions): Promise<CpuResult[]> {
  const results: CpuResult[] = [];
  for (const protocol of BENCH_PROTOCOLS) results.push(await cpuOf(protocol, options));
  return results;
}

async function cpuOf(protocol: BenchProtocol, options: CpuOptions): Promise<CpuResult> {
  const bucket = `bench-cpu-${protocol}`;
  const store = new InMemoryS3({ requestLogLimit: 1 });
  store.createBucket(bucket, protocol === 'versioned' ? { versioning: 'Enabled' } : {});
  const client = createInMemoryS3Client(store);
  const { manager, counter } = newCountedManager(client, { bucket, protocol });
  try {
    try {
      await manager.probe();
    } catch (error) {
      return { protocol, unavailable: firstLine(error), cycles: 0, engineUs: NaN, rawUs: NaN };
    }
    const lock = manager.lock('cpu');
    const cycle = async (): Promise<void> => {
      await lock.acquire();
      await lock.release();
    };
    for (let i = 0; i < 50; i++) await cycle();
    counter.capture = true;
    const previous = (await counter.during(cycle)).requests;
    const { requests } = await counter.during(cycle);
    counter.capture = false;
    const plan = planFrom(requests, previous);
    const raw = new RawReplayer(createInMemoryS3Client(store), randomBytes(4).toString('hex'));
    for (let i = 0; i < 50; i++) await raw.run(plan);
    const engine = await cpuPerCall(options, cycle);
    const rawUs = (await cpuPerCall(options, () => raw.run(plan))).us;
    return { protocol, unavailable: undefined, cycles: engine.calls, engineUs: engine.us, rawUs };
  } finally {
    await manager.close();
  }
}

/** CPU microseconds per call of `fn`, over up to `cycles` calls within `budgetMs`. */
async function cpuPerCall(options: CpuOptions, fn: () => Promise<void>): Promise<{ us: number; calls: number }> {
  const before = process.cpuUsage();
  const calls = await repeatBounded(options.cycles, options.budgetMs, fn);
  const used = process.cpuUsage(before);
  return { us: (used.user + used.system) / calls, calls };
}
