import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHistory, loadHistory, type ViolationRule } from './checker';
import type { AttemptRecord, History, OperationRecord, PauseRecord, RunRecord, SectionRecord, WorkerInfo } from './history';

// Hand-made histories, one per rule. Worker i has pid 100 + i.

function section(worker: number, name: string, token: number | null, start: number, end: number, extra: Partial<SectionRecord> = {}): SectionRecord {
  return {
    type: 'section',
    worker,
    pid: 100 + worker,
    loop: 0,
    name,
    api: 'acquire',
    askedAt: start - 5,
    start,
    end,
    waitMs: 1_000,
    waitedMs: 5,
    token,
    leaseId: `lease-${String(token)}`,
    ownerId: `owner-${worker}`,
    lossAt: null,
    lossReason: null,
    heldAtStart: true,
    writes: token === null ? [] : [{ sentAt: start + 1, at: start + 2, token, accepted: true, highest: token }],
    releasedAt: end + 3,
    releaseError: null,
    errors: [],
    ...extra,
  };
}

function attempt(worker: number, askedAt: number, doneAt: number, waitMs: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return { type: 'attempt', worker, pid: 100 + worker, loop: 0, name: 'a', api: 'acquire', askedAt, doneAt, waitMs, outcome: 'acquired', ...extra };
}

function workerInfo(index: number, extra: Partial<WorkerInfo> = {}): WorkerInfo {
  return { index, pid: 100 + index, skewMs: 0, exitCode: 0, signal: null, killed: false, stderrTail: '', ...extra };
}

function history(
  parts: { sections?: SectionRecord[]; attempts?: AttemptRecord[]; pauses?: PauseRecord[]; workers?: WorkerInfo[]; crashes?: History['crashes']; operations?: OperationRecord[] } = {},
): History {
  const workers = parts.workers ?? [workerInfo(0), workerInfo(1)];
  const run: RunRecord = {
    store: 'memory',
    endpoint: 'http://127.0.0.1:1',
    protocol: 'create-only',
    seconds: 1,
    ttlMs: 3_000,
    names: ['a'],
    faults: true,
    startedAt: 0,
    stoppedAt: 10_000,
    workers,
    pauses: parts.pauses ?? [],
    faultCounts: {},
    resource: { accepted: 0, rejected: 0, byName: {} },
    bounds: { acquireSlackMs: 3_000, attemptBoundMs: 9_000, lossAfterResumeMs: 500, requestTimeoutMs: 2_000, interferenceSlackMs: 500 },
    operations: parts.operations ?? [],
    semaphores: { sem: 2 },
    elections: ['leader'],
  };
  return {
    run,
    sections: parts.sections ?? [],
    attempts: parts.attempts ?? [],
    crashes: parts.crashes ?? [],
    done: workers.map((w) => ({ type: 'done' as const, worker: w.index, pid: w.pid, at: 10_000, counts: {} })),
  };
}

/** A section of permit `permit` of semaphore "sem" (2 permits): the lock "sem#permit-<permit>". */
function permitSection(worker: number, permit: number, token: number | null, start: number, end: number, extra: Partial<SectionRecord> = {}): SectionRecord {
  return section(worker, `sem#permit-${permit}`, token, start, end, { kind: 'permit', semaphore: 'sem', permits: 2, permit, ...extra });
}

/** A multi-name section over `tokens`' names (name -> token), each lease with its own loss time (`lossAt`: name -> time). */
function multiSection(worker: number, tokens: Record<string, number>, start: number, end: number, extra: Partial<SectionRecord> & { lossAt?: number | null } = {}, losses: Record<string, number> = {}): SectionRecord {
  const names = Object.keys(tokens).sort();
  const leases = Object.fromEntries(
    names.map((n) => [n, { token: tokens[n]!, leaseId: `lease-${n}-${tokens[n]}`, ownerId: `owner-${worker}-${n}`, lossAt: losses[n] ?? null, lossReason: losses[n] === undefined ? null : 'taken-over', heldAtStart: true }]),
  );
  const writes = names.map((n) => ({ sentAt: start + 1, at: start + 2, name: n, token: tokens[n]!, accepted: true, highest: tokens[n]! }));
  return section(worker, names.join('+'), null, start, end, { kind: 'multi', api: 'using', names, leases, heldAtStart: null, writes, leaseId: null, ownerId: null, ...extra });
}

/** A leadership term of the election "leader". */
function term(worker: number, token: number | null, start: number, end: number, extra: Partial<SectionRecord> = {}): SectionRecord {
  return section(worker, 'leader', token, start, end, { kind: 'term', api: 'elect', ...extra });
}

function op(kind: OperationRecord['kind'], startAt: number, endAt: number, extra: Partial<OperationRecord> = {}): OperationRecord {
  return { kind, startAt, endAt, ...(kind === 'force-release' ? { name: 'a', trigger: 'random' as const, result: true } : {}), ...extra };
}

