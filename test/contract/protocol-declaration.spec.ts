/**
 * One protocol per bucket and prefix, on every store: the first manager declares its protocol in
 * `<prefix>.protocol`; a manager configured for the other protocol is refused, `auto` follows the
 * declaration, and versioning switched on under a create-only prefix is refused where the store then
 * ignores If-None-Match (Ceph RGW) and harmless where it does not (AWS semantics: moto, in-memory).
 */
import { PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3LockManager, S3LockProtocolMismatchError, S3LockUnsupportedStoreError, type S3LockManagerOptions } from '../../src';
import { purgePrefix, wipePrefix } from '../support/bucket-wipe';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 5_000;

let target: StoreTarget;
let client: S3Client;
const managers: S3LockManager[] = [];

beforeAll(async () => {
  target = await storeTarget();
  client = target.createClient();
});
afterAll(async () => {
  await Promise.all(managers.map((m) => m.close()));
  await target?.close();
});

function manager(options: Partial<S3LockManagerOptions> & { bucket: string }): S3LockManager {
  const m = new S3LockManager({ client, ttlMs: TTL, waitMs: 0, ...options });
  managers.push(m);
  return m;
}

/** Does this store ignore If-None-Match once a bucket is versioned (Ceph RGW 16)? */
const ignoresConditionsWhenVersioned = (): boolean => target.name === 'rgw';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => error,
  );
}

function expectMismatch(error: unknown, bucket: string, prefix: string, configured: string, declared: string): void {
  expect(error).toBeInstanceOf(S3LockProtocolMismatchError);
  const e = error as S3LockProtocolMismatchError;
  expect(e).toBeInstanceOf(S3LockUnsupportedStoreError);
  expect(e).toMatchObject({ bucket, prefix, protocol: configured, declaredProtocol: declared, failedPrimitive: 'protocol-declaration' });
  expect(e.message).toContain(`"${bucket}"`);
  expect(e.message).toContain(`"${prefix}"`);
  expect(e.message).toContain(`'${configured}'`);
  expect(e.message).toContain(`'${declared}'`);
  expect(e.message).toContain(`${prefix}.protocol`);
}

describe('a create-only and a versioned manager on one versioned bucket', () => {
  it('never hold one lock at once: whichever starts second is refused, naming both protocols', async () => {
    const bucket = await target.createBucket({ versioned: true });
    // On RGW the create-only probe refuses a versioned bucket anyway; the versioned fleet starts first there.
    const order = ignoresConditionsWhenVersioned() ? (['versioned', 'create-only'] as const) : (['create-only', 'versioned'] as const);
    const prefix = 'mixed/';
    const first = manager({ bucket, prefix, protocol: order[0] }).lock('job');
    const second = manager({ bucket, prefix, protocol: order[1] }).lock('job');
    expect(await first.tryAcquire()).toBe(true);
    const outcome = await rejection(second.tryAcquire());
    // Without a declaration both held 'job' here: neither protocol sees the other's lease.
    expect({ first: first.isHeld, second: second.isHeld }).toEqual({ first: true, second: false });
    expectMismatch(outcome, bucket, prefix, order[1], order[0]);
    await first.release();
    // Refusals are final: the lock is free now, and still the second manager never gets it.
    await expect(second.tryAcquire()).rejects.toBeInstanceOf(S3LockProtocolMismatchError);
  });

  it('on another prefix of the same bucket the other protocol runs (declarations are per prefix)', async () => {
    const bucket = await target.createBucket({ versioned: true });
    expect(await manager({ bucket, prefix: 'one/', protocol: 'versioned' }).probe()).toBe('versioned');
    const other = manager({ bucket, prefix: 'two/', protocol: 'auto' });
    expect(await other.probe()).toBe(ignoresConditionsWhenVersioned() ? 'versioned' : 'create-only');
    // and 'auto' on the first prefix follows its declaration
    expect(await manager({ bucket, prefix: 'one/', protocol: 'auto' }).probe()).toBe('versioned');
  });
});

