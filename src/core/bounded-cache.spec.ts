import { BoundedCache } from './bounded-cache';
import { systemMonotonicClock } from './server-clock';

/** A clock the test moves by hand. */
function manualClock(): { now(): number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('BoundedCache', () => {
  it('drops the oldest entries beyond its size', () => {
    const clock = manualClock();
    const cache = new BoundedCache<string, number>(3, 60_000, clock);
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect([cache.get('k2'), cache.get('k3'), cache.get('k4')]).toEqual([2, 3, 4]);
  });

  it('drops an entry once it is older than its age limit, counted from its last set or touch', () => {
    const clock = manualClock();
    const cache = new BoundedCache<string, number>(10, 1_000, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    clock.advance(600);
    expect(cache.touch('a')).toBe(1);
    clock.advance(600);
    expect(cache.get('b')).toBeUndefined(); // 1,200 ms since set
    expect(cache.get('a')).toBe(1); // 600 ms since touch
    clock.advance(1_001);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('a touch moves the entry to the young end: the size limit then drops others first', () => {
    const clock = manualClock();
    const cache = new BoundedCache<string, number>(2, 60_000, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.touch('a');
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
  });

  it('sweeps expired entries on its own timer while the process is idle', async () => {
    const cache = new BoundedCache<string, number>(10, 50, systemMonotonicClock);
    cache.set('a', 1);
    cache.set('b', 2);
    const internal = cache as unknown as { entries: Map<string, unknown> };
    expect(internal.entries.size).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1_300)); // the timer fires at least 1 s after it was armed
    expect(internal.entries.size).toBe(0);
    expect((cache as unknown as { timer: unknown }).timer).toBeUndefined();
  });
});