function rules(h: History): ViolationRule[] {
  return checkHistory(h).violations.map((v) => v.rule);
}

describe('checkHistory', () => {
  it('passes a clean history: sections in turn, tokens increasing, acquisitions in time, workers exited 0', () => {
    const h = history({
      sections: [section(0, 'a', 1, 100, 200), section(1, 'a', 2, 250, 300, { askedAt: 150 }), section(0, 'b', 1, 120, 400), section(1, 'a', 5, 300, 350)],
      attempts: [attempt(0, 95, 100, 1_000), attempt(1, 150, 250, 1_000), attempt(1, 500, 1_400, 1_000, { outcome: 'timeout' })],
    });
    const result = checkHistory(h);
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.stats.sections).toBe(4);
    expect(result.stats.handOffMs).toMatchObject({ count: 1, max: 50 });
  });

  describe('mutual-exclusion', () => {
    it('flags two sections of one name that overlap while neither lost its lease', () => {
      const h = history({ sections: [section(0, 'a', 1, 100, 300), section(1, 'a', 2, 200, 400)] });
      expect(rules(h)).toEqual(expect.arrayContaining(['mutual-exclusion', 'loss-not-signalled']));
    });

    it('flags an overlap whose loss signal fired only after the other section began', () => {
      const h = history({ sections: [section(0, 'a', 1, 100, 300, { lossAt: 250, lossReason: 'taken-over' }), section(1, 'a', 2, 200, 400)] });
      const v = checkHistory(h).violations;
      // taken over 100 ms after its grant: an early takeover as well
      expect(v.map((x) => x.rule)).toEqual(['mutual-exclusion', 'early-takeover']);
      expect(v[0]!.message).toContain('fired 50 ms after the overlap began');
    });

    it('accepts a section that goes on a little after its loss signal fired, before the next one began', () => {
      const h = history({ sections: [section(0, 'a', 1, 100, 260, { askedAt: -5_000, lossAt: 190, lossReason: 'deadline-passed' }), section(1, 'a', 2, 200, 400)] });
      expect(rules(h)).toEqual([]);
    });

    it('ignores overlaps across different names', () => {
      const h = history({ sections: [section(0, 'a', 1, 100, 300), section(1, 'b', 1, 200, 400)] });
      expect(rules(h)).toEqual([]);
    });

    it('excuses a SIGSTOPped holder whose signal fired right after SIGCONT, and counts it', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 5_010, { lossAt: 5_004, lossReason: 'deadline-passed' }), section(1, 'a', 2, 4_000, 4_100, { askedAt: 120 })], pauses });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.pausedOverlapsExcused).toBe(1);
      expect(result.stats.worstLossAfterResumeMs).toBe(4);
      expect(result.stats.takeoverMs).toMatchObject({ count: 1, max: 4_000 - 150 });
    });

    it('excuses a paused holder overtaken just after SIGCONT, before its overdue deadline timer ran', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 5_060, { lossAt: 5_050 }), section(1, 'a', 2, 5_030, 5_100)], pauses });
      expect(rules(h)).toEqual([]);
    });

    it('does not excuse an overlap with a pause that ended before the stale section was asked for', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 10, contAt: 50 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 300, { lossAt: 250 }), section(1, 'a', 2, 200, 400)], pauses });
      expect(rules(h)).toEqual(['mutual-exclusion', 'early-takeover']);
    });

    it('counts a paused holder that went on after SIGCONT before its signal fired', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const writes = [
        { sentAt: 140, at: 5_001, token: 1, accepted: true, highest: 1 },
        { sentAt: 5_002, at: 5_003, token: 1, accepted: false, highest: 2 },
      ];
      const h = history({ sections: [section(0, 'a', 1, 100, 5_003, { lossAt: 5_010, writes }), section(1, 'a', 2, 4_000, 4_100)], pauses });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.resumedBeforeLoss).toEqual({ sections: 1, writes: 1, writesAccepted: 0 });
    });

    it('does not excuse a paused holder whose signal fired long after SIGCONT', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 6_000, { lossAt: 5_900 }), section(1, 'a', 2, 4_000, 4_100)], pauses });
      expect(rules(h)).toEqual(['mutual-exclusion']);
    });

    it('does not excuse an overlap when the pause was of the other worker', () => {
      const pauses = [{ pid: 101, worker: 1, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 6_000, { lossAt: 5_004 }), section(1, 'a', 2, 5_001, 5_100)], pauses });
      expect(rules(h)).toEqual(['mutual-exclusion']);
    });
  });

  describe('fencing-order', () => {
    it('flags a later section with a lower token', () => {
      const h = history({ sections: [section(0, 'a', 5, 100, 200), section(1, 'a', 3, 300, 400)] });
      expect(rules(h)).toEqual(['fencing-order']);
    });

    it('flags a token given to two sections', () => {
      const h = history({ sections: [section(0, 'a', 4, 100, 200), section(1, 'a', 4, 300, 400)] });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(['fencing-order']);
      expect(v[0]!.message).toContain('given to two sections');
    });

    it('flags a section without a token', () => {
      expect(rules(history({ sections: [section(0, 'a', null, 100, 200)] }))).toEqual(['fencing-order']);
    });

    it('excuses an inversion when the lower-token worker was stopped when the higher token started', () => {
      // worker 0 acquired token 1, was stopped before it could note the start, worker 1 took over
      const pauses = [{ pid: 100, worker: 0, stopAt: 90, contAt: 5_000 }];
      const h = history({
        sections: [section(0, 'a', 1, 5_001, 5_003, { askedAt: 80, lossAt: 5_002 }), section(1, 'a', 2, 4_000, 4_100)],
        pauses,
      });
      expect(rules(h)).toEqual([]);
    });
  });

  describe('force releases', () => {
    it('excuses an overlap with a force-released holder whose signal fired within one TTL, and counts it', () => {
      const h = history({
        sections: [section(0, 'a', 1, 100, 2_000, { lossAt: 1_900, lossReason: 'taken-over' }), section(1, 'a', 3, 1_000, 1_200)],
        operations: [op('force-release', 800, 900)],
      });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.forceReleaseOverlapsExcused).toBe(1);
      expect(result.stats.operations).toEqual({ 'force-release': 1 });
    });

    it('still flags a force-released holder that believed more than one TTL after the force release', () => {
      const h = history({
        sections: [section(0, 'a', 1, 100, 6_000, { lossAt: 5_000, lossReason: 'taken-over' }), section(1, 'a', 3, 1_000, 4_800)],
        operations: [op('force-release', 800, 900)],
      });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(['mutual-exclusion']);
      expect(v[0]!.message).toContain('force-released');
    });

    it('does not excuse an overlap by a force release of another name, or one that found nothing to release', () => {
      const sections = [section(0, 'a', 1, 100, 2_000, { lossAt: 1_900 }), section(1, 'a', 3, 1_000, 1_200)];
      expect(rules(history({ sections, operations: [op('force-release', 800, 900, { name: 'b' })] }))).toContain('mutual-exclusion');
      expect(rules(history({ sections, operations: [op('force-release', 800, 900, { result: false })] }))).toContain('mutual-exclusion');
    });

    it('excuses an inversion whose lower-token acquisition was in flight across a force release that preceded the higher token, and counts it', () => {
      // worker 0 asked at 50; the force release at 800..900 ended its claim; worker 1 was granted
      // token 9 after it; worker 0's answer (produced before the force release) came at 1_500
      const sections = [section(0, 'a', 5, 1_500, 1_520, { askedAt: 50, lossAt: 1_700, lossReason: 'taken-over' }), section(1, 'a', 9, 1_000, 1_100)];
      const result = checkHistory(history({ sections, operations: [op('force-release', 800, 900)] }));
      expect(result.violations).toEqual([]);
      expect(result.stats.forcedInversionsExcused).toBe(1);
      // not excused: asked after the force release began, a force release after the higher token
      // started, or a lower-token holder that believed more than one TTL after the force release
      const later = [section(0, 'a', 5, 1_500, 1_520, { askedAt: 850 }), section(1, 'a', 9, 1_000, 1_100)];
      expect(rules(history({ sections: later, operations: [op('force-release', 800, 900)] }))).toEqual(['fencing-order']);
      expect(rules(history({ sections, operations: [op('force-release', 1_050, 1_150)] }))).toEqual(['fencing-order']);
      const long = [section(0, 'a', 5, 1_500, 9_000, { askedAt: 50 }), section(1, 'a', 9, 1_000, 1_100)];
      expect(rules(history({ sections: long, operations: [op('force-release', 800, 900)] }))).toEqual(['fencing-order']);
    });

    it('does not excuse a token given twice after a force release (a reused lease id)', () => {
      const h = history({
        sections: [section(0, 'a', 4, 1_000, 1_100), section(1, 'a', 4, 1_300, 1_400)],
        operations: [op('force-release', 800, 900)],
      });
      expect(rules(h)).toEqual(['fencing-order']);
    });
  });

  describe('record loss', () => {
    it('excuses overlaps that end within one TTL of a wipe, and counts them', () => {
      // worker 0 held across the wipe and learnt it 2.5 s later; worker 1 acquired after the wipe with a higher token
      const h = history({
        sections: [section(0, 'a', 7, 100, 3_600, { lossAt: 3_500, lossReason: 'taken-over' }), section(1, 'a', 9, 1_500, 4_000)],
        operations: [op('wipe', 1_000, 1_200, { result: 12 })],
      });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.lossOverlapsExcused).toBe(1);
    });

    it('flags loss-unnoticed when two holders still believe one TTL after the wipe', () => {
      const h = history({
        sections: [section(0, 'a', 7, 100, 25_000), section(1, 'a', 9, 1_500, 25_000)],
        operations: [op('recreate-bucket', 1_000, 1_200)],
      });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(expect.arrayContaining(['loss-unnoticed']));
      expect(v.map((x) => x.rule)).not.toContain('mutual-exclusion');
      expect(v.find((x) => x.rule === 'loss-unnoticed')!.message).toContain('after the recreate-bucket');
    });

    it('flags loss-unnoticed for two holders that acquired right after the wipe (a warm and a cold process)', () => {
      const h = history({
        sections: [section(0, 'a', 1, 1_300, 9_000, { cold: true }), section(1, 'a', 3, 1_400, 9_000)],
        operations: [op('wipe', 1_000, 1_200)],
      });
      expect(rules(h)).toContain('loss-unnoticed');
    });

    it('flags fencing-after-loss when a token after the wipe does not exceed one before it', () => {
      const h = history({
        sections: [section(0, 'a', 103, 100, 500), section(1, 'a', 1, 2_000, 2_100, { cold: true }), section(0, 'a', 104, 3_000, 3_100)],
        operations: [op('wipe', 1_000, 1_200)],
      });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(['fencing-after-loss']);
      expect(v[0]!.message).toContain('not above 103');
      expect(v[0]!.message).toContain('a cold manager');
      expect(v[0]!.tokens).toEqual([103, 1]);
    });

    it('flags a token equal to one before the loss too, and accepts tokens above all of them', () => {
      const ops = [op('wipe', 1_000, 1_200)];
      expect(rules(history({ sections: [section(0, 'a', 5, 100, 500), section(1, 'a', 5, 2_000, 2_100)], operations: ops }))).toEqual(['fencing-after-loss']);
      expect(rules(history({ sections: [section(0, 'a', 5, 100, 500), section(1, 'a', 6, 2_000, 2_100)], operations: ops }))).toEqual([]);
    });

    it('excuses a token repeated or lower across a loss when both generations took their base in the same second of the store clock, and counts it', () => {
      const base = 17_961_982_410_000; // server second 1796198241, x 10^4
      const during = history({ sections: [section(0, 'a', base + 1, 1_100, 1_150), section(1, 'a', base + 1, 1_300, 1_350)], operations: [op('wipe', 1_000, 1_500)] });
      const d = checkHistory(during);
      expect(d.violations).toEqual([]);
      expect(d.stats.sameSecondLossesExcused).toBe(1);
      const across = history({ sections: [section(0, 'a', base + 2, 100, 500), section(1, 'a', base + 1, 2_000, 2_100)], operations: [op('wipe', 1_000, 1_200)] });
      expect(rules(across)).toEqual([]);
      expect(checkHistory(across).stats.sameSecondLossesExcused).toBe(1);
    });

    it('still flags repeats and inversions across a loss between bases of different seconds, or without a loss', () => {
      const base = 17_961_982_410_000;
      expect(rules(history({ sections: [section(0, 'a', base + 10_001, 1_100, 1_150), section(1, 'a', base + 1, 1_300, 1_350)], operations: [op('wipe', 1_000, 1_500)] }))).toEqual(['fencing-order']);
      expect(rules(history({ sections: [section(0, 'a', base + 1, 100, 150), section(1, 'a', base + 1, 300, 350)] }))).toEqual(['fencing-order']);
      expect(rules(history({ sections: [section(0, 'a', base + 10_002, 100, 500), section(1, 'a', base + 1, 2_000, 2_100)], operations: [op('wipe', 1_000, 1_200)] }))).toEqual(['fencing-after-loss']);
    });

    it('does not excuse overlaps that began before the loss', () => {
      const h = history({ sections: [section(0, 'a', 1, 100, 1_100), section(1, 'a', 2, 500, 1_100)], operations: [op('wipe', 1_000, 1_200)] });
      expect(rules(h)).toContain('mutual-exclusion');
    });
  });

  describe('early-takeover', () => {
    it('flags a takeover while the holder was renewing normally', () => {
      // worker 0 renews every second; worker 1 (a clock 5 s ahead) takes over 300 ms after a renewal
      const renewals = [1_100, 2_100, 3_100];
      const h = history({
        sections: [section(0, 'a', 1, 100, 3_450, { askedAt: 50, renewals, lossAt: 3_400, lossReason: 'taken-over' }), section(1, 'a', 2, 3_400, 3_600, { askedAt: 3_000 })],
      });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(['early-takeover']);
      expect(v[0]!.message).toContain('renewal 3');
      expect(v[0]!.message).toContain(`${2_100 + 3_000 - 3_400} ms before`);
    });

    it('accepts a takeover one TTL after the last confirmed write, and a takeover after a release', () => {
      const lost = section(0, 'a', 1, 100, 5_500, { askedAt: 50, renewals: [1_100, 2_100], lossAt: 5_200, lossReason: 'deadline-passed' });
      expect(rules(history({ sections: [lost, section(1, 'a', 2, 5_200, 5_600)] }))).toEqual([]);
      const released = section(0, 'a', 1, 100, 900, { askedAt: 50 });
      expect(rules(history({ sections: [released, section(1, 'a', 2, 1_000, 1_100)] }))).toEqual([]);
    });

    it('judges a takeover against the lease it took over (the highest lower token), once', () => {
      const h = history({
        sections: [
          section(0, 'a', 1, 100, 1_450, { askedAt: 50, renewals: [1_100], lossAt: 1_400, lossReason: 'taken-over' }),
          section(1, 'a', 2, 1_400, 1_500, { askedAt: 1_300 }),
          section(0, 'a', 3, 1_600, 1_700, { askedAt: 1_550 }),
        ],
      });
      const v = checkHistory(h).violations.filter((x) => x.rule === 'early-takeover');
      expect(v.map((x) => x.tokens)).toEqual([[1, 2]]);
    });

    it('is excused inside the window of a record loss (one TTL after it)', () => {
      const sections = [section(0, 'a', 1, 1_300, 1_700, { askedAt: 1_250, lossAt: 1_650, lossReason: 'taken-over' }), section(1, 'a', 2, 1_600, 1_800, { askedAt: 1_500 })];
      expect(rules(history({ sections, operations: [op('wipe', 1_000, 1_200)] }))).toEqual([]);
      expect(rules(history({ sections }))).toEqual(['mutual-exclusion', 'early-takeover']);
    });

    it('is excused by a force release after the write', () => {
      const h = history({
        sections: [section(0, 'a', 1, 100, 1_700, { askedAt: 50, renewals: [1_100], lossAt: 1_650, lossReason: 'taken-over' }), section(1, 'a', 2, 1_600, 1_800)],
        operations: [op('force-release', 1_300, 1_400)],
      });
      expect(rules(h)).toEqual([]);
    });
  });

  describe('acquire-overrun', () => {
    it('flags an acquisition that took longer than waitMs plus the slack', () => {
      const h = history({ attempts: [attempt(0, 0, 4_500, 1_000, { outcome: 'timeout' })] });
      expect(rules(h)).toEqual(['acquire-overrun']);
      expect(checkHistory(h).stats.worstAcquireOverrunMs).toBe(3_500);
    });

    it('bounds tryAcquire() by one attempt, not by waitMs', () => {
      expect(rules(history({ attempts: [attempt(0, 0, 8_000, 0, { api: 'tryAcquire', outcome: 'not-acquired' })] }))).toEqual([]);
      expect(rules(history({ attempts: [attempt(0, 0, 9_500, 0, { api: 'tryAcquire', outcome: 'not-acquired' })] }))).toEqual(['acquire-overrun']);
    });

    it('does not apply the bound to an attempt that overlapped a record loss (plus one TTL), and counts it', () => {
      const attempts = [attempt(0, 1_000, 12_000, 0, { api: 'tryAcquire', outcome: 'not-acquired' })];
      const during = checkHistory(history({ attempts, operations: [op('recreate-bucket', 5_000, 6_000)] }));
      expect(during.violations).toEqual([]);
      expect(during.stats.lossOverrunsExcused).toBe(1);
      // a force release is no record loss; a loss long before the attempt excuses nothing
      expect(rules(history({ attempts, operations: [op('force-release', 5_000, 6_000)] }))).toEqual(['acquire-overrun']);
      const before = [attempt(0, 20_000, 31_000, 0, { api: 'tryAcquire', outcome: 'not-acquired' })];
      expect(rules(history({ attempts: before, operations: [op('wipe', 1_000, 2_000)] }))).toEqual(['acquire-overrun']);
    });

    it('does not count time the worker spent stopped', () => {
      const h = history({ attempts: [attempt(0, 0, 4_500, 1_000)], pauses: [{ pid: 100, worker: 0, stopAt: 100, contAt: 2_100 }] });
      expect(rules(h)).toEqual([]);
    });
  });

  describe('loss-not-signalled', () => {
    it('flags a section whose write was rejected as stale but whose signal never fired', () => {
      const s = section(0, 'a', 3, 100, 200, { writes: [{ sentAt: 150, at: 151, token: 3, accepted: false, highest: 4 }] });
      expect(rules(history({ sections: [s] }))).toEqual(['loss-not-signalled']);
    });

    it('accepts a rejected write when the signal fired', () => {
      const s = section(0, 'a', 3, 100, 200, { lossAt: 180, writes: [{ sentAt: 150, at: 151, token: 3, accepted: false, highest: 4 }] });
      expect(rules(history({ sections: [s] }))).toEqual([]);
    });

    it('flags a paused holder that was taken over and never learnt it', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [section(0, 'a', 1, 100, 5_100), section(1, 'a', 2, 4_000, 4_100)], pauses });
      expect(rules(h)).toEqual(expect.arrayContaining(['loss-not-signalled', 'mutual-exclusion']));
    });
  });

  describe('acquired-not-held', () => {
    it('flags acquire() resolving with a lease that is no longer held', () => {
      expect(rules(history({ sections: [section(0, 'a', 1, 100, 101, { heldAtStart: false, lossAt: 101 })] }))).toEqual(['acquired-not-held']);
    });

    it('excuses it when the worker was stopped while acquiring', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 96, contAt: 99 }];
      expect(rules(history({ sections: [section(0, 'a', 1, 100, 101, { heldAtStart: false, lossAt: 101 })], pauses }))).toEqual([]);
    });
  });

  describe('crash', () => {
    it.each([
      ['a non-zero exit code', { exitCode: 3 }],
      ['a signal', { exitCode: null, signal: 'SIGSEGV' }],
      ['a kill after the run', { exitCode: null, killed: true }],
    ])('flags a worker that ended with %s', (_what, extra) => {
      expect(rules(history({ workers: [workerInfo(0, extra as Partial<WorkerInfo>)] }))).toEqual(['crash']);
    });

    it('flags an unhandled rejection logged by a worker', () => {
      const crashes = [{ type: 'crash' as const, worker: 0, pid: 100, at: 5, kind: 'unhandledRejection' as const, message: 'boom' }];
      expect(rules(history({ crashes }))).toEqual(['crash']);
    });

    it('flags a worker that exited 0 without its done record', () => {
      const h = history();
      expect(rules({ ...h, done: h.done.slice(1) })).toEqual(['crash']);
    });
  });

  describe('semaphore-capacity', () => {
    it('passes two holders of a 2-permit semaphore at once, on different permits, and counts sections by kind', () => {
      const h = history({ sections: [permitSection(0, 0, 1, 100, 300), permitSection(1, 1, 1, 200, 400), permitSection(0, 0, 2, 350, 500, { askedAt: 250 })] });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.sectionsByKind).toEqual({ lock: 0, permit: 3, multi: 0, term: 0 });
      expect(result.stats.semaphorePeakHolders).toEqual({ sem: 2 });
    });

    it('flags a third holder at once (it shares a permit, so mutual exclusion on that permit fails too)', () => {
      const h = history({ sections: [permitSection(0, 0, 1, 100, 400), permitSection(1, 1, 1, 150, 400), permitSection(2, 0, 2, 200, 300)], workers: [workerInfo(0), workerInfo(1), workerInfo(2)] });
      const v = checkHistory(h).violations;
      expect(v.map((x) => x.rule)).toEqual(expect.arrayContaining(['semaphore-capacity', 'mutual-exclusion']));
      const capacity = v.filter((x) => x.rule === 'semaphore-capacity');
      expect(capacity).toHaveLength(1);
      expect(capacity[0]!.message).toContain('3 holders believed they held a permit at 200.0, more than its 2 permits');
      expect(v.find((x) => x.rule === 'mutual-exclusion')!.name).toBe('sem#permit-0');
    });

    it('flags a permit outside the semaphore, or held under another permit\'s lock name, even without an overlap', () => {
      expect(rules(history({ sections: [permitSection(0, 2, 1, 100, 200)] }))).toEqual(['semaphore-capacity']);
      const misnamed = permitSection(0, 1, 1, 100, 200, { name: 'sem#permit-0' });
      expect(checkHistory(history({ sections: [misnamed] })).violations.map((x) => x.message)).toEqual([expect.stringContaining('as permit 1 (its lock is "sem#permit-1")')]);
    });

    it('excuses a paused holder over capacity whose signal fired right after SIGCONT (as mutual exclusion does), and counts it', () => {
      // worker 0 held permit 0 and was stopped past its lease; worker 1 took permit 0 over, worker 2 took permit 1
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({
        sections: [permitSection(0, 0, 1, 100, 5_010, { lossAt: 5_004, lossReason: 'deadline-passed' }), permitSection(1, 0, 2, 4_000, 4_500, { askedAt: 120 }), permitSection(2, 1, 1, 4_100, 4_400)],
        pauses,
        workers: [workerInfo(0), workerInfo(1), workerInfo(2)],
      });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.capacityOverlapsExcused).toBe(1);
      expect(result.stats.semaphorePeakHolders).toEqual({ sem: 3 });
      // the same without the pause: over capacity
      expect(rules({ ...h, run: { ...h.run, pauses: [] } })).toContain('semaphore-capacity');
    });

    it('excuses a holder over capacity whose permit was force-released, within one TTL', () => {
      const h = history({
        sections: [permitSection(0, 0, 1, 100, 2_000, { lossAt: 1_900, lossReason: 'taken-over' }), permitSection(1, 0, 3, 1_000, 1_200), permitSection(2, 1, 1, 1_050, 1_150)],
        operations: [op('force-release', 800, 900, { name: 'sem#permit-0' })],
        workers: [workerInfo(0), workerInfo(1), workerInfo(2)],
      });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.capacityOverlapsExcused).toBe(1);
      // a force release of another permit excuses nothing
      expect(rules({ ...h, run: { ...h.run, operations: [op('force-release', 800, 900, { name: 'sem#permit-1' })] } })).toEqual(expect.arrayContaining(['semaphore-capacity', 'mutual-exclusion']));
    });

    it('judges fencing order per permit: tokens of different permits are unrelated', () => {
      const ok = history({ sections: [permitSection(0, 0, 5, 100, 200), permitSection(1, 1, 3, 300, 400), permitSection(0, 0, 6, 500, 600)] });
      expect(rules(ok)).toEqual([]);
      const inverted = history({ sections: [permitSection(0, 1, 5, 100, 200), permitSection(1, 1, 3, 300, 400)] });
      const v = checkHistory(inverted).violations;
      expect(v.map((x) => x.rule)).toEqual(['fencing-order']);
      expect(v[0]!.name).toBe('sem#permit-1');
      expect(rules(history({ sections: [permitSection(0, 0, 4, 100, 200), permitSection(1, 0, 4, 300, 400)] }))).toEqual(['fencing-order']);
    });

    it('bounds a permit attempt by one single attempt per permit (and the settlement of the permits at a first use)', () => {
      const permit = (askedAt: number, doneAt: number, waitMs: number, extra: Partial<AttemptRecord> = {}): AttemptRecord =>
        attempt(0, askedAt, doneAt, waitMs, { kind: 'permit', name: 'sem', permits: 2, ...extra });
      // tryAcquire: 2 permits x 9 s
      expect(rules(history({ attempts: [permit(0, 17_000, 0, { api: 'tryAcquire', outcome: 'not-acquired' })] }))).toEqual([]);
      expect(rules(history({ attempts: [permit(0, 19_000, 0, { api: 'tryAcquire', outcome: 'not-acquired' })] }))).toEqual(['acquire-overrun']);
      // acquire(): waitMs + 3 s + 9 s; settling adds four request timeouts (8 s)
      expect(rules(history({ attempts: [permit(0, 13_500, 1_000, { outcome: 'timeout' })] }))).toEqual(['acquire-overrun']);
      expect(rules(history({ attempts: [permit(0, 13_500, 1_000, { outcome: 'timeout', settles: true })] }))).toEqual([]);
    });
  });

  describe('multi-name sections', () => {
    it('counts each name of a multi-name section as a section of that name, and passes when none overlaps', () => {
      const h = history({
        sections: [multiSection(0, { a: 1, b: 1 }, 100, 200), section(1, 'a', 2, 250, 300), section(1, 'c', 1, 120, 180), multiSection(1, { b: 2, c: 2 }, 350, 400)],
        attempts: [attempt(0, 95, 100, 1_000, { kind: 'multi', name: 'b+a', names: ['b', 'a'], api: 'using' })],
      });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.sections).toBe(4);
      expect(result.stats.lockSections).toBe(6);
      expect(result.stats.sectionsByKind).toEqual({ lock: 2, permit: 0, multi: 2, term: 0 });
    });

    it('flags an overlap on one of its names with a section of that name', () => {
      const h = history({ sections: [multiSection(0, { a: 1, b: 1 }, 100, 300), section(1, 'b', 2, 200, 400)] });
      const v = checkHistory(h).violations.filter((x) => x.rule === 'mutual-exclusion');
      expect(v).toHaveLength(1);
      expect(v[0]!.name).toBe('b');
      expect(v[0]!.message).toContain('in using([a, b])');
    });

    it('flags two multi-name sections that overlap on a shared name', () => {
      const h = history({ sections: [multiSection(0, { a: 1, b: 1 }, 100, 300), multiSection(1, { b: 2, c: 1 }, 200, 400)] });
      const v = checkHistory(h).violations.filter((x) => x.rule === 'mutual-exclusion');
      expect(v.map((x) => x.name)).toEqual(['b']);
    });

    it("uses each name's own loss time: a loss of b does not end the belief in a", () => {
      // worker 0's lease of a signalled its loss at 250 and worker 1 took a at 260; worker 0 still held b
      const lossOfA = multiSection(0, { a: 1, b: 1 }, 100, 400, { askedAt: -5_000 }, { a: 250 });
      expect(rules(history({ sections: [lossOfA, section(1, 'a', 2, 260, 300)] }))).toEqual([]);
      expect(rules(history({ sections: [lossOfA, section(1, 'b', 2, 260, 300)] }))).toContain('mutual-exclusion');
    });

    it('flags a name whose token does not increase, and a rejected write of a name whose lease never signalled its loss', () => {
      const h = history({ sections: [section(1, 'b', 5, 100, 200), multiSection(0, { a: 1, b: 3 }, 300, 400)] });
      const v = checkHistory(h).violations;
      expect(v.map((x) => [x.rule, x.name])).toEqual([['fencing-order', 'b']]);
      const rejected = multiSection(0, { a: 1, b: 3 }, 300, 400, {
        writes: [
          { sentAt: 301, at: 302, name: 'a', token: 1, accepted: true, highest: 1 },
          { sentAt: 301, at: 302, name: 'b', token: 3, accepted: false, highest: 4 },
        ],
      });
      expect(checkHistory(history({ sections: [rejected] })).violations.map((x) => [x.rule, x.name])).toEqual([['loss-not-signalled', 'b']]);
    });

    it('bounds a multi-name using() by waitMs + slack + one single attempt per further name + one for the releases of a failed round', () => {
      const multi = (doneAt: number, waitMs: number, outcome: AttemptRecord['outcome']): AttemptRecord =>
        attempt(0, 0, doneAt, waitMs, { kind: 'multi', name: 'b+a', names: ['b', 'a'], api: 'using', outcome });
      // the bounds of a 3 s TTL: slack 3 s, a single attempt 3 s
      const withBounds = (h: History): History => ({ ...h, run: { ...h.run, bounds: { ...h.run.bounds, attemptBoundMs: 3_000 } } });
      const judge = (a: AttemptRecord): ViolationRule[] => rules(withBounds(history({ attempts: [a] })));
      // waitMs 3 s + 3 s slack + 3 s (the second name) + 3 s (releases) = 12 s
      expect(judge(multi(12_000, 3_000, 'timeout'))).toEqual([]);
      // callers in a deadlock never return; one that waited the whole waitMs for each name in turn is past it too
      expect(judge(multi(12_500, 3_000, 'timeout'))).toEqual(['acquire-overrun']);
      expect(judge(multi(9_500, 0, 'timeout'))).toEqual(['acquire-overrun']);
      expect(judge(multi(8_500, 0, 'lost'))).toEqual([]);
      expect(checkHistory(withBounds(history({ attempts: [multi(5_000, 3_000, 'acquired')] }))).stats.worstOverrunByKind).toEqual({ permit: null, multi: 2_000 });
    });
  });

  describe('election terms', () => {
    it('passes terms one after another with increasing tokens', () => {
      const h = history({ sections: [term(0, 1, 100, 200), term(1, 2, 700, 900, { askedAt: 150 }), term(0, 3, 1_300, 1_400, { askedAt: 900 })] });
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
      expect(result.stats.sectionsByKind).toEqual({ lock: 0, permit: 0, multi: 0, term: 3 });
    });

    it('flags two leaders at once (mutual exclusion on the election name)', () => {
      const v = checkHistory(history({ sections: [term(0, 1, 100, 400), term(1, 2, 200, 300)] })).violations;
      expect(v.map((x) => x.rule)).toEqual(expect.arrayContaining(['mutual-exclusion']));
      expect(v.find((x) => x.rule === 'mutual-exclusion')!.message).toMatch(/^"leader": .*a term\) still believed/);
    });

    it('flags a term whose token does not exceed an earlier term\'s (fencing order on the election name)', () => {
      expect(rules(history({ sections: [term(0, 4, 100, 200), term(1, 3, 700, 800)] }))).toEqual(['fencing-order']);
      expect(rules(history({ sections: [term(0, 4, 100, 200), term(1, 4, 700, 800)] }))).toEqual(['fencing-order']);
    });

    it('excuses a leader paused past its term whose signal fired right after SIGCONT', () => {
      const pauses = [{ pid: 100, worker: 0, stopAt: 150, contAt: 5_000 }];
      const h = history({ sections: [term(0, 1, 100, 5_010, { lossAt: 5_004, lossReason: 'deadline-passed' }), term(1, 2, 4_000, 4_100, { askedAt: 120 })], pauses });
      expect(rules(h)).toEqual([]);
    });
  });

  it('loadHistory reads run.json and the worker logs, and reports a torn line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-checker-'));
    try {
      const h = history({ sections: [section(0, 'a', 1, 100, 200)], attempts: [attempt(0, 95, 100, 1_000)] });
      writeFileSync(join(dir, 'run.json'), JSON.stringify(h.run));
      const lines = [...h.sections, ...h.attempts, h.done[0]].map((r) => JSON.stringify(r));
      writeFileSync(join(dir, 'worker-0.jsonl'), lines.join('\n') + '\n');
      writeFileSync(join(dir, 'worker-1.jsonl'), JSON.stringify(h.done[1]) + '\n{"type":"sect');
      const loaded = loadHistory(dir);
      expect(loaded.sections).toHaveLength(1);
      expect(loaded.attempts).toHaveLength(1);
      expect(loaded.done).toHaveLength(2);
      expect(checkHistory(loaded).violations.map((v) => v.rule)).toEqual(['crash']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
