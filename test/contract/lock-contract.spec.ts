import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  S3LockCorruptRecordError,
  S3LockInvalidOptionsError,
  S3LockManager,
  S3LockTimeoutError,
  S3LockUnsupportedStoreError,
  type S3LockManagerOptions,
} from '../../src';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { CommandLog } from '../support/request-log';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;
/** Worst case from a holder's last write to a takeover: TTL + 1 s date resolution + 0.5 s tolerance + 1 s date floor + a poll. */
const TAKEOVER_BOUND = TTL + 3_500;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

describe.each(PROTOCOL_CASES)('lock contract ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  let client: S3Client;
  const managers: S3LockManager[] = [];
  const manager = (extra: Partial<S3LockManagerOptions> = {}): S3LockManager => {
    const m = new S3LockManager({ client, bucket, protocol, ttlMs: TTL, waitMs: 10_000, ...extra });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
    client = target.createClient();
  });
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
  });

  it('probes the bucket and picks the protocol (auto picks it too)', async () => {
    expect(await manager().probe()).toBe(protocol);
    // The first manager declared the prefix's protocol: auto follows it.
    expect(await manager({ protocol: 'auto' }).probe()).toBe(protocol);
    // On a fresh prefix: only RGW ignores If-None-Match in versioned buckets; elsewhere auto prefers create-only there too.
    expect(await manager({ protocol: 'auto', prefix: 'p-auto/' }).probe()).toBe(versioned && target.name !== 'rgw' ? 'create-only' : protocol);
  });

  it('grants a name to one holder at a time, with increasing fencing tokens', async () => {
    const a = manager().lock('exclusive');
    const b = manager().lock('exclusive');
    expect(await a.tryAcquire()).toBe(true);
    expect(a.isHeld).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    const first = a.fencingToken!;
    await a.release();
    expect(a.isHeld).toBe(false);
    expect(await b.tryAcquire()).toBe(true);
    expect(b.fencingToken).toBeGreaterThan(first);
    expect(await a.tryAcquire()).toBe(false);
    await b.release();
  });

  it('is reentrant per instance; releaseIfOwner releases whatever the count', async () => {
    const a = manager().lock('reentrant');
    const other = manager().lock('reentrant');
    await a.acquire();
    await a.acquire();
    expect(await a.tryAcquire()).toBe(true);
    expect(a.holdCount).toBe(3);
    await a.release();
    await a.release();
    expect(a.isHeld).toBe(true);
    expect(await other.tryAcquire()).toBe(false);
    await a.release();
    expect(a.isHeld).toBe(false);
    expect(await other.tryAcquire()).toBe(true);
    await other.acquire();
    await other.releaseIfOwner();
    expect(other.isHeld).toBe(false);
    expect(await a.tryAcquire()).toBe(true);
    await a.release();
  });

  it('acquire() waits for a release, and times out with a typed error naming the holder', async () => {
    const holderManager = manager();
    const a = holderManager.lock('waiting');
    const b = manager().lock('waiting');
    await a.acquire();
    const timeout = await b.acquire({ waitMs: 700 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(S3LockTimeoutError);
    expect((timeout as S3LockTimeoutError).lockName).toBe('waiting');
    expect((timeout as S3LockTimeoutError).holder?.ownerId).toBe(a.id);
    setTimeout(() => void a.release(), 500);
    await b.acquire({ waitMs: 8_000 });
    expect(b.isHeld).toBe(true);
    expect(b.fencingToken).toBeGreaterThan(0);
    await b.release();
  });

  it('renews while held: the lease outlives its TTL and nobody else gets it', async () => {
    const a = manager().lock('renewing');
    const b = manager().lock('renewing');
    await a.acquire();
    const token = a.fencingToken;
    await new Promise((r) => setTimeout(r, TTL * 2));
    expect(a.isHeld).toBe(true);
    expect(a.signal.aborted).toBe(false);
    expect(a.fencingToken).toBe(token);
    expect(await b.tryAcquire()).toBe(false);
    const state = await manager().inspect('renewing');
    expect(state).toMatchObject({ name: 'renewing', protocol, held: true });
    expect(state.holder?.ownerId).toBe(a.id);
    await a.release();
    expect((await manager().inspect('renewing')).held).toBe(false);
  });

  it('frees an abandoned lock after TTL plus slack, with a larger token', async () => {
    const holder = manager();
    const a = holder.lock('abandoned');
    await a.acquire();
    const token = a.fencingToken!;
    // Simulate a crash: cut the holder's client off so it can neither renew nor release.
    const deadClient = target.createClient();
    let crashedNow = false;
    deadClient.middlewareStack.add(
      (next) => async (args) => {
        if (crashedNow) throw new Error('simulated crash');
        return next(args);
      },
      { step: 'initialize', name: 'simulatedCrash' },
    );
    const crashed = new S3LockManager({ client: deadClient, bucket, protocol, ttlMs: TTL });
    managers.push(crashed);
    const c = crashed.lock('abandoned-2');
    await c.acquire();
    crashedNow = true;
    const started = performance.now();
    const b = manager().lock('abandoned-2');
    await b.acquire({ waitMs: TAKEOVER_BOUND + 2_000 });
    const waited = performance.now() - started;
    expect(waited).toBeLessThanOrEqual(TAKEOVER_BOUND + 1_000);
    expect(waited).toBeGreaterThanOrEqual(TTL - 1_000);
    expect(b.fencingToken).toBeGreaterThan(c.fencingToken ?? 0);
    await b.release();
    await a.release();
    expect(token).toBeGreaterThan(0);
  });

  it('using() runs the function under the lock and returns its result', async () => {
    const m = manager();
    const other = manager().lock('using');
    const result = await m.using('using', async ({ signal, fencingToken, name }) => {
      expect(signal.aborted).toBe(false);
      expect(fencingToken).toBeGreaterThan(0);
      expect(name).toBe('using');
      expect(await other.tryAcquire()).toBe(false);
      return 42;
    });
    expect(result).toBe(42);
    expect(await other.tryAcquire()).toBe(true);
    await other.release();
    await expect(m.using('using', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await other.tryAcquire()).toBe(true);
    await other.release();
  });

  it('a warm, uncontended acquire + release costs two PUTs and the GET of the generation record', async () => {
    const log = new CommandLog(client);
    const m = manager();
    const a = m.lock('warm');
    await a.acquire();
    await a.release();
    const commands = await log.during(async () => {
      await a.acquire();
      await a.release();
    });
    if (protocol === 'create-only') expect(commands).toEqual(['PutObject', 'GetObject', 'PutObject']);
    else expect(commands.length).toBeGreaterThan(0);
  });

  it('validates names and options with typed errors', () => {
    const m = manager();
    for (const name of ['', 'x'.repeat(300), 'tab\there', 'nul\u0000']) {
      expect(() => m.lock(name)).toThrow(S3LockInvalidOptionsError);
    }
    expect(() => m.lock('ok', { ttlMs: 10 })).toThrow(S3LockInvalidOptionsError);
    expect(() => new S3LockManager({ client, bucket: 'Bad_Bucket' })).toThrow(/bucket/);
    expect(() => new S3LockManager({ client, bucket, protocol: 'nope' as never })).toThrow(/protocol/);
  });

  it('keeps every name under the prefix, without collisions', async () => {
    const prefix = `p${Date.now()}/`;
    const m1 = manager({ prefix });
    const m2 = manager({ prefix });
    const names = ['a', 'a/b', '..', '../escape', '%2F', 'ünï:cödé', '.probe'];
    const held = [];
    for (const name of names) {
      const l = m1.lock(name);
      expect(await l.tryAcquire()).toBe(true);
      held.push(l);
    }
    for (const name of names) expect(await m2.lock(name).tryAcquire()).toBe(false);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: '' }));
    const ours = (listed.Contents ?? []).map((c) => c.Key!).filter((k) => !k.startsWith('locks/') && !k.startsWith('p'));
    expect(ours).toEqual([]);
    for (const l of held) await l.release();
  });

  it('inspect tells who holds a lock since when; forceRelease ends a stuck lease and the holder learns it was taken over', async () => {
    const holderManager = manager();
    const a = holderManager.lock('stuck');
    await a.acquire();
    await a.extend();
    const state = await manager().inspect('stuck');
    expect(state.held).toBe(true);
    expect(state.holder).toMatchObject({ ownerId: a.id, fencingToken: a.fencingToken, pid: process.pid });
    expect(state.acquiredAt).toBeInstanceOf(Date);
    expect(state.lastWriteAt!.getTime()).toBeGreaterThanOrEqual(state.acquiredAt!.getTime());
    expect(state.expiresAt!.getTime()).toBeGreaterThan(state.lastWriteAt!.getTime() + TTL);
    expect(await manager().forceRelease('stuck')).toBe(true);
    expect((await manager().inspect('stuck')).held).toBe(false);
    // the holder may have learnt it already (its renewal every TTL/3 can come before these reads end)
    const lost = a.signal.aborted ? a.signal.reason : await new Promise<unknown>((resolve) => a.signal.addEventListener('abort', () => resolve(a.signal.reason)));
    expect(lost).toMatchObject({ name: 'S3LockLostError', reason: 'taken-over', lockName: 'stuck' });
    expect(await manager().forceRelease('stuck')).toBe(false);
  });

  if (protocol === 'create-only') {
    it('refuses a corrupt record with a typed error naming the lock and the key', async () => {
      const m = manager({ prefix: 'corrupt/' });
      const a = m.lock('victim');
      await a.acquire();
      await a.release();
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'corrupt/victim/' }));
      const newest = listed.Contents![0]!.Key!;
      const next = newest.replace(/(\d+)$/, (d) => String(Number(d) - 1).padStart(d.length, '0'));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: next, Body: 'junk', Metadata: { 'lock-format': '9' } }));
      const error = await manager({ prefix: 'corrupt/' }).lock('victim').tryAcquire().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S3LockCorruptRecordError);
      expect((error as S3LockCorruptRecordError).lockName).toBe('victim');
      expect((error as S3LockCorruptRecordError).key).toBe(next);
    });
  }
});

