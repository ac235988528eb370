/**
 * The per-prefix protocol declaration (`<prefix>.protocol`) on the in-memory store: mixed fleets are
 * refused, `auto` follows the declaration, versioning switched on under a running create-only fleet
 * on an RGW-like store (If-None-Match ignored once versioned) is refused, races between first
 * managers, a declaration nobody could have written, and what the declaration costs.
 */
import { HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { S3LockLostError, S3LockProtocolMismatchError, S3LockUnsupportedStoreError, type S3LockManager } from '../../src';
import { MemoryWorld, PREFIX, settle, sleep, TTL_MS, waitFor } from './support';

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

  it('costs one HEAD per manager start, and one PUT for the first manager of a prefix; nothing on lock operations', async () => {
    world = await MemoryWorld.create();
    const first = world.manager();
    await first.manager.probe();
    const ops = (p: typeof first): string[] => p.tap.requests.map((r) => `${r.operation} ${r.key === DECLARATION ? 'declaration' : r.key.startsWith(`${PREFIX}.probe/`) ? 'probe' : r.key}`);
    expect(ops(first)).toEqual(['HeadObject declaration', 'PutObject probe', 'PutObject probe', 'DeleteObject probe', 'PutObject declaration']);
    const second = world.manager();
    await second.manager.probe();
    expect(ops(second)).toEqual(['HeadObject declaration', 'PutObject probe', 'PutObject probe', 'DeleteObject probe']);
    const since = second.tap.requests.length;
    const lock = second.manager.lock('job');
    expect(await lock.tryAcquire()).toBe(true);
    await lock.release();
    await sleep(0);
    expect(second.tap.requests.slice(since).filter((r) => r.key === DECLARATION)).toEqual([]);
  });
});
