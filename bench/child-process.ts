/**
 * A lock process for the multi-process scenarios: bench/lock-child.ts run with
 * `node -r ts-node/register/transpile-only`, driven by JSON lines on stdin, answering on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ColumnConfig } from './lock-column';

const ROOT = join(__dirname, '..');

/** One JSON line a child printed. */
export interface ChildEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

export class LockChild {
  private readonly child: ChildProcess;
  private readonly events: ChildEvent[] = [];
  private wakeUp: (() => void) | undefined;
  private stderr = '';
  private exited = false;
  private readonly exit: Promise<void>;

  constructor(config: ColumnConfig) {
    this.child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'bench/lock-child.ts'), JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ChildEvent);
      } catch {
        this.stderr += `[stdout] ${line}\n`;
      }
      this.wakeUp?.();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.exit = new Promise((resolve) =>
      this.child.on('exit', () => {
        this.exited = true;
        this.wakeUp?.();
        resolve();
      }),
    );
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(command) + '\n');
  }

  /** The next event (in order); it must be named `event`. Rejects after `timeoutMs` or when the child exits. */
  async next(event: string, timeoutMs: number): Promise<ChildEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const first = this.events.shift();
      if (first) {
        if (first.event === event) return first;
        throw new Error(`bench child ${this.child.pid}: expected "${event}", got ${JSON.stringify(first)}; stderr: ${this.stderr}`);
      }
      if (this.exited) throw new Error(`bench child ${this.child.pid} exited while "${event}" was awaited; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bench child ${this.child.pid}: no "${event}" within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /** Asks the child to close its manager and exit; kills it if it does not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.send({ cmd: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exit;
    clearTimeout(timer);
  }
}

/** Starts `count` children and waits until each has probed the store. */
export async function startChildren(config: ColumnConfig, count: number): Promise<LockChild[]> {
  const children = Array.from({ length: count }, () => new LockChild(config));
  try {
    await Promise.all(children.map((c) => c.next('ready', 60_000)));
  } catch (error) {
    await Promise.allSettled(children.map((c) => c.stop()));
    throw error;
  }
  return children;
}
