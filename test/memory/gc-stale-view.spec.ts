/**
 * Garbage collection run from the view of an older generation must not collect the current one.
 * A release writes no generation check, so a lease that missed a force release or a record loss
 * leaves a fresh view of the old generation when it releases, and that release may start a
 * collection. Taking the view's generation for the current one, collection classed the real
 * current folder as an older generation and deleted its newest records: the next acquirer got the
 * token of the holder that was still renewing, and both held the lock.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { MemoryWorld, lockPrefixOf, sleep, waitFor, type Proc } from './support';

const HORIZON_MS = 300_000;
/** Renewals every 20 s: none during the test after the force release or the wipe. */
const LONG_TTL = 60_000;

/** The releasing process follows a step of the store's clock (32 agreeing answers over 5 s). */
async function followClockStep(proc: Proc): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await proc.manager.inspect('other');
    await sleep(150);
  }
}

describe('garbage collection from a stale generation view', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
    await world.plantGenerations(['gc'], 62); // first token 63: the lease's release at 64 crosses 64 and collects
  });
  afterEach(() => world.close());

  it.each(['a force release', 'a wipe of the prefix'])('after %s, a stale lease that releases does not collect the current folder', async (how) => {
    const a = world.manager({ gcHorizonMs: HORIZON_MS, gcIntervalMs: 0, ttlMs: LONG_TTL });
    const old = a.manager.lock('gc');
    await old.acquire();
    expect(old.fencingToken).toBe(63);
    if (how === 'a force release') await expect(world.manager().manager.forceRelease('gc')).resolves.toBe(true);
    else for (const key of await world.keys()) await world.admin.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
    const h = world.manager({ ttlMs: LONG_TTL });
    const holder = h.manager.lock('gc');
    await holder.acquire();
    const current = await world.generationId('gc');
    // the horizon passes on the store's clock (a TTL of more than 3 horizons, or a clock step)
    world.store.setClockOffset(2 * 3_600_000);
    await followClockStep(a);
    expect(old.isHeld).toBe(true); // documented: it believes until its next renewal
    await old.release();
    await waitFor(() => a.tap.sent({ operation: 'ListObjectsV2' }).length > 0, 10_000, 'a collection');
    await sleep(300);
    expect(await world.keys(`${lockPrefixOf('gc')}.${current}/`)).not.toEqual([]);
    // on the stepped clock the holder's record is two hours old, so another manager may take the
    // lock over; what it must not get is the holder's token again (its records were collected)
    const other = world.manager({ ttlMs: LONG_TTL }).manager.lock('gc');
    if (await other.tryAcquire()) expect(other.fencingToken!).toBeGreaterThan(holder.fencingToken!);
    expect(other.fencingToken ?? Infinity).not.toBe(holder.fencingToken);
  }, 60_000);
});
