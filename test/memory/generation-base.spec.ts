/**
 * A new generation's base must be above every token granted before a record loss, whichever
 * process creates it. It used to come from the creating process's server-clock LOWER bound, which
 * lags a forward step of the store's clock (the estimator follows a step only after 32 agreeing
 * responses over 5 s): such a process made a base at or below a token that a process with a
 * current bound had just granted. The base now also takes the Date of the answer that showed the
 * log empty. A loss within the same second as the generation began is not covered: Dates have 1 s
 * resolution, so both generations get the same base (docs/protocol.md, "Record loss", open).
 * Assumption R holds here (the store clock never goes back, a handful of epochs per second).
 */
import { MemoryWorld, lockPrefixOf, sleep, type Proc } from './support';
import { wipePrefix } from '../support/bucket-wipe';

describe('generation base from a lagging server clock', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it('a token granted after a record loss is above every token granted before it when the creator of the new generation lags a step of the store clock (loss more than 1 s after the generation began): the base comes from the Date of the answer that showed the log empty', async () => {
    world = await MemoryWorld.create();
    const p2: Proc = world.manager();
    await p2.manager.probe();
    const warm = p2.manager.lock('other');
    await warm.acquire();
    await warm.release();
    world.store.setClockOffset(3_600_000);

    const p1: Proc = world.manager();
    const held = p1.manager.lock('x');
    await held.acquire();
    const before = held.fencingToken!;
    await held.release();
    await sleep(1_100); // assumption R (R1): the loss comes more than 1 s after the generation began

    await wipePrefix(world.admin, world.bucket, lockPrefixOf('x'));
    const after = p2.manager.lock('x');
    await after.acquire();
    const token = after.fencingToken!;
    await after.release();

    expect({ before, after: token, afterIsGreater: token > before }).toEqual({ before, after: token, afterIsGreater: true });
  });
});
