/**
 * The early warning before a loss: a renewal that lands with less than a third of the TTL left
 * fires `renewalSlow` (the Nest module logs it at warn), and the lease is still held; normal
 * renewals fire nothing. A loss whose renewal was late names that renewal as its cause.
 */
import { S3LockLostError, type S3LockEvents } from '../../src';
import { MemoryWorld, TTL_MS, sleep } from './support';

describe('slow renewals', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it('a renewal landing with less than TTL/3 left fires renewalSlow before any loss; normal ones fire nothing', async () => {
    const a = world.manager();
    const slow: Array<S3LockEvents['renewalSlow']> = [];
    const renewed: number[] = [];
    a.manager.on('renewalSlow', (e) => slow.push(e));
    a.manager.on('renewed', () => renewed.push(Date.now()));
    const lock = a.manager.lock('job');
    await lock.acquire();
    await sleep(TTL_MS); // about three normal renewals
    expect(renewed.length).toBeGreaterThanOrEqual(2);
    expect(slow).toEqual([]);
    // the next renewal's write takes 1.3 s of its 2 s slack
    a.tap.inject({ match: { operation: 'PutObject' }, fault: { kind: 'delay', ms: 1_300 } });
    await sleep(TTL_MS);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ name: 'job', fencingToken: lock.fencingToken });
    expect(slow[0]!.tookMs).toBeGreaterThanOrEqual(1_300);
    expect(slow[0]!.remainingMs).toBeLessThan(TTL_MS / 3);
    expect(lock.isHeld).toBe(true);
    await lock.release();
  }, 30_000);

  it('a lease lost because its renewal did not land in time has that renewal as the cause', async () => {
    const a = world.manager();
    const lock = a.manager.lock('job');
    await lock.acquire();
    a.tap.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'delay', ms: 10_000 } });
    const lost = await new Promise<S3LockLostError>((resolve) => lock.signal.addEventListener('abort', () => resolve(lock.signal.reason as S3LockLostError)));
    expect(lost.reason).toBe('deadline-passed');
    expect(String((lost.cause as Error | undefined)?.message)).toMatch(/had no answer yet|S3 store failed during renew/);
  }, 30_000);
});
