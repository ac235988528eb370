import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3LockManager } from '../../src';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { WorkerProcess, monoMs } from '../support/worker-process';

/** Worst case from a holder's last write to a takeover: TTL + 1 s date resolution + 0.5 s tolerance + 1 s date floor + a poll. */
const slackMs = 3_500;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

interface Section {
  pid: number;
  start: number;
  end: number;
  token: number;
  lost: boolean;
}

describe.each(PROTOCOL_CASES)('several OS processes ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  const workers: WorkerProcess[] = [];
  const spawn = (config: Record<string, unknown>, env: Record<string, string> = {}): WorkerProcess => {
    const w = new WorkerProcess(
      { endpoint: target.endpoint, ...target.credentials, bucket, protocol, ...config },
      env,
    );
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  it('3 processes x 8 acquisitions: sections never overlap, tokens increase, all succeed', async () => {
    const logFile = join(mkdtempSync(join(tmpdir(), 's3lock-')), 'sections.jsonl');
    writeFileSync(logFile, '');
    const procs = [0, 1, 2].map(() => spawn({ mode: 'contend', name: 'contended', ttlMs: 5_000, iterations: 8, holdMs: [2, 15], logFile }));
    await Promise.all(procs.map((p) => p.waitFor((e) => e.event === 'done', 170_000)));
    for (const p of procs) expect(p.events.filter((e) => e.event === 'error' || e.event === 'unhandledRejection')).toEqual([]);
    const sections = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Section);
    expect(sections).toHaveLength(24);
    sections.sort((a, b) => a.start - b.start);
    for (let i = 1; i < sections.length; i++) {
      expect(sections[i]!.start).toBeGreaterThanOrEqual(sections[i - 1]!.end);
      expect(sections[i]!.token).toBeGreaterThan(sections[i - 1]!.token);
    }
    expect(sections.every((s) => !s.lost)).toBe(true);
    expect(new Set(sections.map((s) => s.pid)).size).toBe(3);
  }, 180_000);

  it.each([
    ['SIGKILL', 'killed'],
    ['SIGSTOP', 'paused'],
  ])('a holder that stops renewing (%s) loses the lock within TTL + slack; the next token is larger', async (sig, _what) => {
    const ttlMs = 3_000;
    const holder = spawn({ mode: 'hold', name: `stopped-${sig}`, ttlMs });
    const acquired = await holder.waitFor((e) => e.event === 'acquired', 30_000);
    const client = target.createClient();
    const manager = new S3LockManager({ client, bucket, protocol, ttlMs });
    try {
      const lock = manager.lock(`stopped-${sig}`);
      expect(await lock.tryAcquire()).toBe(false);
      holder.signal(sig as NodeJS.Signals);
      const stoppedAt = monoMs();
      await lock.acquire({ waitMs: ttlMs + slackMs + 5_000 });
      const tookOverAfter = monoMs() - stoppedAt;
      expect(tookOverAfter).toBeLessThanOrEqual(ttlMs + slackMs);
      expect(lock.fencingToken).toBeGreaterThan(acquired.token as number);
      if (sig === 'SIGSTOP') {
        holder.signal('SIGCONT');
        const lost = await holder.waitFor((e) => e.event === 'lost', 10_000);
        expect(['deadline-passed', 'taken-over']).toContain(lost.reason);
        expect(lost.error).toBe('S3LockLostError');
        // The resumed holder never believes it still holds the lock.
        await new Promise((r) => setTimeout(r, 500));
        const after = holder.events.filter((e) => e.event === 'tick' && e.at > lost.at);
        expect(after.every((e) => e.held === false && e.aborted === true)).toBe(true);
        expect(lock.isHeld).toBe(true);
      }
      await lock.release();
    } finally {
      await manager.close();
    }
  }, 60_000);

  it.each([
    ['+1 hour', 3_600_000],
    ['-1 hour', -3_600_000],
  ])('a client whose clock is off by %s neither steals a live lock nor keeps waiting for a dead one', async (_label, skew) => {
    const ttlMs = 3_000;
    const name = `skew${skew > 0 ? 'ahead' : 'behind'}`;
    const env = { VERIFY_SKEW_MS: String(skew) };
    // A live lock, renewed by a normal holder: the skewed client never gets it over 2 TTLs (each
    // renewal of the holder in between moves the expiry it would have to misjudge).
    const holder = spawn({ mode: 'hold', name, ttlMs });
    await holder.waitFor((e) => e.event === 'acquired', 30_000);
    const thief = spawn({ mode: 'try-loop', name, ttlMs, durationMs: ttlMs * 2 }, env);
    const done = await thief.waitFor((e) => e.event === 'done', 60_000);
    expect(done.attempts as number).toBeGreaterThan(3);
    expect(thief.events.filter((e) => e.event === 'acquired')).toEqual([]);
    expect(thief.events.filter((e) => e.event === 'error')).toEqual([]);
    // The holder dies: the skewed client takes over within TTL + slack, not an hour off.
    const waiter = spawn({ mode: 'acquire', name, ttlMs, waitMs: 30_000 }, env);
    await waiter.waitFor((e) => e.event === 'waiting', 60_000); // started, and found the lock held
    holder.signal('SIGKILL');
    const killedAt = monoMs();
    const got = await waiter.waitFor((e) => e.event === 'acquired', ttlMs + slackMs + 10_000);
    expect(got.at - killedAt).toBeLessThanOrEqual(ttlMs + slackMs);
  }, 90_000);
});
