/**
 * Three processes contend for one lock through seeded random faults (errors before and after the
 * write is applied, lost responses, connection resets). Whatever fails, no two critical sections
 * overlap while their signals are not aborted, and fencing tokens grow in the order of entry.
 */
import { performance } from 'node:perf_hooks';
import { MemoryWorld, sleep, watchUnhandledRejections, type Proc } from './support';

interface Section {
  readonly who: string;
  readonly token: number;
  readonly start: number;
  end: number;
}

describe('random faults', () => {
  it.each([
    ['500 InternalError on every request', 500, 'InternalError', 1, 'locks/'],
    ['503 SlowDown on every request', 503, 'SlowDown', 3, 'locks/'],
    // 409 only on the creates: a 409 on the read-back HEAD is covered in conflicts.spec.ts (it can
    // block the lock for a TTL, which would starve this test of entries)
    ['409 ConditionalRequestConflict on creates', 409, 'ConditionalRequestConflict', 2, 'locks/hot/'],
  ])('%s: mutual exclusion and fencing hold', async (_label, status, code, seed, keyPrefix) => {
    const unhandled = watchUnhandledRejections();
    const world = await MemoryWorld.create();
    try {
      const procs: Proc[] = [0, 1, 2].map(() => world.manager({ maxPollIntervalMs: 50 }));
      world.store.faults.random({
        seed,
        status,
        code,
        // creates alone are rarer than all requests: fault them more often
        ...(keyPrefix === 'locks/hot/'
          ? { errorRate: 0.1, errorAfterApplyRate: 0.1, dropAfterApplyRate: 0.08, resetBeforeRate: 0.04 }
          : { errorRate: 0.04, errorAfterApplyRate: 0.04, dropAfterApplyRate: 0.04, resetBeforeRate: 0.02 }),
        match: keyPrefix === 'locks/hot/' ? { keyPrefix, operation: 'PutObject' } : { keyPrefix },
      });
      const sections: Section[] = [];
      // 2 s of contention, longer (up to 30 s) until 5 sections ran: a loaded machine is slower,
      // and the entries are what the checks below need
      const until = performance.now() + 2000;
      const hardUntil = performance.now() + 30_000;
      const worker = async (proc: Proc, who: string): Promise<void> => {
        while (performance.now() < until || (sections.length < 5 && performance.now() < hardUntil)) {
          try {
            await proc.manager.using(
              'hot',
              async ({ signal, fencingToken }) => {
                const section: Section = { who, token: fencingToken, start: performance.now(), end: Infinity };
                if (signal.aborted) return;
                sections.push(section);
                signal.addEventListener('abort', () => (section.end = Math.min(section.end, performance.now())), { once: true });
                await sleep(Math.floor(Math.random() * 30));
                section.end = Math.min(section.end, performance.now());
              },
              { waitMs: 2000 },
            );
          } catch {
            // timeouts and store errors are expected under faults; exclusion is what is checked
          }
        }
      };
      await Promise.all(procs.flatMap((p, i) => [worker(p, `p${i}a`), worker(p, `p${i}b`)]));
      world.store.faults.random(undefined);

      // enough entries and faults to mean something (throughput itself is not the point here)
      expect(sections.length).toBeGreaterThanOrEqual(5);
      expect(world.store.faults.total).toBeGreaterThanOrEqual(5);
      const byStart = [...sections].sort((x, y) => x.start - y.start);
      const violations: string[] = [];
      let latest = byStart[0]!;
      for (let i = 1; i < byStart.length; i++) {
        const cur = byStart[i]!;
        const prev = byStart[i - 1]!;
        // no overlap: every earlier section had ended (or been aborted) before this one started
        if (cur.start < latest.end) violations.push(`${cur.who} (token ${cur.token}) entered ${(latest.end - cur.start).toFixed(1)} ms before ${latest.who} (token ${latest.token}) left`);
        if (cur.token <= prev.token) violations.push(`${cur.who} entered with token ${cur.token} after ${prev.who} with ${prev.token}`);
        if (cur.end >= latest.end) latest = cur;
      }
      expect(violations).toEqual([]);
    } finally {
      world.store.faults.random(undefined);
      await world.close();
      await sleep(20);
      unhandled.stop();
    }
    expect(unhandled.seen).toEqual([]);
  }, 60_000);
});
