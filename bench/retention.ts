/**
 * Memory per lock name: bytes of heap a manager retains per name once the names it used went idle
 * (bench/retention-child.ts, in a child process). Should be about 0: nothing of an idle name is kept.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LockColumn } from './lock-column';

export interface RetentionResult {
  readonly names: number;
  /** Heap after GC at the end of the second round minus at the end of the first, per name. */
  readonly bytesPerName: number;
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly churnMs: number;
  /** Entries per internal map right after the second round (fresh caches), and once idle. */
  readonly entriesWhileFresh: Readonly<Record<string, number>>;
  readonly entriesIdle: Readonly<Record<string, number>>;
}

const ROOT = join(__dirname, '..');

export async function measureRetention(column: LockColumn, names: number): Promise<RetentionResult> {
  const config = { ...column.config, names, prefix: `retention-${randomBytes(4).toString('hex')}/` };
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'bench/retention-child.ts'), JSON.stringify(config)], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`retention child exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as RetentionResult;
}