describe('the store probe on this store', () => {
  it('refuses create-only in a bucket where If-None-Match is not honoured (RGW versioned buckets), and accepts it where it is', async () => {
    const client = target.createClient();
    const versionedBucket = await target.createBucket({ versioned: true });
    const plainBucket = await target.createBucket();
    const plain = new S3LockManager({ client, bucket: plainBucket, protocol: 'create-only' });
    expect(await plain.probe()).toBe('create-only');
    const versioned = new S3LockManager({ client, bucket: versionedBucket, protocol: 'create-only' });
    const verdict = await versioned.probe().catch((e: unknown) => e);
    if (target.name === 'rgw') {
      expect(verdict).toBeInstanceOf(S3LockUnsupportedStoreError);
      expect((verdict as S3LockUnsupportedStoreError).failedPrimitive).toBe('if-none-match');
      expect((verdict as S3LockUnsupportedStoreError).bucket).toBe(versionedBucket);
      // A refusal is cached: no lock is ever granted on this store.
      await expect(versioned.lock('x').tryAcquire()).rejects.toBeInstanceOf(S3LockUnsupportedStoreError);
    } else {
      // AWS semantics (moto, the in-memory store): If-None-Match is honoured in versioned buckets too.
      expect(verdict).toBe('create-only');
    }
    await plain.close();
    await versioned.close();
  });
});
