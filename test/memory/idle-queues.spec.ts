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

  it('a lease lost at its deadline keeps its queue until the release written after the loss has settled', async () => {
    const holder = a.manager.lock('lost');
    await holder.acquire();
    // queues of the manager at the moment the release after the loss fails (the release is still
    // running then: its failure is reported before it settles)
    const atReleaseFailure: number[] = [];
    a.manager.on('storeError', (e) => {
      if (e.operation === 'release') atReleaseFailure.push(queues(a));
    });
    // every create of this process fails from now on: renewals, then the release after the loss
    a.tap.inject({ match: { operation: 'PutObject', conditional: true }, times: Infinity, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    await waitFor(() => atReleaseFailure.length > 0, 20_000, 'the failed release after the loss');
    expect(holder.signal.aborted).toBe(true);
    expect(atReleaseFailure).toEqual([1]);
    await waitFor(() => queues(a) === 0, 1_000, 'the queue dropped once the release settled');
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
