/**
 * Capacity: how many locks one process holds before leases are lost. For each size, a child
 * process (bench/capacity-child.ts) acquires that many names with a short TTL, holds them while
 * they renew, and reports losses (with their reasons and causes) and renewal times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CapacityStep } from './capacity-child';
import type { LockColumn } from './lock-column';
import { summarize } from './stats';

export type { CapacityStep } from './capacity-child';

export interface CapacityResult {
  readonly ttlMs: number;
  readonly steps: readonly CapacityStep[];
  /** Locks held while other clients load the store harder and harder (see {@link measureOverload}). */
  readonly overload?: OverloadResult;
}

export interface OverloadPhase {
  /** PUTs in flight from the other clients during this phase. */
  readonly loadConcurrency: number;
  readonly renewals: number;
  readonly renewalP99Ms: number;
  readonly lost: number;
  /** Lost leases of this phase per cause (first line, digits as N). */
  readonly lostByCause: Readonly<Record<string, number>>;
}

export interface OverloadResult {
  readonly locks: number;
  readonly acquired: number;
  readonly phaseS: number;
  readonly phases: readonly OverloadPhase[];
}

const ROOT = join(__dirname, '..');

export async function measureCapacity(
  column: LockColumn,
  options: { readonly locks: readonly number[]; readonly ttlMs: number; readonly holdMs: number; readonly log?: (line: string) => void },
): Promise<CapacityResult> {
  const steps: CapacityStep[] = [];
  for (const locks of options.locks) {
    const step = await runStep(column, { locks, ttlMs: options.ttlMs, holdMs: options.holdMs });
    steps.push(step);
    options.log?.(
      `${column.label}: capacity ${locks} locks: ${step.lost} lost, renewal p50 ${step.renewalMs.median} ms, p99 ${step.renewalMs.p99} ms, ${Math.round(step.requestsPerS)} requests/s`,
    );
    // past the point where most leases are lost, larger sizes say nothing more
    if (step.lost > step.acquired / 2) break;
  }
  return { ttlMs: options.ttlMs, steps };
}

/**
 * Overload: one process holds `locks` (within its capacity) while other clients put more and more
 * load on the store, phase by phase. Shows how leases are lost once the store cannot keep up: one
 * by one, each with its cause, or all at once.
 */
export async function measureOverload(
  column: LockColumn,
  options: { readonly locks: number; readonly ttlMs: number; readonly phaseMs: number; readonly loads: readonly number[] },
): Promise<OverloadResult> {
  const holdMs = options.phaseMs * options.loads.length;
  const boundaries: number[] = [];
  let load: ChildProcess | undefined;
  const step = await runStep(column, { locks: options.locks, ttlMs: options.ttlMs, holdMs, timeline: true }, async () => {
    for (const concurrency of options.loads) {
      boundaries.push(Date.now());
      load = concurrency > 0 ? startLoad(column, concurrency) : undefined;
      await new Promise((resolve) => setTimeout(resolve, options.phaseMs));
      load?.kill();
    }
    boundaries.push(Date.now());
  }).finally(() => load?.kill());
  const phases = options.loads.map((loadConcurrency, i): OverloadPhase => {
    const inPhase = (at: number): boolean => at >= boundaries[i]! && at < boundaries[i + 1]!;
    const renewals = (step.renewalsAt ?? []).filter(([at]) => inPhase(at)).map(([, ms]) => ms);
    const losses = (step.lossesAt ?? []).filter(([at]) => inPhase(at));
    const lostByCause: Record<string, number> = {};
    for (const [, cause] of losses) lostByCause[cause] = (lostByCause[cause] ?? 0) + 1;
    return { loadConcurrency, renewals: renewals.length, renewalP99Ms: summarize(renewals).p99, lost: losses.length, lostByCause };
  });
  return { locks: options.locks, acquired: step.acquired, phaseS: options.phaseMs / 1000, phases };
}

function startLoad(column: LockColumn, concurrency: number): ChildProcess {
  const config = { ...column.config, concurrency, prefix: `load-${randomBytes(4).toString('hex')}/` };
  return spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'bench/store-load.ts'), JSON.stringify(config)], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: 'ignore',
  });
}

async function runStep(
  column: LockColumn,
  sizes: { locks: number; ttlMs: number; holdMs: number; timeline?: boolean },
  whileHolding?: () => Promise<void>,
): Promise<CapacityStep> {
  const config = { ...column.config, ...sizes, prefix: `capacity-${randomBytes(4).toString('hex')}/` };
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'bench/capacity-child.ts'), JSON.stringify(config)], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let during: Promise<void> | undefined;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (whileHolding && !during && /^holding /m.test(stdout)) during = whileHolding();
  });
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await during;
  if (code !== 0) throw new Error(`capacity child exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as CapacityStep;
}
