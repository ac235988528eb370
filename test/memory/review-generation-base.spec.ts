/**
 * Review: the generation base of a new log is derived from the creating process's server-clock
 * LOWER bound. docs/protocol.md ("Record loss", property b) argues that every epoch written before
 * a loss is below floor(serverNow) x 10^4 of any later reader. A process whose lower bound lags
 * the store's clock (it has not followed a forward step of the store clock yet, which the
 * estimator deliberately delays: 32 agreeing responses over 5 s) creates a base below the tokens
 * that a process with an up-to-date bound granted before the loss. Assumption R holds (the store
 * clock never goes back, a handful of epochs per second).
 */
import { MemoryWorld, lockPrefixOf, type Proc } from './support';
import { wipePrefix } from '../support/bucket-wipe';

describe('review: generation base from a lagging server clock', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it('a token granted after a record loss is above every token granted before it, whichever process creates the new generation', async () => {
    world = await MemoryWorld.create();
    // P2 runs before the store clock's step and keeps its responses.
    const p2: Proc = world.manager();
    await p2.manager.probe();
    const warm = p2.manager.lock('other');
    await warm.acquire();
    await warm.release();

    // The store's clock steps forward by one hour (an NTP correction on every node at once).
    world.store.setClockOffset(3_600_000);

    // P1 starts after the step: its first responses agree with each other, so its bound is current.
    const p1: Proc = world.manager();
    const held = p1.manager.lock('x');
    await held.acquire();
    const before = held.fencingToken!;
    await held.release();

    // The lock's records are lost (prefix emptied, bucket re-created, store restarted).
    await wipePrefix(world.admin, world.bucket, lockPrefixOf('x'));

    // P2 is the first reader after the loss: it creates the new generation.
    const after = p2.manager.lock('x');
    await after.acquire();
    const token = after.fencingToken!;
    await after.release();

    expect({ before, after: token, afterIsGreater: token > before }).toEqual({ before, after: token, afterIsGreater: true });
  });
});
