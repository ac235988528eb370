import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** One JSON line a worker printed. */
export interface WorkerEvent {
  pid: number;
  at: number;
  event: string;
  [key: string]: unknown;
}

const ROOT = join(__dirname, '..', '..');
/** The JavaScript the jest run's globalSetup emitted (test/support/compile-js.global-setup.js). */
const COMPILED = join(ROOT, 'node_modules', '.cache', 's3-lock-js');

/**
 * Node arguments that run `script` (a .ts path below the repository): its emitted JavaScript when
 * this jest run compiled it, else the TypeScript through ts-node (much slower to start).
 */
export function scriptArgs(script: string, preload: readonly string[] = []): string[] {
  const compiled = (file: string): string => join(COMPILED, file.replace(/\.ts$/, '.js'));
  if (existsSync(compiled(script)) && preload.every((p) => existsSync(compiled(p)))) {
    return [...preload.flatMap((p) => ['-r', compiled(p)]), compiled(script)];
  }
  return ['-r', 'ts-node/register/transpile-only', ...preload.flatMap((p) => ['-r', join(ROOT, p)]), join(ROOT, script)];
}

/**
 * A lock worker in its own OS process, with its JSON events: test/workers/lock-worker.ts unless
 * `script` names another worker (a .ts path below the repository).
 */
export class WorkerProcess {
  readonly events: WorkerEvent[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private stderr = '';
  private listeners: Array<() => void> = [];

  constructor(config: Record<string, unknown>, env: Record<string, string> = {}, script = 'test/workers/lock-worker.ts') {
    this.child = spawn(
      process.execPath,
      [...scriptArgs(script, ['verify/skew-clock.ts']), JSON.stringify(config)],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as WorkerEvent);
      } catch {
        this.stderr += `[stdout] ${line}\n`;
      }
      for (const l of [...this.listeners]) l();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get errorOutput(): string {
    return this.stderr;
  }

  /** Resolves with the first event matching `predicate`; rejects after `timeoutMs` or if the worker exits first. */
  waitFor(predicate: (e: WorkerEvent) => boolean, timeoutMs: number): Promise<WorkerEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.events.find(predicate);
        if (hit) {
          cleanup();
          resolve(hit);
        }
        return hit !== undefined;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`worker ${this.pid}: no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-5))}; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const onExit = (): void => {
        setTimeout(() => {
          if (!check()) {
            cleanup();
            reject(new Error(`worker ${this.pid} exited; events: ${JSON.stringify(this.events.slice(-5))}; stderr: ${this.stderr.slice(-2000)}`));
          }
        }, 50);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        this.child.off('exit', onExit);
      };
      const listener = (): void => void check();
      if (check()) return;
      this.listeners.push(listener);
      this.child.on('exit', onExit);
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }
}

/** The machine-wide monotonic clock in ms, as the workers report it. */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}
