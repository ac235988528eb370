import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { realpathSync } from 'node:fs';

/**
 * The installed `nestjs-s3-lock` bin under test: `NESTJS_S3_LOCK_BIN`, the path of
 * `node_modules/.bin/nestjs-s3-lock` in a project that installed the packed tarball
 * (scripts/test-cli.sh makes one). Missing: every test fails, naming the variable.
 */
export function cliBin(): string {
  const bin = process.env.NESTJS_S3_LOCK_BIN;
  if (!bin) throw new Error('NESTJS_S3_LOCK_BIN is not set: run the CLI tests with scripts/test-cli.sh (it packs and installs the package)');
  return bin;
}

/** The installed package's folder (for the holder processes, which use it as an app would). */
export function installedPackage(): string {
  return resolve(dirname(realpathSync(cliBin())), '..', '..');
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bin with `args` and `env` added to this process's environment; no terminal, stdin closed. */
export function runBin(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(cliBin(), [...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Runs the bin with `--json` and parses stdout (which must be one JSON document). */
export async function runJson<T = unknown>(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; json: T; stderr: string }> {
  const r = await runBin([...args, '--json'], env);
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout of ${args.join(' ')} is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { code: r.code, json, stderr: r.stderr };
}

/** A long-running process whose stdout lines can be awaited. */
export class LineProcess {
  readonly lines: string[] = [];
  private waiters: Array<{ test: (l: string) => boolean; done: (l: string) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffer += c.toString();
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.test(line) ? (w.done(line), false) : true));
      }
    });
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }

  /** The first line (already printed or to come) that matches, within `timeoutMs`. */
  line(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const found = this.lines.find((l) => pattern.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((done, fail) => {
      const t = setTimeout(() => fail(new Error(`no line matching ${pattern} within ${timeoutMs} ms; lines so far:\n${this.lines.join('\n')}`)), timeoutMs);
      this.waiters.push({ test: (l) => pattern.test(l), done: (l) => (clearTimeout(t), done(l)) });
    });
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin?.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

export const HOLDER_SCRIPT = join(__dirname, 'holder.js');
