/**
 * Garbage collection of old epochs: only records older than the horizon (server time) and at
 * least two epochs behind the newest are deleted, and the fencing counter never resets.
 */
import type { S3LockEvents } from '../../src';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MemoryWorld, lockPrefixOf, waitFor, type Proc } from './support';

const HORIZON_MS = 300_000;

describe('garbage collection', () => {
  let world: MemoryWorld;
  let a: Proc;
  const storeErrors: Array<S3LockEvents['storeError']> = [];

  beforeEach(async () => {
    world = await MemoryWorld.create();
    await world.plantGenerations(['gc']); // epochs count from 1 in these tests
    a = world.manager({ gcHorizonMs: HORIZON_MS, gcIntervalMs: 0 });
    a.manager.on('storeError', (e) => storeErrors.push(e));
    await a.manager.probe();
  });
  afterEach(() => world.close());

  /**
   * After the store's clock was stepped forward: a process follows a step only once 32 responses
   * in a row over 5 s agree on it (one response cannot move its server clock; see ServerClock).
   */
  async function followClockStep(proc: Proc): Promise<void> {
    for (let i = 0; i < 18; i++) {
      await proc.manager.inspect('gc'); // LIST + HEAD
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  async function cycles(proc: Proc, n: number, tokens: number[]): Promise<void> {
    for (let i = 0; i < n; i++) {
      const lock = proc.manager.lock('gc');
      await lock.acquire();
      tokens.push(lock.fencingToken!);
      await lock.release();
    }
  }

  it('after the horizon passes, old records are deleted, the newest two kept, and tokens keep increasing', async () => {
    const tokens: number[] = [];
    // another manager's keys nested below the lock's folder (prefix locks/gc/), as old as the records
    // (and another manager's reserved folder with a record-shaped key: not a generation folder)
    const foreign = [`${lockPrefixOf('gc')}0001/999999999999998`, `${lockPrefixOf('gc')}sub/999999999999990`, `${lockPrefixOf('gc')}.probe/999999999999997`];
    for (const key of foreign) await world.put(key);
    // leftovers: an older generation's folder, and a record of a version without folders
    const leftovers = [`${lockPrefixOf('gc')}.${randomUUID()}/999999999999990`, `${lockPrefixOf('gc')}.${randomUUID()}/999999999999980`, `${lockPrefixOf('gc')}999999999999995`];
    for (const key of leftovers) await world.put(key);
    await cycles(a, 159, tokens); // epochs 1..318
    // collections ran (releases crossed 64, 128, 192, 256) but nothing was old enough
    await waitFor(() => a.tap.sent({ operation: 'ListObjectsV2' }).length >= 4, 5000, 'the early collections');
    expect(await world.epochs('gc')).toHaveLength(318);
    expect(a.tap.sent({ operation: 'DeleteObjects' })).toHaveLength(0);

    world.store.setClockOffset(2 * 3_600_000);
    await followClockStep(a);
    await cycles(a, 1, tokens); // epochs 319 (acquire), 320 (release): crosses 320 = 5 * 64
    const left = await waitFor(async () => {
      const epochs = await world.epochs('gc');
      return epochs.length < 318 ? epochs : undefined;
    }, 10_000, 'the collection after the horizon');
    expect(left).toEqual([320, 319]);
    expect(storeErrors).toEqual([]);
    // never the generation record, never another manager's keys
    const kept = await world.keys(lockPrefixOf('gc'));
    expect(kept).toContain(`${lockPrefixOf('gc')}generation`);
    for (const key of foreign) expect(kept).toContain(key);
    // the leftovers of other generations, never read, are collected too
    for (const key of leftovers) expect(kept).not.toContain(key);

    await cycles(a, 30, tokens); // epochs 321..380: no further crossing, nothing deleted
    expect(await world.epochs('gc')).toHaveLength(62);

    // a cold process continues the counter from the newest record
    const c = world.manager();
    const cold = c.manager.lock('gc');
    await expect(cold.tryAcquire()).resolves.toBe(true);
    tokens.push(cold.fencingToken!);
    await cold.release();

    expect(tokens).toHaveLength(191);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    expect(tokens[tokens.length - 1]).toBe(381);
    expect(storeErrors).toEqual([]);
  }, 60_000);

  it('a process whose cached view is stale reads the log again instead of recreating a collected epoch', async () => {
    // b's monotonic clock is a test hook: advancing it models b sitting idle
    let idle = 0;
    const b = world.manager({ gcHorizonMs: HORIZON_MS, gcIntervalMs: 0 }, { mono: { now: () => performance.now() + idle } });
    const first = b.manager.lock('gc');
    await first.acquire();
    await first.release(); // epochs 1, 2; b's cached view: epoch 2, free
    const tokens: number[] = [];
    await cycles(a, 31, tokens); // epochs 3..64
    world.store.setClockOffset(2 * 3_600_000);
    await followClockStep(a);
    await cycles(a, 32, tokens); // epochs 65..128; the release of 128 collects 1..64
    await waitFor(async () => !(await world.epochs('gc')).includes(3), 10_000, 'epoch 3 to be collected');

    idle = 60_000; // b's view is now a minute old: older than the 30 s a view may be trusted
    const stale = b.manager.lock('gc');
    await expect(stale.tryAcquire()).resolves.toBe(true);
    expect(stale.fencingToken).toBe(129);
    expect(await world.epochs('gc')).not.toContain(3);
    await stale.release();
  }, 30_000);

  it('gcHorizonMs 0 disables collection', async () => {
    const b = world.manager({ gcHorizonMs: 0, gcIntervalMs: 0 });
    const tokens: number[] = [];
    await cycles(b, 33, tokens); // crosses 64
    world.store.setClockOffset(3 * 3_600_000);
    await cycles(b, 32, tokens); // crosses 128
    await new Promise((r) => setTimeout(r, 200));
    expect(b.tap.sent({ operation: 'DeleteObjects' })).toHaveLength(0);
    expect(await world.epochs('gc')).toHaveLength(130);
  }, 30_000);
});
