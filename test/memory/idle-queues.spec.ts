/**
 * A manager drops a name's queue once no lease, waiter, attempt or store operation of it is left,
 * and makes a new one at the next use; instances made before keep working through the new one.
 */
import { S3LockTimeoutError } from '../../src';
import { MemoryWorld, settle, sleep, waitFor, type Proc } from './support';

describe('queues of idle names', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;

  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager({ maxPollIntervalMs: 50 });
    b = world.manager({ maxPollIntervalMs: 50 });
    await a.manager.probe();
    await b.manager.probe();
  });
  afterEach(() => world.close());

  const queues = (p: Proc): number => p.manager.retainedEntries()['queues']!;

  it('keeps a queue while a lease or a waiter uses it, and drops it once neither does', async () => {
    const held = a.manager.lock('x');
    await held.acquire();
    expect(queues(a)).toBe(1);
    const waiter = settle(b.manager.lock('x').acquire({ waitMs: 10_000 }));
    await sleep(100);
    expect(queues(b)).toBe(1);

    await held.release();
    const got = await waiter;
    expect(got.ok).toBe(true);
    await waitFor(() => queues(a) === 0, 1_000, "a's queue dropped after its release");
    expect(queues(b)).toBe(1); // b holds now

    const timedOut = settle(a.manager.lock('x').acquire({ waitMs: 300 }));
    await sleep(50);
    expect(queues(a)).toBe(1);
    const r = await timedOut;
    expect(r.ok ? undefined : r.error).toBeInstanceOf(S3LockTimeoutError);
    await waitFor(() => queues(a) === 0, 1_000, "a's queue dropped after its waiter gave up");
  });

  it('an instance made before its queue was dropped uses the new one: it sees the local holder without a request', async () => {
    const early = a.manager.lock('z');
    await early.acquire();
    const firstToken = early.fencingToken!;
    await early.release();
    await waitFor(() => queues(a) === 0, 1_000, 'the queue dropped');

    const late = a.manager.lock('z');
    await late.acquire();
    const lateToken = late.fencingToken!;
    expect(lateToken).toBeGreaterThan(firstToken);
    const sent = a.tap.requests.length;
    await expect(early.tryAcquire()).resolves.toBe(false); // answered from the local holder
    expect(a.tap.requests.length).toBe(sent);
    await late.release();

    await early.acquire();
    expect(early.fencingToken!).toBeGreaterThan(lateToken);
    await early.release();
  });
});
