/**
 * The store's clock an hour off the clients' clocks (equivalently: every client's wall clock an hour
 * off the store). Expiry is judged on server time only, so a live lock is never stolen and a dead
 * one frees after TTL + slack, not an hour early or late.
 */
import { performance } from 'node:perf_hooks';
import { S3LockLostError } from '../../src';
import { MemoryWorld, TTL_MS, sleep } from './support';

const HOUR = 3_600_000;

describe('server clock an hour off the clients', () => {
  it.concurrent.each([
    ['+1 hour', HOUR],
    ['-1 hour', -HOUR],
  ])('%s: a renewing holder keeps the lock for several TTLs; an abandoned lock frees within TTL + slack', async (_label, offset) => {
    const world = await MemoryWorld.create({ clockOffsetMs: offset });
    try {
      const a = world.manager();
      const b = world.manager({ maxPollIntervalMs: 50 });
      const holder = a.manager.lock('job');
      await holder.acquire();
      const tokenA = holder.fencingToken!;
      let renewed = 0;
      a.manager.on('renewed', () => renewed++);

      // live phase: 3 TTLs of attempts by another process, all refused
      const attempts: boolean[] = [];
      const liveUntil = performance.now() + 3 * TTL_MS;
      while (performance.now() < liveUntil) {
        attempts.push(await b.manager.lock('job').tryAcquire());
        await sleep(150);
      }
      // and a cold process at the end
      const c = world.manager();
      attempts.push(await c.manager.lock('job').tryAcquire());
      expect(attempts.length).toBeGreaterThan(10);
      expect(attempts.every((x) => x === false)).toBe(true);
      expect(renewed).toBeGreaterThanOrEqual(6);
      expect(holder.isHeld).toBe(true);
      expect(holder.signal.aborted).toBe(false);
      const state = await b.manager.inspect('job');
      expect(state.held).toBe(true);
      expect(state.holder?.ownerId).toBe(holder.id);
      // inspect reports server times: an hour off the local clock
      expect(Math.abs(state.serverTime.getTime() - (Date.now() + offset))).toBeLessThan(2000);

      // abandoned: the holder's process is cut off from the store (every request reset)
      a.tap.inject({ fault: { kind: 'reset-before' }, times: Infinity });
      const lastWrite = Math.max(...a.tap.sent({ operation: 'PutObject', conditional: true }).filter((r) => r.status === 200).map((r) => r.at));
      const taker = b.manager.lock('job');
      await taker.acquire({ waitMs: 3 * TTL_MS });
      const acquiredAt = performance.now();
      expect(taker.fencingToken!).toBeGreaterThan(tokenA);
      // TTL + 1 s date resolution + 0.5 s tolerance + polling (the server-clock lower bound is fresh: b polls every 50 ms)
      expect(acquiredAt - lastWrite).toBeLessThan(TTL_MS + 2500);
      expect(acquiredAt - lastWrite).toBeGreaterThan(TTL_MS);
      expect(holder.signal.aborted).toBe(true);
      expect((holder.signal.reason as S3LockLostError).reason).toBe('deadline-passed');
      await taker.release();
    } finally {
      await world.close();
    }
  }, 30_000);
});
