/**
 * A lock process of the multi-process scenarios (started by child-process.ts). Configured by one
 * JSON argument (a ColumnConfig); commands arrive as JSON lines on stdin, answers leave as JSON
 * lines on stdout. Times are on the machine-wide monotonic clock, so the parent can compare them.
 */
import { setMaxListeners } from 'node:events';
import { createInterface } from 'node:readline';
import { newCountedManager } from './counted-manager';
import { columnClient, type ColumnConfig } from './lock-column';
import { monoMs } from './timing';

type Command =
  | { cmd: 'wait-for-hand-off'; name: string }
  | { cmd: 'contend'; names: string[]; workers: number; durationMs: number }
  | { cmd: 'exit' };

const config = JSON.parse(process.argv[2] ?? '{}') as ColumnConfig;
const client = columnClient(config);
const { manager, counter } = newCountedManager(client, { bucket: config.bucket, protocol: config.protocol });

function say(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/** Waits for a lock another process holds; reports when it got it, then releases. */
async function waitForHandOff(name: string): Promise<void> {
  const lock = manager.lock(name);
  say({ event: 'waiting' });
  await lock.acquire({ waitMs: 60_000 });
  say({ event: 'acquired', at: monoMs() });
  await lock.release();
  say({ event: 'released' });
}

/** `workers` loops of acquire + release on random names of `names` for `durationMs`. */
async function contend(names: string[], workers: number, durationMs: number): Promise<void> {
  const stop = new AbortController();
  setMaxListeners(workers + 10, stop.signal); // each waiting worker listens to it
  const end = monoMs() + durationMs;
  const timer = setTimeout(() => stop.abort(), durationMs);
  const mark = counter.mark();
  let cycles = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const lock = manager.lock(names[Math.floor(Math.random() * names.length)]!);
      try {
        await lock.acquire({ signal: stop.signal, waitMs: durationMs + 30_000 });
      } catch (error) {
        if (stop.signal.aborted) break;
        errors++;
        firstError ??= (error as Error).message;
        continue;
      }
      if (monoMs() <= end) cycles++;
      await lock.release().catch((error: unknown) => {
        errors++;
        firstError ??= (error as Error).message;
      });
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  const counts = counter.countsSince(mark);
  await running;
  clearTimeout(timer);
  say({ event: 'contended', cycles, errors, firstError, counts });
}

async function run(command: Command): Promise<void> {
  switch (command.cmd) {
    case 'wait-for-hand-off':
      return waitForHandOff(command.name);
    case 'contend':
      return contend(command.names, command.workers, command.durationMs);
    case 'exit':
      await manager.close();
      client.destroy();
      process.exit(0);
  }
}

async function main(): Promise<void> {
  await manager.probe();
  say({ event: 'ready', pid: process.pid });
  let queue = Promise.resolve();
  const enqueue = (command: Command): void => {
    queue = queue.then(() => run(command)).catch((error: unknown) => say({ event: 'error', message: (error as Error).message }));
  };
  createInterface({ input: process.stdin })
    .on('line', (line) => enqueue(JSON.parse(line) as Command))
    .on('close', () => enqueue({ cmd: 'exit' })); // the parent went away
}

main().catch((error: unknown) => {
  say({ event: 'error', message: (error as Error).message });
  process.exit(1);
});
