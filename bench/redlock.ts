/**
 * For context: the same warm acquire + release cycle with redlock (@sesamecare-oss/redlock) on a
 * local redis-server started for the run. Redis commands per cycle are counted at the client.
 */
import { Redlock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import { redisServerMissing, startLocalRedis } from './redis-server';
import { summarize, type Summary } from './stats';
import { firstLine } from './stores';
import { monoMs, repeatBounded } from './timing';

export interface RedlockResults {
  readonly unavailable: string | undefined;
  readonly redisVersion?: string;
  readonly latency?: Summary;
  /** Client-side CPU per cycle (redis-server's own CPU is not included), microseconds. */
  readonly cpuUs?: number;
  readonly commandsPerCycle?: number;
}

export interface RedlockOptions {
  readonly cycles: number;
  readonly budgetMs: number;
}

export async function measureRedlock(options: RedlockOptions): Promise<RedlockResults> {
  const missing = redisServerMissing();
  if (missing) return { unavailable: missing };
  let redis;
  try {
    redis = await startLocalRedis();
  } catch (error) {
    return { unavailable: firstLine(error) };
  }
  const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const sent = countCommands(client);
    const redlock = new Redlock([client], { retryCount: 0 });
    const cycle = async (): Promise<void> => {
      const lock = await redlock.acquire(['bench-redlock'], 30_000);
      await lock.release();
    };
    for (let i = 0; i < 20; i++) await cycle();
    const before = sent.count;
    const cpuBefore = process.cpuUsage();
    const samples: number[] = [];
    const cycles = await repeatBounded(options.cycles, options.budgetMs, async () => {
      const t0 = monoMs();
      await cycle();
      samples.push(monoMs() - t0);
    });
    const cpu = process.cpuUsage(cpuBefore);
    const after = sent.count;
    return {
      unavailable: undefined,
      redisVersion: redis.version,
      latency: summarize(samples),
      cpuUs: (cpu.user + cpu.system) / cycles,
      commandsPerCycle: (after - before) / cycles,
    };
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

/** Counts the commands `client` sends (scripts count once, whatever they call inside). */
function countCommands(client: Redis): { readonly count: number } {
  const counter = { count: 0 };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    counter.count++;
    return send(...args);
  };
  return counter;
}
