/**
 * Review: the prefix's protocol declaration (`<prefix>.protocol`) is read once per manager and is
 * lost with the other records (prefix emptied, bucket re-created, store restarted). A manager
 * started after the loss finds no declaration and declares its own protocol while the running
 * managers keep the one they selected: the mixed fleet the declaration was made to refuse comes
 * back (create-only and versioned on one versioned bucket, where both protocols' probes pass).
 */
import { S3LockProtocolMismatchError } from '../../src';
import { MemoryWorld, PREFIX, settle } from './support';
import { wipePrefix } from '../support/bucket-wipe';

describe('review: protocol declaration lost with the records', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it('a manager configured for the other protocol is still refused after the prefix lost its records', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const a = world.manager({ protocol: 'create-only' });
    expect(await a.manager.probe()).toBe('create-only');

    await wipePrefix(world.admin, world.bucket, PREFIX); // every key of the prefix, the declaration included

    const b = world.manager({ protocol: 'versioned' });
    const probed = await settle(b.manager.probe());
    const lockA = a.manager.lock('job');
    const lockB = b.manager.lock('job');
    const gotA = await lockA.tryAcquire();
    const gotB = probed.ok ? await lockB.tryAcquire() : false;
    const report = { bRefused: !probed.ok && (probed as { error: unknown }).error instanceof S3LockProtocolMismatchError, bothHold: gotA && gotB && lockA.isHeld && lockB.isHeld };
    if (lockA.isHeld) await lockA.release();
    if (lockB.isHeld) await lockB.release();
    expect(report).toEqual({ bRefused: true, bothHold: false });
  });
});
