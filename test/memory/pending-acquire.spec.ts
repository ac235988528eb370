/**
 * A pending acquire() keeps its process alive, as a pending socket would, however long it may
 * wait: a process whose only work is a wait must not exit (with code 0) before the lock comes.
 * Engine timers are unref'd (a held lease alone does not keep a process alive); a waiter holds a
 * ref'd handle while it waits. On the in-memory store only (served over HTTP to the child): what
 * keeps a process alive does not depend on the store.
 */
import { S3LockManager } from '../../src';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { WorkerProcess } from '../support/worker-process';

const TTL = 3_000;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(PROTOCOL_CASES)('a pending acquire() keeps the process alive ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  let holderManager: S3LockManager;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
    holderManager = new S3LockManager({ client: target.createClient(), bucket, protocol, ttlMs: TTL });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(() => holderManager?.close());

  it.each([
    ['waitMs: Infinity', { waitForever: true }],
    // beyond the longest timer Node can set (2^31 - 1 ms): neither an early timeout nor an exit
    ['waitMs: 2^32 ms', { waitMs: 2 ** 32 }],
  ])('%s: the waiting process stays up until the holder releases, then gets the lock', async (label, wait) => {
    const name = `pending-${label.replace(/\W+/g, '-')}`;
    const held = holderManager.lock(name);
    await held.acquire();
    const waiter = new WorkerProcess({ endpoint: target.endpoint, ...target.credentials, bucket, protocol, mode: 'acquire', name, ttlMs: TTL, ...wait });
    workers.push(waiter);
    await waiter.waitFor((e) => e.event === 'waiting', 60_000);
    // nothing but the wait is left in the child: several poll rounds pass, it must still be there
    await sleep(TTL);
    expect({ exitCode: waiter.child.exitCode, events: waiter.events.map((e) => e.event) }).toEqual({ exitCode: null, events: ['waiting'] });
    await held.release();
    await waiter.waitFor((e) => e.event === 'done', 30_000);
    expect(waiter.events.map((e) => e.event)).toEqual(['waiting', 'acquired', 'done']);
    // once it no longer waits, nothing keeps the child alive: it exits by itself, with code 0
    expect(await waiter.exited).toBe(0);
  }, 90_000);
});