describe('versioning switched on under a create-only prefix', () => {
  it('refuses new managers where the store then ignores If-None-Match, and stops the running ones at their next write', async () => {
    const bucket = await target.createBucket();
    const prefix = 'switched/';
    const running = manager({ bucket, prefix, protocol: 'auto' });
    expect(await running.probe()).toBe('create-only');
    const before = running.lock('job');
    expect(await before.tryAcquire()).toBe(true);
    await before.release();

    await target.createClient().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));

    const auto = manager({ bucket, prefix, protocol: 'auto' });
    const versioned = manager({ bucket, prefix, protocol: 'versioned' });
    const createOnly = manager({ bucket, prefix, protocol: 'create-only' });
    expectMismatch(await rejection(versioned.probe()), bucket, prefix, 'versioned', 'create-only');
    if (ignoresConditionsWhenVersioned()) {
      // Without the declaration 'auto' picked versioned here, beside the running create-only fleet.
      for (const late of [auto, createOnly]) {
        const error = await rejection(late.probe());
        expect(error).toBeInstanceOf(S3LockUnsupportedStoreError);
        expect(error).not.toBeInstanceOf(S3LockProtocolMismatchError);
        expect(error).toMatchObject({ bucket, prefix, failedPrimitive: 'if-none-match' });
        expect((error as Error).message).toContain("declared 'create-only'");
      }
      // The running manager notices at its next write (its response now carries a version id), probes again and stops.
      const after = running.lock('job');
      const refused = await rejection(after.tryAcquire());
      expect(after.isHeld).toBe(false);
      expect(refused).toBeInstanceOf(S3LockUnsupportedStoreError);
      expect(refused).toMatchObject({ bucket, prefix, failedPrimitive: 'if-none-match' });
      await expect(running.probe()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
      await expect(running.lock('other').tryAcquire()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    } else {
      // AWS semantics: create-only writes are honoured in versioned buckets too; everyone stays on create-only.
      expect(await auto.probe()).toBe('create-only');
      expect(await createOnly.probe()).toBe('create-only');
      const after = running.lock('job');
      expect(await after.tryAcquire()).toBe(true);
      expect(await auto.lock('job').tryAcquire()).toBe(false);
      await after.release();
      expect(await auto.lock('job').tryAcquire()).toBe(true);
    }
  });
});

describe('the declaration lost with the records (versioned bucket)', () => {
  it('a create-only fleet, the prefix emptied, a versioned newcomer declares first: the fleet is refused at its next grant, never both hold', async () => {
    const bucket = await target.createBucket({ versioned: true });
    const prefix = 'lost-co/';
    if (ignoresConditionsWhenVersioned()) {
      // RGW: a versioned bucket refuses create-only at its probe, so no create-only fleet can run here.
      const error = await rejection(manager({ bucket, prefix, protocol: 'create-only' }).probe());
      expect(error).toMatchObject({ bucket, prefix, failedPrimitive: 'if-none-match' });
      return;
    }
    const fleet = manager({ bucket, prefix, protocol: 'create-only' });
    const held = fleet.lock('held');
    expect(await held.tryAcquire()).toBe(true);
    await wipePrefix(client, bucket, prefix); // the declaration goes with the records
    const newcomer = manager({ bucket, prefix, protocol: 'versioned' }).lock('job');
    expect(await newcomer.tryAcquire()).toBe(true);
    const refused = await rejection(fleet.lock('job').tryAcquire());
    expectMismatch(refused, bucket, prefix, 'create-only', 'versioned');
    // The holder from before the loss learns it at its next renewal (within one TTL).
    const until = Date.now() + TTL + 2_000;
    while (!held.signal.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(held.signal.aborted).toBe(true);
    expect(newcomer.isHeld).toBe(true);
    await newcomer.release();
  });

  it('a versioned fleet, the prefix purged, a create-only newcomer: refused by its probe (RGW) or declares first, and then the fleet is refused and its holder loses its lease', async () => {
    const bucket = await target.createBucket({ versioned: true });
    const prefix = 'lost-v/';
    const fleet = manager({ bucket, prefix, protocol: 'versioned' });
    const other = manager({ bucket, prefix, protocol: 'versioned' });
    const held = fleet.lock('job');
    expect(await held.tryAcquire()).toBe(true);
    expect(await other.probe()).toBe('versioned');
    await purgePrefix(client, bucket, prefix); // every version, as a store restarted without state
    const newcomer = manager({ bucket, prefix, protocol: 'create-only' });
    if (ignoresConditionsWhenVersioned()) {
      const error = await rejection(newcomer.probe());
      expect(error).toMatchObject({ bucket, prefix, failedPrimitive: 'if-none-match' });
      return;
    }
    const lockC = newcomer.lock('job');
    expect(await lockC.tryAcquire()).toBe(true);
    const until = Date.now() + TTL + 2_000;
    while (!held.signal.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toMatchObject({ reason: 'records-lost' });
    const refused = await rejection(other.lock('job').tryAcquire());
    expectMismatch(refused, bucket, prefix, 'versioned', 'create-only');
    expect(lockC.isHeld).toBe(true);
    await lockC.release();
  });
});
