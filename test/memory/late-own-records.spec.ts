/**
 * Liveness with records of our own that land late (issue: "a renewal of our own that lands late
 * makes the next release silently do nothing"; "a waiter does not recognise its own late acquire
 * record"). Deterministic schedules on the in-memory store, per protocol where they apply.
 */
import { HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { lockPrefixOf, MemoryWorld, waitFor, type Proc } from './support';

/** Request timeout: TTL / 2 = 5 s. */
const TTL = 10_000;
/** Request timeout 10 s (the cap), renewal at 10 s, deadline at 27 s: room for a renewal that gives up. */
const LONG_TTL = 30_000;

describe('create-only: a renewal of ours that lands after the renewal gave up', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;
  beforeEach(async () => {
    world = await MemoryWorld.create();
    a = world.manager({ ttlMs: LONG_TTL });
    b = world.manager({ ttlMs: LONG_TTL });
    await a.manager.probe();
    await b.manager.probe();
  });
  afterEach(() => world.close());

  it('the release that follows still frees the lock at once (it steps over the late renewal)', async () => {
    const lock = a.manager.lock('late-renewal');
    await lock.acquire();
    const token = lock.fencingToken!;
    // The renewal's create is applied 10.5 s after it was sent, after the client gave up on it (10 s),
    // and the read-backs fail meanwhile: the renewal reports a store error.
    a.tap.inject({ match: { operation: 'PutObject', conditional: true }, fault: { kind: 'delay', ms: 10_500 } });
    const heads = a.tap.inject({ match: { operation: 'HeadObject' }, times: 1_000, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const failed = new Promise<void>((resolve) =>
      a.manager.on('storeError', (e) => {
        if (e.operation === 'renew') resolve();
      }),
    );
    await failed;
    heads.cancel();
    // The late renewal landed as the next epoch, a record of this very lease.
    const late = await waitFor(async () => (await world.absoluteEpochs('late-renewal')).includes(token + 1), 5_000, 'the late renewal');
    expect(late).toBe(true);
    expect(lock.isHeld).toBe(true);
    await lock.release();
    // The lock is free now: the release record sits above the late renewal.
    const state = await b.manager.inspect('late-renewal');
    expect(state.held).toBe(false);
    expect(state.epoch).toBe(token + 2);
    const other = b.manager.lock('late-renewal');
    await expect(other.tryAcquire()).resolves.toBe(true);
    expect(other.fencingToken).toBe(token + 3);
    await other.release();
  }, 60_000);
});

describe('a waiter whose acquire record lands after the attempt gave up', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it.each(['create-only', 'versioned'] as const)('%s: it does not wait a TTL for its own record', async (protocol) => {
    world = await MemoryWorld.create({ versioned: protocol === 'versioned' });
    const holder = world.manager({ ttlMs: TTL, protocol });
    const waiter = world.manager({ ttlMs: TTL, protocol });
    await holder.manager.probe();
    await waiter.manager.probe();
    const h = holder.manager.lock('late-acquire');
    await h.acquire();
    const held = h.fencingToken!;
    const w = waiter.manager.lock('late-acquire');
    const waiting = w.acquire({ waitMs: TTL });
    await waitFor(() => waiter.tap.sent({ operation: protocol === 'versioned' ? 'Other' : 'HeadObject' }).length > 0, 5_000, 'the waiter polling');
    // The waiter's next write (its claim after the release) is applied 5.5 s late, after the
    // client gave up (5 s), and its read-backs fail until then.
    const late = waiter.tap.inject({ match: { operation: 'PutObject' }, fault: { kind: 'delay', ms: 5_500 } });
    const heads = waiter.tap.inject({ match: { operation: 'HeadObject' }, times: 1_000, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const lists = waiter.tap.inject({ match: { operation: 'ListObjectVersions' }, times: 1_000, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    const storeErrors: string[] = [];
    waiter.manager.on('storeError', (e) => {
      storeErrors.push(e.operation);
      heads.cancel();
      lists.cancel();
    });
    const releasedAt = performance.now();
    await h.release();
    await waiting;
    const waited = performance.now() - releasedAt;
    expect(late.fired).toBe(1);
    expect(storeErrors).toContain('acquire');
    expect(w.isHeld).toBe(true);
    if (protocol === 'create-only') {
      // Its own late acquire record (the epoch after the holder's release) was recognised as its lease.
      expect(w.fencingToken).toBe(held + 2);
    } else {
      expect(w.fencingToken).toBeGreaterThan(held);
    }
    // Not a TTL (10 s): the waiter got the lock once its late write landed and was settled.
    expect(waited).toBeLessThan(TTL);
    await w.release();
  }, 40_000);
});

describe('versioned: a renewal of ours that lands after the release read the versions', () => {
  let world: MemoryWorld;
  let a: Proc;
  let b: Proc;
  beforeEach(async () => {
    world = await MemoryWorld.create({ versioned: true });
    a = world.manager({ ttlMs: LONG_TTL, protocol: 'versioned' });
    b = world.manager({ ttlMs: LONG_TTL, protocol: 'versioned' });
    await a.manager.probe();
    await b.manager.probe();
  });
  afterEach(() => world.close());

  /** Kinds of the lock key's versions, newest first. */
  async function kinds(name: string): Promise<string[]> {
    const key = `${lockPrefixOf(name)}lock`;
    const out = await world.admin.send(new ListObjectVersionsCommand({ Bucket: world.bucket, Prefix: key }));
    const versions = (out.Versions ?? []).filter((v) => v.Key === key);
    const kinds: string[] = [];
    for (const v of versions) {
      const head = await world.admin.send(new HeadObjectCommand({ Bucket: world.bucket, Key: key, VersionId: v.VersionId }));
      kinds.push(head.Metadata?.['lock-kind'] ?? '?');
    }
    return kinds;
  }

  it('another manager acquires at once after the release (the late renewal of the ended lease counts for nothing)', async () => {
    const lock = a.manager.lock('late-renewal');
    await lock.acquire();
    const token = lock.fencingToken!;
    // The renewal (10 s after the claim) is applied 12 s after it was sent, after the client gave up
    // on it (10 s): its read-back does not list it, and the renewal reports a store error.
    const late = a.tap.inject({ match: { operation: 'PutObject' }, fault: { kind: 'delay', ms: 12_000 } });
    const failed = new Promise<void>((resolve) =>
      a.manager.on('storeError', (e) => {
        if (e.operation === 'renew') resolve();
      }),
    );
    await failed;
    expect(late.fired).toBe(1);
    expect(lock.isHeld).toBe(true);
    await lock.release();
    // The release read the versions before the renewal landed: it left a tombstone only.
    expect(await kinds('late-renewal')).toEqual(['release']);
    // Then the renewal of the released lease lands, newer than the tombstone.
    await waitFor(async () => (await kinds('late-renewal'))[0] === 'renew', 5_000, 'the late renewal');
    // Another manager finds the lock free and wins it at once, with a larger token (not after a TTL).
    const state = await b.manager.inspect('late-renewal');
    expect(state.held).toBe(false);
    const other = b.manager.lock('late-renewal');
    await expect(other.tryAcquire()).resolves.toBe(true);
    const otherToken = other.fencingToken!;
    expect(otherToken).toBeGreaterThan(token);
    // Its release deletes the dead renewal; the tombstone naming the renewal's lease stays for this
    // release (deleting it with the renewal could revive a copy listed late) and goes at the next one.
    await other.release();
    expect(await kinds('late-renewal')).toEqual(['release', 'release']);
    const again = b.manager.lock('late-renewal');
    await expect(again.tryAcquire()).resolves.toBe(true);
    expect(again.fencingToken).toBeGreaterThan(otherToken);
    await again.release();
    expect(await kinds('late-renewal')).toEqual(['release']);
  }, 60_000);
});
