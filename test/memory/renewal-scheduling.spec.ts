/**
 * Renewals under load: the manager runs at most `maxInFlight` store operations at once, and a
 * renewal waiting for a slot goes ahead of attempts and polls (closest deadline first). A lease
 * whose renewal never got a slot in time is lost with a cause that says so; an attempt whose caller
 * gave up before its turn came is not sent at all.
 */
import { S3LockLostError, S3LockStoreError } from '../../src';
import { MemoryWorld, TTL_MS, lockPrefixOf, sleep } from './support';

describe('renewal scheduling', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it('a held lease keeps renewing ahead of a backlog of slow attempts on other names', async () => {
    const a = world.manager({ maxInFlight: 1 });
    const lock = a.manager.lock('held');
    await lock.acquire();
    // 24 attempts whose every request takes 250 ms: about 18 s of store time through one slot,
    // six TTLs. In arrival order the renewal would wait behind them all and the lease would be lost.
    const names = Array.from({ length: 24 }, (_, i) => `busy-${i}`);
    for (const n of names) a.tap.inject({ match: { keyPrefix: lockPrefixOf(n) }, times: Infinity, fault: { kind: 'delay', ms: 250 } });
    const renewed: number[] = [];
    a.manager.on('renewed', (e) => e.name === 'held' && renewed.push(e.tookMs));
    const attempts = Promise.allSettled(names.map((n) => a.manager.lock(n).tryAcquire()));
    await sleep(2 * TTL_MS);
    expect(lock.isHeld).toBe(true);
    expect(lock.signal.aborted).toBe(false);
    expect(renewed.length).toBeGreaterThanOrEqual(3);
    // each renewal waited at most for the one operation in its slot, never for the backlog
    expect(Math.max(...renewed)).toBeLessThan(TTL_MS / 3);
    const outcomes = await attempts;
    // the attempts waited behind the renewals: some ran out of their time limit, none was lost
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' && o.reason instanceof S3LockStoreError ? [o.reason] : []));
    expect(refused.length).toBeGreaterThan(0);
    // and they say why: the manager's own queue, not only the store
    expect(refused[0]!.message).toMatch(/over capacity \(1 of its 1 request slots busy, \d+ operations waiting, renewals first/);
    // an attempt whose caller had its answer before its turn came is never sent: no request at all
    // for most of the names, where in arrival order every one of them would have run
    // (an acquisition queued after them all completes once every one of them had its turn)
    await a.manager.using('after-the-backlog', () => undefined, { waitMs: 60_000 });
    const untouched = names.filter((n) => !a.tap.requests.some((r) => r.key.startsWith(lockPrefixOf(n))));
    expect(untouched.length).toBeGreaterThanOrEqual(names.length / 2);
    await lock.release();
  }, 60_000);

  it('a renewal that cannot get a slot before its deadline is lost with a cause naming the slots, and never sent', async () => {
    const a = world.manager({ maxInFlight: 1 });
    const lock = a.manager.lock('held');
    await lock.acquire();
    const token = lock.fencingToken;
    // one attempt that holds the only slot for longer than the lease can wait: each of its requests
    // (in series) takes 1.5 s, within the request timeout (2 s)
    a.tap.inject({ match: { keyPrefix: lockPrefixOf('slow') }, times: Infinity, fault: { kind: 'delay', ms: 1_500 } });
    const slow = a.manager.lock('slow').tryAcquire().catch((error: unknown) => error);
    const lost = await new Promise<S3LockLostError>((resolve) => lock.signal.addEventListener('abort', () => resolve(lock.signal.reason as S3LockLostError)));
    expect(lost).toBeInstanceOf(S3LockLostError);
    expect(lost.reason).toBe('deadline-passed');
    expect(String((lost.cause as Error).message)).toMatch(/waited \d+ ms for a request slot \(or for this lock's operation in flight\) and was never sent: 1 of the manager's 1 slots \(maxInFlight\) busy/);
    const sentAfterLoss = a.tap.requests.filter((r) => r.key.startsWith(lockPrefixOf('held')) && r.operation === 'PutObject');
    await slow;
    // the lock is free again once the loss's release went out, and nobody renewed it after the loss
    const b = world.manager();
    await expect(b.manager.lock('held').acquire({ waitMs: 2 * TTL_MS })).resolves.toBeUndefined();
    const renewalsAfter = a.tap.requests.filter((r) => r.key.startsWith(lockPrefixOf('held')) && r.operation === 'PutObject').length - sentAfterLoss.length;
    expect(renewalsAfter).toBeLessThanOrEqual(1); // the release written after the loss, no renewal
    expect(token).toBeGreaterThan(0);
  }, 30_000);

  it('an attempt on a name this manager holds answers at once, without waiting for a request slot', async () => {
    const a = world.manager({ maxInFlight: 1 });
    const lock = a.manager.lock('held');
    await lock.acquire();
    a.tap.inject({ match: { keyPrefix: lockPrefixOf('slow') }, times: Infinity, fault: { kind: 'delay', ms: 1_500 } });
    const slow = a.manager.lock('slow').tryAcquire().catch((error: unknown) => error);
    await sleep(100); // the slow attempt has the only slot
    // in the slot queue it would wait behind the slow attempt, and hold up the lease's renewal
    const attempt = a.manager.lock('held').tryAcquire();
    const first = await Promise.race([attempt.then(() => 'attempt'), slow.then(() => 'slow attempt')]);
    expect(first).toBe('attempt');
    await expect(attempt).resolves.toBe(false);
    await slow;
    expect(lock.isHeld).toBe(true);
    await lock.release();
  }, 30_000);

  it("a renewal is not held up by an attempt of the same name that started before the grant and still waits for a slot", async () => {
    const a = world.manager({ maxInFlight: 1 });
    const first = a.manager.lock('held');
    const winning = first.tryAcquire(); // takes the only slot at once
    const names = Array.from({ length: 24 }, (_, i) => `busy-${i}`);
    for (const n of names) a.tap.inject({ match: { keyPrefix: lockPrefixOf(n) }, times: Infinity, fault: { kind: 'delay', ms: 250 } });
    const backlog = Promise.allSettled(names.map((n) => a.manager.lock(n).tryAcquire()));
    // queued behind the backlog; if it took the name's turn while waiting, the lease's renewals would queue behind it
    const second = a.manager.lock('held').tryAcquire().catch((error: unknown) => error);
    await expect(winning).resolves.toBe(true);
    await sleep(2 * TTL_MS);
    expect(first.isHeld).toBe(true);
    expect(first.signal.aborted).toBe(false);
    await Promise.all([backlog, second]);
    await first.release();
  }, 90_000);
});
