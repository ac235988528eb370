/**
 * The waiting instances of one semaphore in one process share one poller: a round tries each
 * permit once for the first in line, whatever the number of waiters (before, each waiter polled
 * on its own, and 20 waiters cost 20 times one: the bench measured 82 requests/s against 4).
 */
import { S3LockClosedError, S3LockTimeoutError } from '../../src';
import { MemoryWorld, settle, sleep, waitFor } from './support';

describe('waiting semaphore instances of one manager', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it('poll through one line: 20 waiters cost what one costs, and each gets a permit in turn', async () => {
    const holder = world.manager();
    const waiting = world.manager();
    const held = [holder.manager.semaphore('builds', { permits: 2 }), holder.manager.semaphore('builds', { permits: 2 })];
    for (const s of held) expect(await s.tryAcquire()).toBe(true);

    const waiters = Array.from({ length: 20 }, () => waiting.manager.semaphore('builds', { permits: 2 }));
    const trying = new Set<string>();
    waiting.manager.on('attempt', (e) => trying.add(e.ownerId));
    const before = waiting.tap.requests.length;
    const acquired = waiters.map((w) => w.acquire({ waitMs: 30_000 }));
    await sleep(2_000);
    const polls = waiting.tap.requests.slice(before).filter((r) => r.key.includes('builds%23permit-'));
    // every try in the window was made by the first waiter's two permit locks
    expect(trying.size).toBeLessThanOrEqual(2);
    // one round per pause (50 ms growing to 500 ms): a handful of rounds of 2 tries each, not 20 times that
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.length).toBeLessThanOrEqual(2 * 12);

    // permits given back elsewhere reach the waiters one by one
    for (const s of held) await s.release();
    await waitFor(() => waiters.filter((w) => w.isHeld).length === 2, 10_000, 'two waiters hold');
    await sleep(300);
    expect(waiters.filter((w) => w.isHeld)).toHaveLength(2);
    // a permit given back in this process wakes the line at once
    let next = waiters.filter((w) => w.isHeld);
    for (let round = 0; round < 9; round++) {
      const started = performance.now();
      await Promise.all(next.map((w) => w.release()));
      await waitFor(() => waiters.filter((w) => w.isHeld).length === 2, 5_000, 'the next two hold');
      expect(performance.now() - started).toBeLessThan(1_000);
      next = waiters.filter((w) => w.isHeld);
    }
    await Promise.all(next.map((w) => w.release()));
    await Promise.all(acquired);
    expect(waiters.every((w) => !w.isHeld)).toBe(true);
  }, 60_000);

  it('ends one waiter by its own time limit or signal, and the others keep waiting', async () => {
    const holder = world.manager();
    const waiting = world.manager();
    const held = holder.manager.semaphore('one', { permits: 1 });
    await held.acquire();
    const patient = waiting.manager.semaphore('one', { permits: 1 });
    const hasty = waiting.manager.semaphore('one', { permits: 1 });
    const aborted = waiting.manager.semaphore('one', { permits: 1 });
    const controller = new AbortController();
    const p = patient.acquire({ waitMs: 20_000 });
    const h = settle(hasty.acquire({ waitMs: 400 }));
    const a = settle(aborted.acquire({ waitMs: 20_000, signal: controller.signal }));
    controller.abort(new Error('no longer needed'));
    const hr = await h;
    expect(hr.ok).toBe(false);
    expect(!hr.ok && hr.error).toBeInstanceOf(S3LockTimeoutError);
    const ar = await a;
    expect(!ar.ok && (ar.error as Error).message).toBe('no longer needed');
    await held.release();
    await p;
    expect(patient.isHeld).toBe(true);
    expect(hasty.isHeld || aborted.isHeld).toBe(false);
    await patient.release();
  }, 30_000);
});

describe('closing the manager of waiting semaphore instances', () => {
  it('rejects them at once with S3LockClosedError', async () => {
    const world = await MemoryWorld.create();
    try {
      const holder = world.manager();
      const waiting = world.manager();
      await holder.manager.semaphore('closing', { permits: 1 }).acquire();
      const waiter = waiting.manager.semaphore('closing', { permits: 1 });
      const pending = settle(waiter.acquire({ waitMs: 60_000 }));
      await sleep(1_200); // the line's pause has grown to its longest
      const started = performance.now();
      await waiting.manager.close();
      const result = await pending;
      expect(performance.now() - started).toBeLessThan(300);
      expect(!result.ok && result.error).toBeInstanceOf(S3LockClosedError);
    } finally {
      await world.close();
    }
  });
});
