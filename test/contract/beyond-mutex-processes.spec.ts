/**
 * Semaphores, multi-name using() and leader election across OS processes, on every store and both
 * protocols (the in-process properties are in beyond-mutex.spec.ts). The workers
 * (test/workers/beyond-mutex-worker.ts) append their sections to a shared JSONL log with times from
 * the machine-wide monotonic clock; the tests judge the log.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { WorkerProcess, monoMs, type WorkerEvent } from '../support/worker-process';

const WORKER = 'test/workers/beyond-mutex-worker.ts';
const TTL = 3_000;
/** Worst case from a holder's last write to a takeover (the same slack as multi-process.spec.ts): TTL + 1 s date resolution + 0.5 s tolerance + 1 s date floor + a poll. */
const slackMs = 3_500;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

interface Span {
  pid: number;
  start: number;
  end: number;
}

/** The most spans open at one instant (a span ending when another starts does not overlap it). */
function mostAtOnce(spans: readonly Span[]): number {
  const points = spans.flatMap((s) => [[s.start, 1] as const, [s.end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, step] of points) {
    open += step;
    most = Math.max(most, open);
  }
  return most;
}

/** Spans sorted by start, each starting no earlier than the one before ended; tokens strictly increasing in that order. */
function expectSerial<T extends Span>(spans: readonly T[], token: (s: T) => number): void {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const [before, after] = [sorted[i - 1]!, sorted[i]!];
    if (after.start < before.end || token(after) <= token(before)) {
      throw new Error(`sections out of order: ${JSON.stringify(before)} then ${JSON.stringify(after)}`);
    }
  }
}

function readLog<T>(file: string): T[] {
  const text = readFileSync(file, 'utf8').trim();
  return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as T);
}

function newLog(): string {
  const file = join(mkdtempSync(join(tmpdir(), 's3lock-beyond-')), 'sections.jsonl');
  writeFileSync(file, '');
  return file;
}

const failures = (w: WorkerProcess): WorkerEvent[] => w.events.filter((e) => e.event === 'error' || e.event === 'unhandledRejection');

