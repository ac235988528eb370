/**
 * What each operation costs in requests (the store's own request log and per-client taps).
 */
import { performance } from 'node:perf_hooks';
import { S3LockTimeoutError } from '../../src';
import { MemoryWorld, settle, sleep, waitFor, type Proc } from './support';

describe('request counts', () => {
  let world: MemoryWorld;
  let a: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager();
    await a.manager.probe();
  });
  afterEach(() => world.close());

  const ops = () => world.store.requests.map((r) => `${r.operation}${r.conditional ? ' (conditional)' : ''}`);

  const PUT = 'PutObject (conditional)';
  const GET = 'GetObject';

  it('warm uncontended acquire + release = 2 conditional PUTs + the GET of the generation record after the acquire', async () => {
    const warmUp = a.manager.lock('warm');
    await warmUp.acquire();
    await warmUp.release();
    world.store.clearRequests();
    for (let i = 0; i < 3; i++) {
      const lock = a.manager.lock('warm');
      await lock.acquire();
      await lock.release();
    }
    await sleep(50); // background work after release, if any, would show up here
    expect(ops()).toEqual(Array(3).fill([PUT, GET, PUT]).flat());
    // the GET is the record-loss check: sent after the acquire's PUT was answered
    const log = world.store.requests;
    expect(log[1]!.key).toMatch(/\/warm\/generation$/);
  });

  it('using() on a warm name = 2 PUTs + 1 GET as well', async () => {
    await a.manager.using('u', () => undefined);
    world.store.clearRequests();
    await expect(a.manager.using('u', () => 42)).resolves.toBe(42);
    await sleep(50);
    expect(ops()).toEqual([PUT, GET, PUT]);
  });

  it('cold acquire on a fresh manager, with records in the store = GET generation, LIST of its folder, HEAD, PUT || HEAD declaration, GET generation', async () => {
    const old = a.manager.lock('cold');
    await old.acquire();
    await old.release();
    const c = world.manager();
    await c.manager.probe();
    world.store.clearRequests();
    const lock = c.manager.lock('cold');
    await lock.acquire();
    // the folder to list is named by the generation: the GET comes first
    expect(ops().slice(0, 3)).toEqual(['GetObject', 'ListObjectsV2', 'HeadObject']);
    // The first grant of the name's generation in this manager checks the declaration, in parallel with its PUT.
    expect(ops().slice(3, 5).sort()).toEqual(['HeadObject', PUT].sort());
    expect(ops().slice(5)).toEqual([GET]);
    expect(lock.fencingToken).toBe((await world.base('cold')) + 3);
    await lock.release();
  });

  it('cold acquire of a name never used = 2 GET generation (404: the base takes two answers), PUT generation, PUT || HEAD declaration, GET generation (no LIST: a new folder is empty)', async () => {
    const c = world.manager();
    await c.manager.probe();
    world.store.clearRequests();
    const lock = c.manager.lock('new');
    await lock.acquire();
    expect(ops().slice(0, 3)).toEqual(['GetObject', 'GetObject', PUT]);
    expect(ops().slice(3, 5).sort()).toEqual(['HeadObject', PUT].sort());
    expect(ops().slice(5)).toEqual([GET]);
    await lock.release();
  });

  it('tryAcquire on a lock held by another instance of the same manager = 0 requests', async () => {
    const holder = a.manager.lock('held');
    await holder.acquire();
    world.store.clearRequests();
    const other = a.manager.lock('held');
    for (let i = 0; i < 5; i++) await expect(other.tryAcquire()).resolves.toBe(false);
    expect(ops()).toEqual([]);
    await holder.release();
  });

  it('20 waiters in one manager poll like 1 waiter (one shared poller)', async () => {
    const holder = a.manager.lock('busy');
    await holder.acquire();
    const one = world.manager({ maxPollIntervalMs: 100 });
    const twenty = world.manager({ maxPollIntervalMs: 100 });
    await Promise.all([one.manager.probe(), twenty.manager.probe()]);
    // everybody sees the holder first
    await one.manager.lock('busy').tryAcquire();
    await twenty.manager.lock('busy').tryAcquire();

    const start = performance.now();
    const waitMs = 3000;
    const single = settle(one.manager.lock('busy').acquire({ waitMs }));
    const many: Array<ReturnType<typeof settle>> = [];
    for (let i = 0; i < 20; i++) {
      many.push(settle(twenty.manager.lock('busy').acquire({ waitMs })));
      await sleep(2); // arrivals spread a little, as in real life
    }
    const results = await Promise.all([single, ...many]);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBeInstanceOf(S3LockTimeoutError);
    }
    // count the steady state: from 500 ms after the arrivals to 500 ms before the timeouts
    const from = start + 500;
    const to = start + waitMs - 500;
    const reads = (p: Proc) => p.tap.requests.filter((r) => r.at >= from && r.at <= to && (r.operation === 'HeadObject' || r.operation === 'GetObject' || r.operation === 'ListObjectsV2')).length;
    const writes = (p: Proc) => p.tap.requests.filter((r) => r.at >= start && r.operation === 'PutObject').length;
    const r1 = reads(one);
    const r20 = reads(twenty);
    expect(r1).toBeGreaterThan(5);
    // "the same polls": allow for jitter, never anything like 20x
    expect(r20).toBeLessThanOrEqual(1.5 * r1 + 3);
    expect(writes(one) + writes(twenty)).toBe(0);
    await holder.release();
  }, 20_000);

  it('20 waiters arriving at the same instant do not each send a request', async () => {
    const holder = a.manager.lock('burst');
    await holder.acquire();
    const twenty = world.manager({ maxPollIntervalMs: 500 });
    await twenty.manager.probe();
    await twenty.manager.lock('burst').tryAcquire(); // warm: the holder is known
    const start = performance.now();
    const waiting = Array.from({ length: 20 }, () => settle(twenty.manager.lock('burst').acquire({ waitMs: 400 })));
    await Promise.all(waiting);
    const sent = twenty.tap.requests.filter((r) => r.at >= start).length;
    // one shared poller backing off from 50 ms: a handful of HEADs in 400 ms, not 20 + a handful.
    // BUG (src/core/lock-queue.ts wait(), lines 90-93): `this.waiters.length === 0` is checked before
    // the first attempt (async) has queued anyone, so every caller arriving while that attempt is in
    // flight makes its own tryOnce(): one HEAD each (20 simultaneous callers = 20 extra requests).
    expect(sent).toBeLessThan(12);
    await holder.release();
  });

  it('a renewal = 1 PUT and, in parallel, 1 GET of the generation record', async () => {
    const lock = a.manager.lock('renewing');
    await lock.acquire();
    world.store.clearRequests();
    await lock.extend();
    expect(ops().sort()).toEqual([GET, PUT]);
    await lock.release();
  });

  it('an in-process hand-off (release with a local waiter) = 1 PUT + the GET of the generation record', async () => {
    const first = a.manager.lock('handoff');
    const second = a.manager.lock('handoff');
    await first.acquire();
    const waiting = second.acquire({ waitMs: 10_000 });
    await sleep(30);
    world.store.clearRequests();
    await first.release();
    await waiting;
    expect(second.isHeld).toBe(true);
    expect(ops()).toEqual([PUT, GET]);
    world.store.clearRequests();
    await second.release();
    await waitFor(() => world.store.requests.length > 0, 1000, 'the release');
    expect(ops()).toEqual(['PutObject (conditional)']);
  });
});
