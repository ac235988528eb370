/**
 * A force release that lands while a contender's claim is in flight: the store has applied the
 * claim, its answer is still on the way, and meanwhile the operator force-releases the lock (ending
 * the claim) and another process acquires it. The claim's answer then arrives. Granting it now
 * would hand out an older fencing token after a newer one, to a second holder at once: the torture
 * test's force-release schedule found exactly this on RGW (`fencing-order`). The contender must
 * not be granted while the newer holder holds; a later grant must carry a larger token.
 * Client-side faults make the schedule, so it runs on every store.
 */
import { S3LockManager, type S3LockProtocolName } from '../../src';
import { ClientFaults } from '../support/client-faults';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;

let target: StoreTarget;
const managers: S3LockManager[] = [];

beforeAll(async () => {
  target = await storeTarget();
});
afterAll(async () => {
  await Promise.allSettled(managers.map((m) => m.close()));
  await target?.close();
});

describe.each(['create-only', 'versioned'] as const)('a force release while a claim is answered (%s)', (protocol: S3LockProtocolName) => {
  let bucket: string;
  beforeAll(async () => {
    bucket = await target.createBucket({ versioned: protocol === 'versioned' });
  });

  function proc(): { manager: S3LockManager; faults: ClientFaults } {
    const client = target.createClient();
    const faults = new ClientFaults(client);
    const manager = new S3LockManager({ client, bucket, protocol, prefix: 'locks/', ttlMs: TTL, maxPollIntervalMs: 200 });
    managers.push(manager);
    return { manager, faults };
  }

  it('the held claim is not granted below the newer holder, and a later grant is above it', async () => {
    const operator = proc();
    const other = proc();
    const contender = proc();
    // warm: every manager has probed and declared; the contender holds a fresh view of the log
    await other.manager.using('job', () => undefined);
    await operator.manager.inspect('job');
    await contender.manager.using('job', () => undefined);

    const newer = other.manager.lock('job');
    const during: { forced?: boolean; newerAcquired?: boolean } = {};
    contender.faults.next('PutObject', {
      kind: 'hold-after',
      action: async () => {
        during.forced = await operator.manager.forceRelease('job');
        during.newerAcquired = await newer.tryAcquire();
      },
    });
    const held = contender.manager.lock('job');
    const granted = await held.tryAcquire();
    const report = {
      forced: during.forced,
      newerAcquired: during.newerAcquired,
      newerStillHeld: newer.isHeld,
      contenderGranted: granted,
      contenderToken: held.fencingToken,
      newerToken: newer.fencingToken,
    };
    expect(contender.faults.pending).toBe(0);
    // the force release hit the claim, the other process won, and the contender was not granted
    expect(report).toEqual({ ...report, forced: true, newerAcquired: true, newerStillHeld: true, contenderGranted: false, contenderToken: undefined });

    await newer.release();
    const later = contender.manager.lock('job');
    await later.acquire({ waitMs: 10_000 });
    expect(later.fencingToken).toBeGreaterThan(report.newerToken!);
    await later.release();
  });
});