describe.each(PROTOCOL_CASES)('beyond one mutex, several OS processes ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  const workers: WorkerProcess[] = [];
  const spawn = (config: Record<string, unknown>): WorkerProcess => {
    const w = new WorkerProcess({ endpoint: target.endpoint, ...target.credentials, bucket, protocol, ttlMs: TTL, ...config }, {}, WORKER);
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
  });
  afterEach(async () => {
    const stopped = workers.splice(0);
    await Promise.all(stopped.map((w) => w.stop()));
    // nothing on stderr: no SDK warning, no crash report
    for (const w of stopped) expect({ pid: w.pid, stderr: w.errorOutput }).toEqual({ pid: w.pid, stderr: '' });
  });

  describe('semaphore of 2 permits', () => {
    interface PermitSection extends Span {
      i: number;
      permit: number;
      token: number;
      lost: boolean;
    }

    it('4 processes: never more than 2 holders at once, 2 at once seen, tokens increase per permit', async () => {
      const logFile = newLog();
      const procs = [0, 1, 2, 3].map(() => spawn({ mode: 'sem-contend', name: 'pool', permits: 2, iterations: 5, holdMs: [150, 300], logFile }));
      await Promise.all(procs.map((p) => p.waitFor((e) => e.event === 'done', 40_000)));
      for (const p of procs) expect(failures(p)).toEqual([]);
      const sections = readLog<PermitSection>(logFile);
      expect(sections).toHaveLength(20);
      expect(new Set(sections.map((s) => s.pid)).size).toBe(4);
      expect(sections.every((s) => !s.lost)).toBe(true);
      expect(new Set(sections.map((s) => s.permit))).toEqual(new Set([0, 1]));
      expect(mostAtOnce(sections)).toBe(2);
      // each permit is a mutex of its own: its sections never overlap, its tokens increase
      for (const permit of [0, 1]) expectSerial(sections.filter((s) => s.permit === permit), (s) => s.token);
    }, 60_000);

    it("a SIGKILLed holder's permit is taken over by a waiting process within TTL + slack, and only that one", async () => {
      const name = 'pool-kill';
      const procs = [0, 1, 2, 3].map(() => spawn({ mode: 'sem-hold', name, permits: 2 }));
      // each process either gets a permit at once or says it waits for one
      const firstSaid = await Promise.all(procs.map((p) => p.waitFor((e) => e.event === 'acquired' || e.event === 'waiting', 30_000)));
      const holders = procs.filter((_, i) => firstSaid[i]!.event === 'acquired');
      const waiters = procs.filter((_, i) => firstSaid[i]!.event === 'waiting');
      expect(holders).toHaveLength(2);
      expect(waiters).toHaveLength(2);
      const [first, second] = holders.map((h) => h.events.find((e) => e.event === 'acquired')!) as [WorkerEvent, WorkerEvent];
      expect(new Set([first.permit, second.permit])).toEqual(new Set([0, 1]));

      holders[0]!.signal('SIGKILL');
      const killedAt = monoMs();
      const got = await Promise.race(waiters.map((w) => w.waitFor((e) => e.event === 'acquired', TTL + slackMs + 10_000)));
      expect(got.at - killedAt).toBeLessThanOrEqual(TTL + slackMs);
      expect(got.pid).not.toBe(holders[0]!.pid);
      expect(got.permit).toBe(first.permit);
      expect(got.token as number).toBeGreaterThan(first.token as number);

      // One permit came free, so one waiter got in: the other still waits while two hold.
      await new Promise((r) => setTimeout(r, 1_000));
      const acquired = waiters.flatMap((w) => w.events.filter((e) => e.event === 'acquired'));
      expect(acquired).toHaveLength(1);
      expect(holders[1]!.events.filter((e) => e.event === 'lost')).toEqual([]);
      const ticks = holders[1]!.events.filter((e) => e.event === 'tick');
      expect(ticks.length).toBeGreaterThan(0);
      expect(ticks.every((e) => e.held === true && e.permit === second.permit)).toBe(true);
      for (const w of procs) expect(failures(w)).toEqual([]);
    }, 60_000);
  });

  describe('using() several names', () => {
    interface MultiSection extends Span {
      i: number;
      asked: string[];
      names: string[];
      tokens: Record<string, number>;
      lost: boolean;
    }

    it('3 processes on overlapping pairs in different orders: all finish, no name overlaps, tokens increase per name', async () => {
      const logFile = newLog();
      const [a, b, c] = ['pair:a', 'pair:b', 'pair:c'];
      const orders = [
        [[a, b], [b, a]],
        [[c, b], [b, c]],
        [[c, a], [a, c]],
      ];
      const limitMs = 40_000;
      const started = monoMs();
      const procs = orders.map((o) => spawn({ mode: 'multi-contend', orders: o, iterations: 6, holdMs: [20, 60], waitMs: 30_000, logFile }));
      // no deadlock: every caller finishes within the time limit
      const done = await Promise.all(procs.map((p) => p.waitFor((e) => e.event === 'done', limitMs)));
      expect(Math.max(...done.map((e) => e.at)) - started).toBeLessThan(limitMs);
      for (const p of procs) expect(failures(p)).toEqual([]);

      const sections = readLog<MultiSection>(logFile);
      expect(sections).toHaveLength(18);
      expect(sections.every((s) => !s.lost)).toBe(true);
      for (const s of sections) {
        expect(s.names).toEqual([...s.asked].sort());
        expect(Object.keys(s.tokens).sort()).toEqual(s.names);
      }
      for (const n of [a, b, c]) {
        const onName = sections.filter((s) => s.names.includes(n));
        expect(onName).toHaveLength(12);
        expectSerial(onName, (s) => s.tokens[n]!);
      }
    }, 60_000);
  });

  describe('election among 3 processes', () => {
    interface TermRecord {
      pid: number;
      kind: 'begin' | 'end';
      token: number;
      start: number;
      end?: number;
    }

    it('one leader at a time; a SIGKILLed leader is replaced within TTL + slack, a SIGTERMed one within 2 s; terms tokens increase', async () => {
      const logFile = newLog();
      const procs = [0, 1, 2].map(() => spawn({ mode: 'elect', name: 'leader', logFile }));
      await Promise.all(procs.map((p) => p.waitFor((e) => e.event === 'sees-leader', 30_000)));
      const byPid = (pid: number): WorkerProcess => procs.find((p) => p.pid === pid)!;
      const electedAfter = (at: number, among: readonly WorkerProcess[], timeoutMs: number): Promise<WorkerEvent> =>
        Promise.race(among.map((p) => p.waitFor((e) => e.event === 'elected' && e.at > at, timeoutMs)));

      const firstTerms = procs.flatMap((p) => p.events.filter((e) => e.event === 'elected'));
      expect(firstTerms).toHaveLength(1);
      const first = firstTerms[0]!;
      const seen = procs.map((p) => p.events.find((e) => e.event === 'sees-leader')!);
      expect(seen.every((e) => e.leaderPid === first.pid && e.token === first.token)).toBe(true);

      // SIGKILL: no resignation, so the lease has to expire
      const killed = byPid(first.pid);
      killed.signal('SIGKILL');
      const killedAt = monoMs();
      const survivors = procs.filter((p) => p !== killed);
      const second = await electedAfter(killedAt, survivors, TTL + slackMs + 10_000);
      expect(second.at - killedAt).toBeLessThanOrEqual(TTL + slackMs);
      expect(second.token as number).toBeGreaterThan(first.token as number);

      // SIGTERM: the worker calls election.stop(), which resigns at once
      const resigning = byPid(second.pid);
      const last = survivors.find((p) => p !== resigning)!;
      await new Promise((r) => setTimeout(r, 300)); // a term of some length
      resigning.signal('SIGTERM');
      const termAt = monoMs();
      const third = await electedAfter(termAt, [last], 10_000);
      expect(third.at - termAt).toBeLessThan(2_000);
      expect(third.token as number).toBeGreaterThan(second.token as number);
      expect(await resigning.exited).toBe(0);
      expect(resigning.events.find((e) => e.event === 'revoked')?.reason).toBe('resigned');
      expect(resigning.events.find((e) => e.event === 'stopped')?.isLeader).toBe(false);

      // end the last term the same way, so every surviving term has its end in the log
      last.signal('SIGTERM');
      expect(await last.exited).toBe(0);
      for (const p of procs) expect(failures(p)).toEqual([]);

      const records = readLog<TermRecord>(logFile);
      const begins = records.filter((r) => r.kind === 'begin');
      expect(begins.map((r) => r.pid)).toEqual([first.pid, second.pid, third.pid]);
      // a term ends when its signal aborts; the SIGKILLed leader's, when it died
      const terms = begins.map((b) => {
        const end = records.find((r) => r.kind === 'end' && r.pid === b.pid && r.token === b.token)?.end ?? (b.pid === killed.pid ? killedAt : undefined);
        if (end === undefined) throw new Error(`term without an end: ${JSON.stringify(b)}`);
        return { pid: b.pid, token: b.token, start: b.start, end };
      });
      expect(mostAtOnce(terms)).toBe(1);
      expectSerial(terms, (t) => t.token);
    }, 60_000);
  });
});
