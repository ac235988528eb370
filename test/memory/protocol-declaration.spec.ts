/**
 * The per-prefix protocol declaration (`<prefix>.protocol`) on the in-memory store: mixed fleets are
 * refused, `auto` follows the declaration, versioning switched on under a running create-only fleet
 * on an RGW-like store (If-None-Match ignored once versioned) is refused, races between first
 * managers, a declaration nobody could have written, and what the declaration costs.
 */
import { HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { S3LockLostError, S3LockProtocolMismatchError, S3LockUnsupportedStoreError, type S3LockManager } from '../../src';
import { MemoryWorld, PREFIX, settle, sleep, TTL_MS, waitFor } from './support';
import { purgePrefix, wipePrefix } from '../support/bucket-wipe';

const DECLARATION = `${PREFIX}.protocol`;

async function enableVersioning(world: MemoryWorld): Promise<void> {
  await world.admin.send(new PutBucketVersioningCommand({ Bucket: world.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
}

async function refusalOf(manager: S3LockManager): Promise<S3LockUnsupportedStoreError> {
  const result = await settle(manager.probe());
  expect(result.ok).toBe(false);
  const error = (result as { error: unknown }).error;
  expect(error).toBeInstanceOf(S3LockUnsupportedStoreError);
  return error as S3LockUnsupportedStoreError;
}

describe('protocol declaration', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it("'auto' on an RGW-like store: managers that probed before versioning was enabled and one that starts after never hold one lock together", async () => {
    world = await MemoryWorld.create({ bucket: 'rgw-like' });
    world.store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    const early = [world.manager({ protocol: 'auto' }), world.manager({ protocol: 'auto' })];
    for (const p of early) expect(await p.manager.probe()).toBe('create-only');
    await enableVersioning(world);

    // Without the declaration this manager picked 'versioned', and all three held 'job' with token 1.
    const late = world.manager({ protocol: 'auto' });
    const refusal = await refusalOf(late.manager);
    expect(refusal).not.toBeInstanceOf(S3LockProtocolMismatchError);
    expect(refusal).toMatchObject({ bucket: 'rgw-like', prefix: PREFIX, protocol: 'auto', failedPrimitive: 'if-none-match' });
    expect(refusal.message).toContain("declared 'create-only'");
    expect(refusal.advice).toMatch(/versioning/);

    const locks = [...early, late].map((p) => p.manager.lock('job'));
    const outcomes = await Promise.all(locks.map((l) => settle(l.tryAcquire())));
    expect(locks.filter((l) => l.isHeld)).toHaveLength(0);
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      expect((o as { error: unknown }).error).toBeInstanceOf(S3LockUnsupportedStoreError);
    }
    // and the early managers stay refused
    for (const p of early) await expect(p.manager.lock('other').tryAcquire()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
  });

  it('a lease held when versioning is switched on (RGW-like) is never renewed again and ends at its deadline; nobody else gets the lock', async () => {
    world = await MemoryWorld.create({ bucket: 'rgw-like' });
    world.store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    const holder = world.manager({ protocol: 'auto' });
    const storeErrors: Error[] = [];
    holder.manager.on('storeError', (e) => storeErrors.push(e.error));
    const lock = holder.manager.lock('job');
    expect(await lock.tryAcquire()).toBe(true);
    const signal = lock.signal;
    await enableVersioning(world);

    await waitFor(() => signal.aborted, TTL_MS + 2_000, 'the lease to end');
    expect((signal.reason as S3LockLostError).reason).toBe('deadline-passed');
    expect(storeErrors.some((e) => e instanceof S3LockUnsupportedStoreError)).toBe(true);
    const other = world.manager({ protocol: 'create-only' });
    await expect(other.manager.lock('job').tryAcquire()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
  });

  it('versioning enabled (RGW-like) between the probe and the declaration: the declaration write shows it, and the manager is refused', async () => {
    world = await MemoryWorld.create({ bucket: 'rgw-like' });
    world.store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    const p = world.manager({ protocol: 'auto' });
    const held = p.tap.inject({ match: { keyPrefix: DECLARATION, operation: 'PutObject' }, fault: { kind: 'delay', ms: 400 } });
    const probing = settle(p.manager.probe());
    await waitFor(() => held.fired > 0, 2_000, 'the declaration write');
    await enableVersioning(world);
    const result = await probing;
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error as S3LockUnsupportedStoreError;
    expect(error).toBeInstanceOf(S3LockUnsupportedStoreError);
    expect(error).toMatchObject({ failedPrimitive: 'if-none-match', bucket: 'rgw-like' });
    expect(error.message).toContain('while this manager declared');
    await expect(p.manager.lock('job').tryAcquire()).rejects.toBe(error);
  });

  it('two first managers with different protocols starting together: exactly one declares, the other is refused', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const c = world.manager({ protocol: 'create-only' });
    const v = world.manager({ protocol: 'versioned' });
    const [rc, rv] = await Promise.all([settle(c.manager.probe()), settle(v.manager.probe())]);
    expect([rc.ok, rv.ok].filter(Boolean)).toHaveLength(1);
    const winner = rc.ok ? 'create-only' : 'versioned';
    const loser = (rc.ok ? rv : rc) as { error: unknown };
    expect(loser.error).toBeInstanceOf(S3LockProtocolMismatchError);
    expect(loser.error).toMatchObject({ declaredProtocol: winner, declarationKey: DECLARATION });
    const head = await world.admin.send(new HeadObjectCommand({ Bucket: world.bucket, Key: DECLARATION }));
    expect(head.Metadata?.['lock-protocol']).toBe(winner);
  });

  it('auto follows the declaration, and an explicit protocol that matches it is accepted', async () => {
    world = await MemoryWorld.create({ versioned: true });
    expect(await world.manager({ protocol: 'versioned' }).manager.probe()).toBe('versioned');
    // On this bucket auto alone would pick create-only (conditional creates are honoured).
    expect(await world.manager({ protocol: 'auto', prefix: 'elsewhere/' }).manager.probe()).toBe('create-only');
    expect(await world.manager({ protocol: 'auto' }).manager.probe()).toBe('versioned');
    expect(await world.manager({ protocol: 'versioned' }).manager.probe()).toBe('versioned');
    const refused = await refusalOf(world.manager({ protocol: 'create-only' }).manager);
    expect(refused).toBeInstanceOf(S3LockProtocolMismatchError);
    expect(refused.message).toMatch(/declared for protocol 'versioned', and this manager is configured for 'create-only'/);
    expect(refused.advice).toContain(DECLARATION);
  });

  it('a declaration that names no protocol is refused for every configuration', async () => {
    world = await MemoryWorld.create();
    await world.put(DECLARATION, { 'lock-protocol': 'paxos' });
    for (const protocol of ['auto', 'create-only', 'versioned'] as const) {
      const refused = await refusalOf(world.manager({ protocol }).manager);
      expect(refused).toBeInstanceOf(S3LockProtocolMismatchError);
      expect(refused).toMatchObject({ declaredProtocol: 'paxos', protocol });
      expect(refused.advice).toMatch(/does not name a protocol/);
    }
  });

  it('a refused probe writes no declaration (a store that ignores If-None-Match cannot be declared create-only)', async () => {
    world = await MemoryWorld.create();
    world.store.setBehaviour({ ignoreIfNoneMatch: true });
    await refusalOf(world.manager({ protocol: 'create-only' }).manager);
    await refusalOf(world.manager({ protocol: 'auto' }).manager);
    expect(await world.keys('')).toEqual([]);
  });

  it('on a store that ignores If-None-Match, concurrent first versioned managers may both write the declaration: same content, all run', async () => {
    world = await MemoryWorld.create({ versioned: true });
    world.store.setBehaviour({ ignoreIfNoneMatch: true });
    const procs = [1, 2, 3].map(() => world.manager({ protocol: 'auto' }));
    const chosen = await Promise.all(procs.map((p) => p.manager.probe()));
    expect(chosen).toEqual(['versioned', 'versioned', 'versioned']);
    expect(procs.filter((p) => p.tap.sent({ operation: 'PutObject' }).some((r) => r.key === DECLARATION)).length).toBeGreaterThanOrEqual(1);
    // a create-only manager arriving later is refused by the declaration
    expect(await refusalOf(world.manager({ protocol: 'create-only' }).manager)).toBeInstanceOf(S3LockProtocolMismatchError);
  });

  it('a lost response to the declaration write is settled by reading it back', async () => {
    world = await MemoryWorld.create();
    const p = world.manager();
    const fault = p.tap.inject({ match: { keyPrefix: DECLARATION, operation: 'PutObject' }, fault: { kind: 'drop-response' } });
    expect(await p.manager.probe()).toBe('create-only');
    expect(fault.fired).toBe(1);
    expect(await world.keys('')).toEqual([DECLARATION]);
    expect(await world.manager({ protocol: 'auto' }).manager.probe()).toBe('create-only');
  });

  it('costs one GET per manager start, one PUT for the first manager of a prefix, and one HEAD with the first grant of a name; nothing else', async () => {
    world = await MemoryWorld.create();
    const first = world.manager();
    await first.manager.probe();
    const ops = (p: typeof first): string[] => p.tap.requests.map((r) => `${r.operation} ${r.key === DECLARATION ? 'declaration' : r.key.startsWith(`${PREFIX}.probe/`) ? 'probe' : r.key}`);
    // a GET at start (its error answers carry a code, for a misconfigured store), HEADs after
    expect(ops(first)).toEqual(['GetObject declaration', 'PutObject probe', 'PutObject probe', 'DeleteObject probe', 'PutObject declaration']);
    const second = world.manager();
    await second.manager.probe();
    expect(ops(second)).toEqual(['GetObject declaration', 'PutObject probe', 'PutObject probe', 'DeleteObject probe']);
    const since = second.tap.requests.length;
    const lock = second.manager.lock('job');
    expect(await lock.tryAcquire()).toBe(true);
    await lock.release();
    // The first grant of a name's generation checks the declaration again (in parallel with its PUT).
    expect(ops(second).slice(since).filter((op) => op.endsWith('declaration'))).toEqual(['HeadObject declaration']);
    const warm = second.tap.requests.length;
    expect(await lock.tryAcquire()).toBe(true);
    await lock.release();
    await sleep(0);
    expect(second.tap.requests.slice(warm).filter((r) => r.key === DECLARATION)).toEqual([]);
  });
});

/**
 * The declaration is a key under the prefix and goes with the records (prefix emptied, bucket
 * re-created, store restarted). A manager that starts after the loss finds none and declares its own
 * protocol; the running fleet must then not keep granting under the other one (docs/protocol.md,
 * "The declaration is lost with the records"). On a versioned bucket, where both probes pass.
 */
describe('protocol declaration lost with the records', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  function expectMismatchOf(error: unknown, configured: string, declared: string): void {
    expect(error).toBeInstanceOf(S3LockProtocolMismatchError);
    expect(error).toMatchObject({ bucket: world.bucket, prefix: PREFIX, protocol: configured, declaredProtocol: declared, failedPrimitive: 'protocol-declaration' });
  }

  it('a versioned newcomer that declares first after the wipe: the running create-only manager is refused at its next grant, never both hold', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const a = world.manager({ protocol: 'create-only' });
    expect(await a.manager.probe()).toBe('create-only');

    await wipePrefix(world.admin, world.bucket, PREFIX); // every key of the prefix, the declaration included

    const b = world.manager({ protocol: 'versioned' });
    const probed = await settle(b.manager.probe());
    const lockA = a.manager.lock('job');
    const lockB = b.manager.lock('job');
    const gotA = await settle(lockA.tryAcquire());
    const gotB = probed.ok ? await settle(lockB.tryAcquire()) : { ok: true as const, value: false };
    const bothHold = gotA.ok && gotA.value && gotB.ok && gotB.value && lockA.isHeld && lockB.isHeld;
    // Before the fix A created a new generation, declared nothing, and both held 'job'.
    expect({ bRefused: !probed.ok, aRefused: !gotA.ok, bothHold }).toEqual({ bRefused: false, aRefused: true, bothHold: false });
    expectMismatchOf((gotA as { error: unknown }).error, 'create-only', 'versioned');
    expect(lockB.isHeld).toBe(true);
    // A stays refused, for every name.
    expectMismatchOf((await settle(a.manager.lock('other').tryAcquire()) as { error: unknown }).error, 'create-only', 'versioned');
    await lockB.release();
  });

  it('a create-only manager that acquires first after the wipe declares again: a versioned newcomer is refused at start', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const a = world.manager({ protocol: 'create-only' });
    expect(await a.manager.probe()).toBe('create-only');
    await wipePrefix(world.admin, world.bucket, PREFIX);

    const lockA = a.manager.lock('job');
    expect(await lockA.tryAcquire()).toBe(true);
    const b = world.manager({ protocol: 'versioned' });
    const probed = await settle(b.manager.probe());
    expect(probed.ok).toBe(false);
    expectMismatchOf((probed as { error: unknown }).error, 'versioned', 'create-only');
    expect(lockA.isHeld).toBe(true);
    await lockA.release();
  });

  it('a create-only holder across the wipe loses its lease within one TTL, and its manager is refused, when a versioned newcomer declares', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const a = world.manager({ protocol: 'create-only' });
    const lockA = a.manager.lock('job');
    expect(await lockA.tryAcquire()).toBe(true);
    const signal = lockA.signal;

    await wipePrefix(world.admin, world.bucket, PREFIX);
    const b = world.manager({ protocol: 'versioned' });
    const lockB = b.manager.lock('job');
    expect(await lockB.tryAcquire()).toBe(true);

    await waitFor(() => signal.aborted, TTL_MS + 1_000, "the create-only holder's signal");
    expect(signal.reason).toBeInstanceOf(S3LockLostError);
    expect((signal.reason as S3LockLostError).reason).toBe('records-lost');
    // The renewal that found the loss checked the declaration: the manager refuses from then on.
    const refused = await waitFor(async () => {
      const r = await settle(a.manager.lock('other').tryAcquire());
      return r.ok ? undefined : r;
    }, TTL_MS, 'the create-only manager refused');
    expectMismatchOf(refused.error, 'create-only', 'versioned');
    expect(lockB.isHeld).toBe(true);
    await lockB.release();
  });

  for (const wipe of ['purged (store restarted without state)', 'emptied by hand (delete markers)'] as const) {
    it(`versioned fleet, prefix ${wipe}, create-only newcomer declares first: the versioned holder loses its lease within one TTL and the fleet is refused`, async () => {
      world = await MemoryWorld.create({ versioned: true });
      const v1 = world.manager({ protocol: 'versioned' });
      const v2 = world.manager({ protocol: 'versioned' });
      const held = v1.manager.lock('job');
      expect(await held.tryAcquire()).toBe(true);
      expect(await v2.manager.probe()).toBe('versioned');
      const signal = held.signal;

      if (wipe.startsWith('purged')) await purgePrefix(world.admin, world.bucket, PREFIX);
      else await wipePrefix(world.admin, world.bucket, PREFIX);
      const c = world.manager({ protocol: 'create-only' });
      const lockC = c.manager.lock('job');
      expect(await lockC.tryAcquire()).toBe(true);
  
      await waitFor(() => signal.aborted, TTL_MS + 1_000, "the versioned holder's signal");
        expect((signal.reason as S3LockLostError).reason).toBe('records-lost');
      // The other versioned manager, running since before the wipe, never grants beside C: its
      // claim into the emptied key checks the declaration.
      const other = v2.manager.lock('job');
      const got = await settle(other.tryAcquire());
      expect(got.ok).toBe(false);
      expectMismatchOf((got as { error: unknown }).error, 'versioned', 'create-only');
      expect(other.isHeld).toBe(false);
      expect(lockC.isHeld).toBe(true);
      await lockC.release();
    });
  }

  it('versioned fleet, prefix purged, the fleet acquires first: it declares again and a create-only newcomer is refused at start', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const v = world.manager({ protocol: 'versioned' });
    expect(await v.manager.probe()).toBe('versioned');
    await purgePrefix(world.admin, world.bucket, PREFIX);

    const lockV = v.manager.lock('job');
    expect(await lockV.tryAcquire()).toBe(true);
    const c = world.manager({ protocol: 'create-only' });
    const probed = await settle(c.manager.probe());
    expect(probed.ok).toBe(false);
    expectMismatchOf((probed as { error: unknown }).error, 'create-only', 'versioned');
    await lockV.release();
  });

  it('the re-check costs nothing on the warm create-only cycle and on renewals that find no loss', async () => {
    world = await MemoryWorld.create({ versioned: true });
    const a = world.manager({ protocol: 'create-only', ttlMs: 2_000 });
    const lock = a.manager.lock('job');
    expect(await lock.tryAcquire()).toBe(true);
    await lock.release();
    const since = a.tap.requests.length;
    for (let i = 0; i < 3; i++) {
      expect(await lock.tryAcquire()).toBe(true);
      if (i === 0) await sleep(1_500); // two renewals (every TTL/3)
      await lock.release();
    }
    expect(a.tap.requests.slice(since).filter((r) => r.key === DECLARATION)).toEqual([]);
  });
});
