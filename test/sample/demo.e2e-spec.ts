/**
 * `npm run demo`, shortened (DEMO_SECONDS=12), against the store of this jest project: three
 * instances of the sample app in their own processes share a fresh bucket; one is SIGKILLed in the
 * middle of a queue-worker batch. The demo's JSON summary must show every cron tick run exactly
 * once, no two runs under one lock at the same time, fencing tokens increasing, the killed
 * instance's lock taken over by another instance after the TTL with a higher token, and one 200
 * with the others 423 for the same report requested on every instance at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze, type DemoSummary, type RequestResult } from '../../scripts/demo/analysis';
import type { DemoEvent } from '../../scripts/demo/instance-process';
import { storeTarget, type StoreTarget } from '../support/store-target';

const ROOT = join(__dirname, '..', '..');
const DEMO_SECONDS = 12;
const TTL_MS = 5_000;
const RUN_TIMEOUT_MS = 100_000;

type Summary = DemoSummary & { requests: DemoSummary['requests'] & { list: (RequestResult & { holder?: string })[] } };

describe('the demo (sample app in three processes, one SIGKILLed)', () => {
  let target: StoreTarget;
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    target = await storeTarget();
    dir = mkdtempSync(join(tmpdir(), 's3-lock-demo-'));
  });

  afterAll(async () => {
    // the demo runs in its own process group (detached): this kills it and its instances
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs each cron tick once, hands the killed instance’s lock over with a higher token, answers 200 / 423', async () => {
    const bucket = await target.createBucket();
    const summaryFile = join(dir, 'summary.json');
    let output = '';
    child = spawn('bash', [join(ROOT, 'scripts', 'demo.sh')], {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        S3_ENDPOINT: target.endpoint,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: target.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
        DEMO_SECONDS: String(DEMO_SECONDS),
        DEMO_TTL_MS: String(TTL_MS),
        DEMO_SUMMARY_FILE: summaryFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), RUN_TIMEOUT_MS);
      child!.once('exit', (exitCode, signal) => {
        clearTimeout(timer);
        resolve(exitCode ?? signal);
      });
    });
    if (code !== 0) throw new Error(`the demo ended with ${String(code)}:\n${output}`);

    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
    expect(summary.failures).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.crashed).toEqual([]);

    // the cron job: about one run per second, never two for one tick
    expect(summary.ticks.duplicates).toEqual([]);
    expect(summary.ticks.seen).toBeGreaterThanOrEqual(DEMO_SECONDS - 4);
    expect(summary.ticks.runs).toBe(summary.ticks.seen);

    // no two runs under one lock at the same time; tokens grow run after run
    expect(summary.overlaps).toEqual([]);
    for (const series of summary.tokens) expect(series.violations).toEqual([]);
    expect(summary.tokens.find((s) => s.lock === 'queue-worker')?.runs).toBeGreaterThanOrEqual(2);

    // one instance killed while running a worker batch; another took its lock after the TTL
    expect(summary.kills).toHaveLength(1);
    const [kill] = summary.kills;
    expect(kill!.held.map((h) => h.lock)).toContain('queue-worker');
    const takeover = summary.takeovers.find((t) => t.lock === 'queue-worker');
    expect(takeover).toBeDefined();
    expect(takeover!.from).toBe(kill!.instance);
    expect(takeover!.to).not.toBe(kill!.instance);
    expect(takeover!.tokenAfter).toBeGreaterThan(takeover!.tokenBefore);
    // the lease outlived the dead holder: its TTL minus the time since its last renewal (TTL / 3)
    expect(takeover!.afterMs).toBeGreaterThan(TTL_MS / 2);
    expect(takeover!.afterMs).toBeLessThan(4 * TTL_MS);

    // the fenced ledger only ever saw growing tokens
    expect(summary.ledger.writes).toBeGreaterThan(0);
    expect(summary.ledger.tokensNeverDecreased).toBe(true);
    expect(summary.ledger.refused).toBe(0);

    // POST /reports/42 on all three at once: one builds it, the others answer 423 naming it
    const first = summary.requests.list.filter((r) => r.round === 1);
    expect(first).toHaveLength(3);
    const ok = first.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(typeof ok[0]!.token).toBe('number');
    const locked = first.filter((r) => r.status === 423);
    expect(locked).toHaveLength(2);
    for (const r of locked) expect(r.holder).toBe(ok[0]!.instance);

    expect(output).toContain('RESULT: PASS');
  }, RUN_TIMEOUT_MS + 20_000);
});

describe('the demo\'s checks (scripts/demo/analysis.ts)', () => {
  const instance = (name: string, killedAt?: number) => ({ name, pid: 1, killedAt, stopRequested: killedAt === undefined, exitCode: null, exitSignal: killedAt === undefined ? 'SIGTERM' : 'SIGKILL', exitedAt: 100_000 });
  const run = (who: string, lock: string, token: number, start: number, end: number, extra: Record<string, unknown> = {}): DemoEvent[] => [
    { instance: who, event: 'acquired', lock, token, mono: start - 1, owner: `${who}-${token}` },
    { instance: who, event: 'run.start', job: lock === 'tick-job' ? 'tick' : 'worker', lock, token, mono: start, ...extra },
    { instance: who, event: 'run.end', job: lock === 'tick-job' ? 'tick' : 'worker', lock, token, mono: end, ...extra },
    { instance: who, event: 'released', lock, token, mono: end + 1 },
  ];

  it('pass: one run per tick, disjoint runs, growing tokens', () => {
    const events = [...run('A', 'tick-job', 1, 1_000, 1_001, { second: 10 }), ...run('B', 'tick-job', 3, 2_000, 2_001, { second: 11 })];
    const summary = analyze({ events, requests: [], instances: [instance('A'), instance('B')] });
    expect(summary.failures).toEqual([]);
    expect(summary.ticks).toMatchObject({ seen: 2, duplicates: [], missed: [] });
  });

  it('fails on a tick run twice, on runs that overlap and on a token that did not grow', () => {
    const events = [
      ...run('A', 'tick-job', 5, 1_000, 1_500, { second: 10 }),
      ...run('B', 'tick-job', 3, 1_200, 1_300, { second: 10 }),
      ...run('A', 'tick-job', 7, 3_000, 3_001, { second: 12 }),
    ].sort((a, b) => a.mono - b.mono);
    const summary = analyze({ events, requests: [], instances: [instance('A'), instance('B')] });
    expect(summary.ok).toBe(false);
    expect(summary.ticks.duplicates).toEqual([10]);
    expect(summary.ticks.missed).toEqual([11]);
    expect(summary.overlaps).toHaveLength(1);
    expect(summary.tokens[0]!.violations).toEqual([{ previous: 5, token: 3, instance: 'B' }]);
    expect(summary.failures).toHaveLength(3);
  });

  it('fails when nobody takes over the lock a killed instance held, and counts its open run until the kill', () => {
    const events = [run('A', 'queue-worker', 4, 1_000, 0)[0]!, run('A', 'queue-worker', 4, 1_000, 0)[1]!, ...run('B', 'queue-worker', 5, 1_500, 2_000)];
    const summary = analyze({ events, requests: [], instances: [instance('A', 3_000), instance('B')] });
    expect(summary.overlaps).toHaveLength(1); // B ran while A (killed only at 3000) still did
    expect(summary.failures.some((f) => f.includes("nobody took over 'queue-worker'"))).toBe(true);
    expect(summary.ok).toBe(false);
  });
});
