/**
 * One instance of the sample app (sample/main.ts) in its own OS process, with the JSON event
 * lines it prints (sample/event-log.ts). Stays in the demo's process group, so Ctrl-C reaches it
 * too and a test can kill the whole group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** One line printed by an instance (or added by the demo: `kill`, `exit`). */
export interface DemoEvent {
  readonly instance: string;
  readonly event: string;
  /** process.hrtime in ms (machine-wide monotonic clock). */
  readonly mono: number;
  readonly wall?: string;
  readonly lock?: string;
  readonly token?: number;
  readonly job?: 'tick' | 'report' | 'worker';
  readonly [field: string]: unknown;
}

/** Monotonic time in ms, on the same clock as the instances' `mono`. */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

export const ROOT = join(__dirname, '..', '..');

/** stderr noise that says nothing about the demo. */
const IGNORED_STDERR = [/ExperimentalWarning/, /--trace-warnings/, /Support for loading ES Module in require/];

export interface InstanceOptions {
  readonly name: string;
  /** sample/main.ts (run through ts-node) or its transpiled main.js (build-sample.ts). */
  readonly entry: string;
  readonly env: Record<string, string>;
  /** Called for each event line, in order. */
  readonly onEvent: (event: DemoEvent) => void;
  /** Called for warnings and errors the instance logs (Nest's JSON log, stderr). */
  readonly onLog: (instance: string, line: string) => void;
}

export class InstanceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  port: number | undefined;
  killedAt: number | undefined;
  stopRequested = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  exitedAt: number | undefined;
  private readonly stderrTail: string[] = [];

  constructor(private readonly options: InstanceOptions) {
    this.name = options.name;
    const args = options.entry.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only', options.entry] : ['--enable-source-maps', options.entry];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env, INSTANCE: options.name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onStdout(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      if (line.trim() !== '' && !IGNORED_STDERR.some((re) => re.test(line))) options.onLog(this.name, describeLogLine(line));
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        this.exitedAt = monoMs();
        options.onEvent({ instance: this.name, event: 'exit', mono: this.exitedAt, code, signal });
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitedAt === undefined;
  }

  /** The last lines of stderr, for a failure message. */
  get stderr(): string {
    return this.stderrTail.join('\n');
  }

  /** SIGKILL: no shutdown hook runs, the locks it holds stay until their TTL runs out. */
  kill(): number {
    this.killedAt = monoMs();
    this.options.onEvent({ instance: this.name, event: 'kill', mono: this.killedAt, pid: this.pid });
    this.child.kill('SIGKILL');
    return this.killedAt;
  }

  /** SIGTERM (graceful: Nest's shutdown hooks release the locks), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.stopRequested = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onStdout(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (line.trim() !== '') this.options.onLog(this.name, line);
      return;
    }
    if (parsed === null || typeof parsed !== 'object') return;
    const record = parsed as Record<string, unknown>;
    if (typeof record.event === 'string' && typeof record.mono === 'number') {
      const event = record as unknown as DemoEvent;
      if (event.event === 'listening' && typeof record.port === 'number') this.port = record.port;
      this.options.onEvent(event);
    } else if (typeof record.level === 'string') {
      // Nest's JSON log: the sample prints warnings and errors only
      this.options.onLog(this.name, describeLogLine(line));
    }
  }
}

/** A Nest JSON log line as `level: message (context)`; other lines as they are. */
function describeLogLine(line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    if (typeof record.level === 'string' && 'message' in record) {
      const message = typeof record.message === 'string' ? record.message : JSON.stringify(record.message);
      return `${record.level}: ${message}${typeof record.context === 'string' ? ` (${record.context})` : ''}`;
    }
  } catch {
    // not JSON
  }
  return line;
}
