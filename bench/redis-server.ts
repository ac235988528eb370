/**
 * A throw-away redis-server on a free loopback port (no persistence), for the redlock comparison.
 * Started and stopped by the bench itself; never touches a Redis it did not start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { sleep } from './timing';

export interface LocalRedis {
  readonly port: number;
  readonly version: string;
  stop(): Promise<void>;
}

const FIRST_PORT = 6390;

/** Why redis-server cannot be used here, or undefined when it can. */
export function redisServerMissing(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? 'redis-server not installed' : undefined;
}

export async function startLocalRedis(): Promise<LocalRedis> {
  const version = /v=(\S+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
  for (let port = FIRST_PORT; port < FIRST_PORT + 10; port++) {
    if (await portOpen(port)) continue;
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      if (await portOpen(port)) return { port, version, stop: () => stopChild(child, exited) };
      await sleep(100);
    }
    await stopChild(child, exited);
  }
  throw new Error(`could not start redis-server on 127.0.0.1:${FIRST_PORT}-${FIRST_PORT + 9}`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
