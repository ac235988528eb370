import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3, type S3RequestLogEntry } from '../testing';
import { S3LockCorruptRecordError, S3LockStoreError } from './errors';
import type { LeaseRequest, ProtocolLease, RenewResult } from './lock-protocol';
import { recordToMetadata } from './lock-record';
import { S3Gateway } from './s3-gateway';
import { ServerClock, systemMonotonicClock } from './server-clock';
import { VersionedProtocol } from './versioned-protocol';
import { versionedKey } from './versioned-state';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const Bucket = 'locks-versioned';
const prefix = 'locks/';
const KEY = versionedKey(prefix, 'job');
const TTL = 2_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let store: InMemoryS3;
const clients: S3Client[] = [];

/** One "process": its own client, server clock and protocol instance. */
function process_(name = 'p'): { protocol: VersionedProtocol; gateway: S3Gateway } {
  const client = createInMemoryS3Client(store);
  clients.push(client);
  const gateway = new S3Gateway(client, Bucket, new ServerClock(systemMonotonicClock), systemMonotonicClock, 2_000);
  const protocol = new VersionedProtocol(gateway, { prefix, host: `host-${name}`, pid: 1, serverClockToleranceMs: 100 }, systemMonotonicClock);
  return { protocol, gateway };
}

let n = 0;
function request(ttlMs = TTL): LeaseRequest {
  n++;
  return { name: 'job', ownerId: `owner-${n}`, leaseId: `lease-${n}`, ttlMs };
}

/** Versions of the lock key in the store, newest first. */
function stored(): Array<{ versionId: string; kind: string; token: number; lease: string }> {
  return store.buckets
    .get(Bucket)!
    .versionsOf(KEY)
    .map((v) => ({ versionId: v.versionId, kind: v.metadata['lock-kind']!, token: Number(v.metadata['lock-token']), lease: v.metadata['lock-lease']! }));
}

function ops(log: readonly S3RequestLogEntry[]): string[] {
  return log.map((r) => r.operation);
}

async function acquired(p: VersionedProtocol, req: LeaseRequest = request()): Promise<ProtocolLease> {
  const out = await p.tryAcquire(req);
  if (!out.acquired) throw new Error('expected to acquire');
  return out.lease;
}

/** A renewal that found its lease over; runs the clean-up the caller owes once it stopped believing. */
async function expectNotRenewed(renewal: Promise<RenewResult>): Promise<void> {
  const r = await renewal;
  expect(r.renewed).toBe(false);
  if (!r.renewed) await r.cleanUp?.();
}

beforeEach(() => {
  store = new InMemoryS3({ versionedBuckets: [Bucket] });
});

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

describe('VersionedProtocol', () => {
  it('acquires a free lock with LIST + PUT + LIST and gives strictly increasing tokens', async () => {
    const a = process_('a').protocol;
    const b = process_('b').protocol;
    store.clearRequests();
    const first = await acquired(a);
    expect(ops(store.requests)).toEqual(['ListObjectVersions', 'PutObject', 'ListObjectVersions']);
    expect(first.fencingToken).toBe(1);
    expect(stored()).toEqual([{ versionId: first.versionId, kind: 'acquire', token: 1, lease: first.leaseId }]);

    const refused = await b.tryAcquire(request());
    expect(refused.acquired).toBe(false);
    if (!refused.acquired) expect(refused.holder).toMatchObject({ leaseId: first.leaseId, fencingToken: 1 });

    store.clearRequests();
    await a.release(first);
    expect(ops(store.requests)).toEqual(['ListObjectVersions', 'PutObject', 'DeleteObject']);
    expect(stored()).toEqual([expect.objectContaining({ kind: 'release', token: 1 })]);

    const second = await acquired(b);
    expect(second.fencingToken).toBe(2);
    await b.release(second);
    // the older tombstone goes with the next release: one version left
    expect(stored()).toEqual([expect.objectContaining({ kind: 'release', token: 2 })]);
    const third = await acquired(a);
    expect(third.fencingToken).toBe(3);
  });

  it('claims without reading first right after its own release (warm path: PUT + LIST)', async () => {
    const a = process_('a').protocol;
    await a.release(await acquired(a));
    store.clearRequests();
    const again = await acquired(a);
    expect(ops(store.requests)).toEqual(['PutObject', 'ListObjectVersions']);
    expect(again.fencingToken).toBe(2);
  });

  it('falls back to a full read when the warm claim carries a stale token', async () => {
    const a = process_('a').protocol;
    const b = process_('b').protocol;
    await a.release(await acquired(a)); // a remembers token 1
    await b.release(await acquired(b)); // token 2, tombstone 2
    const again = await acquired(a); // warm claim with token 2 loses to tombstone 2, then 3 wins
    expect(again.fencingToken).toBe(3);
    expect(stored().filter((v) => v.kind !== 'release')).toEqual([expect.objectContaining({ lease: again.leaseId, token: 3 })]);
  });

  it('renews with PUT + LIST and keeps only the claim and the newest renewal', async () => {
    const a = process_('a').protocol;
    const lease = await acquired(a);
    store.clearRequests();
    const r1 = await a.renew(lease);
    expect(r1.renewed).toBe(true);
    expect(ops(store.requests)).toEqual(['PutObject', 'ListObjectVersions']);
    await a.renew(lease);
    await a.renew(lease);
    expect(stored().map((v) => v.kind)).toEqual(['renew', 'acquire']);
    expect(stored()[1]!.versionId).toBe(lease.versionId);
  });

  it('lets a contender take over an expired lock, leaves a tombstone, and the old holder learns it lost', async () => {
    const a = process_('a').protocol;
    const b = process_('b').protocol;
    const old = await acquired(a);
    expect((await b.tryAcquire(request())).acquired).toBe(false);
    await sleep(TTL + 1_000 + 100 + 1_100); // TTL + date resolution + tolerance + the Date header's own second
    const next = await acquired(b);
    expect(next.fencingToken).toBe(2);
    expect(stored().map((v) => `${v.kind}:${v.token}`)).toEqual(['acquire:2', 'release:1']);
    await expectNotRenewed(a.renew(old));
    // the loser's renewal was withdrawn; the new owner is untouched
    expect(stored().map((v) => `${v.kind}:${v.token}`)).toEqual(['acquire:2', 'release:1']);
    await a.release(old); // no longer ours: nothing of b's is touched
    expect(stored().map((v) => `${v.kind}:${v.token}`)).toEqual(['acquire:2', 'release:1']);
    expect((await b.renew(next)).renewed).toBe(true);
  }, 15_000);

  it('grants one of many concurrent contenders, again and again, with increasing tokens', async () => {
    store.faults.setLatency({ jitterMs: 8 });
    const procs = Array.from({ length: 5 }, (_, i) => process_(`c${i}`).protocol);
    let lastToken = 0;
    for (let round = 0; round < 15; round++) {
      const results = await Promise.all(procs.map((p) => p.tryAcquire(request())));
      const winners = results.filter((r) => r.acquired);
      expect(winners.length).toBeLessThanOrEqual(1);
      if (winners.length === 1 && winners[0]!.acquired) {
        const lease = winners[0]!.lease;
        expect(lease.fencingToken).toBeGreaterThan(lastToken);
        lastToken = lease.fencingToken;
        expect(stored().filter((v) => v.kind !== 'release').map((v) => v.lease)).toEqual([lease.leaseId]);
        const holder = procs[results.indexOf(winners[0]!)]!;
        await holder.release(lease);
      }
    }
    expect(lastToken).toBeGreaterThan(5);
  }, 30_000);

  it('grants one of two contenders that both find the lock expired', async () => {
    const a = process_('a').protocol;
    await acquired(a);
    await sleep(TTL + 1_000 + 100 + 1_100);
    store.faults.setLatency({ jitterMs: 10, responseLatencyMs: 1 });
    const processes = [process_('b'), process_('c'), process_('d')];
    // each new process knows the store's clock from three answers first (a manager's probe gives them)
    for (const p of processes) for (let i = 0; i < 3; i++) await p.gateway.head(`${prefix}clock`, undefined, 'test');
    const contenders = processes.map((p) => p.protocol);
    const results = await Promise.all(contenders.map((p) => p.tryAcquire(request())));
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    const live = stored().filter((v) => v.kind !== 'release');
    expect(live).toHaveLength(1);
    expect(live[0]!.token).toBe(2);
  }, 15_000);

  it('settles a claim whose response was lost (SDK retry): one winner, duplicates deleted', async () => {
    const a = process_('a').protocol;
    store.faults.inject({ match: { operation: 'PutObject' }, times: 1, fault: { kind: 'drop-response' } });
    const lease = await acquired(a);
    const live = stored().filter((v) => v.kind !== 'release');
    expect(live).toHaveLength(1);
    expect(live[0]!.lease).toBe(lease.leaseId);
    expect(live[0]!.versionId).toBe(lease.versionId);
  });

  it('settles a claim answered 500 after being applied', async () => {
    const a = process_('a').protocol;
    store.faults.inject({ match: { operation: 'PutObject' }, times: 1, fault: { kind: 'error', status: 500, code: 'InternalError', applied: true } });
    const lease = await acquired(a);
    expect(stored().filter((v) => v.kind !== 'release').map((v) => v.versionId)).toEqual([lease.versionId]);
  });

  it('throws a store error when the claim never lands, and leaves nothing behind', async () => {
    const a = process_('a').protocol;
    store.faults.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
    await expect(a.tryAcquire(request())).rejects.toBeInstanceOf(S3LockStoreError);
    expect(stored()).toEqual([]);
  }, 15_000);

  it('does not trust a claim judged too late, and withdraws it', async () => {
    const a = process_('a').protocol;
    await a.release(await acquired(a)); // warm path next: PUT then LIST
    store.faults.inject({ match: { operation: 'ListObjectVersions' }, times: 1, fault: { kind: 'delay', ms: TTL / 2 + 50 } });
    store.clearRequests();
    const first = await a.tryAcquire(request());
    // the slow claim is withdrawn (it never won: its token may be reused); the next round reads again and claims afresh
    expect(ops(store.requests)).toEqual(['PutObject', 'ListObjectVersions', 'DeleteObject', 'PutObject', 'ListObjectVersions']);
    expect(first.acquired).toBe(true);
    if (first.acquired) expect(first.lease.fencingToken).toBe(2);
    expect(stored().filter((v) => v.kind !== 'release')).toHaveLength(1);
  }, 10_000);

  it('costs one HEAD per poll while the holder is unchanged', async () => {
    const a = process_('a').protocol;
    const b = process_('b').protocol;
    const lease = await acquired(a);
    expect((await b.tryAcquire(request())).acquired).toBe(false);
    store.clearRequests();
    expect((await b.tryAcquire(request())).acquired).toBe(false);
    expect(ops(store.requests)).toEqual(['HeadObject']);
    await a.renew(lease);
    store.clearRequests();
    expect((await b.tryAcquire(request())).acquired).toBe(false);
    expect(ops(store.requests)).toEqual(['HeadObject', 'ListObjectVersions', 'HeadObject']);
    await a.release(lease);
    expect((await b.tryAcquire(request())).acquired).toBe(true);
  });

  it('refuses a planted version as a corrupt record', async () => {
    const a = process_('a').protocol;
    const client = createInMemoryS3Client(store);
    clients.push(client);
    await client.send(new PutObjectCommand({ Bucket, Key: KEY, Body: 'hello' }));
    await expect(a.tryAcquire(request())).rejects.toBeInstanceOf(S3LockCorruptRecordError);
  });

  it('claims above a tombstone planted with a higher token', async () => {
    const a = process_('a').protocol;
    const client = createInMemoryS3Client(store);
    clients.push(client);
    const metadata = recordToMetadata({ kind: 'release', leaseId: 'x', ownerId: 'y', ttlMs: 2000, fencingToken: 41, nonce: 'z', host: '', pid: 1 });
    await client.send(new PutObjectCommand({ Bucket, Key: KEY, Body: '{}', Metadata: metadata }));
    expect((await acquired(a)).fencingToken).toBe(42);
  });

  it('reads a lock whose versions outnumber the record cache: an eviction during the read loses no record', async () => {
    // The claim is cached first (the oldest cache entry); the renewal's read then HEADs more
    // versions than the cache holds, which evicts it while the read still needs it.
    const a = process_('a').protocol;
    const lease = await acquired(a, request(600_000)); // planting takes longer than the default TTL
    const client = createInMemoryS3Client(store);
    clients.push(client);
    const planted = 4_100;
    for (let i = 0; i < planted; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, planted - i) }, (_, j) => {
          const metadata = recordToMetadata({ kind: 'release', leaseId: `old-${i + j}`, ownerId: 'y', ttlMs: 2000, fencingToken: 1, nonce: `n-${i + j}`, host: '', pid: 1 });
          return client.send(new PutObjectCommand({ Bucket, Key: KEY, Body: '{}', Metadata: metadata }));
        }),
      );
    }
    const renewed = await a.renew(lease);
    expect(renewed.renewed).toBe(true);
    const state = await a.inspect('job');
    expect(state.holder).toMatchObject({ leaseId: lease.leaseId, fencingToken: lease.fencingToken });
    await a.release(lease);
    expect(stored().filter((v) => v.lease === lease.leaseId && v.kind !== 'release')).toEqual([]);
  }, 60_000);

  it('gives every claim a lease id of its own: a tombstone left by an earlier attempt of the same request never ends a later win', async () => {
    const a = process_('a').protocol;
    const b = process_('b').protocol;
    const req = request(); // one request, reused by every attempt (as a waiter's poller does)
    const first = await acquired(a, req);
    await a.release(first); // the attempt ended: a tombstone names its lease
    const second = await acquired(a, req);
    expect(second.leaseId).not.toBe(first.leaseId);
    expect(second.fencingToken).toBe(2);
    // The second lease renews (the old tombstone does not name it) and nobody else gets the lock.
    expect((await a.renew(second)).renewed).toBe(true);
    expect((await b.tryAcquire(request())).acquired).toBe(false);
    // Its release writes its own tombstone: the next token is larger.
    await a.release(second);
    expect(stored()).toContainEqual(expect.objectContaining({ kind: 'release', lease: second.leaseId, token: 2 }));
    expect((await acquired(b)).fencingToken).toBe(3);
  });

  it('force-releases the owner: a tombstone names its lease, its renewal then fails, the next token is larger', async () => {
    const a = process_('a').protocol;
    const op = process_('operator').protocol;
    const lease = await acquired(a);
    await a.renew(lease);
    expect(await op.forceRelease('job')).toBe(true);
    expect(stored()).toEqual([expect.objectContaining({ kind: 'release', lease: lease.leaseId, token: 1 })]);
    expect(await op.forceRelease('job')).toBe(false);
    const b = process_('b').protocol;
    const next = await acquired(b);
    expect(next.fencingToken).toBe(2);
    await expectNotRenewed(a.renew(lease));
    expect(stored().filter((v) => v.kind !== 'release').map((v) => v.lease)).toEqual([next.leaseId]);
  });

  it('a renewal that lands after a force release is revoked at the holder\'s next renewal', async () => {
    const a = process_('a').protocol;
    const op = process_('operator').protocol;
    const lease = await acquired(a);
    // The renewal is held back past the force release, then applied: it outlives the tombstone.
    store.faults.inject({ match: { operation: 'PutObject' }, times: 1, fault: { kind: 'delay', ms: 300 } });
    const renewal = a.renew(lease);
    await sleep(100);
    expect(await op.forceRelease('job')).toBe(true);
    await expectNotRenewed(renewal);
    expect(stored().filter((v) => v.kind !== 'release')).toEqual([]);
  });

  it('a release deletes only its own lease, never a contender\'s fresh claim (unlike the seed)', async () => {
    const a = process_('a').protocol;
    const lease = await acquired(a);
    // A contender that read the lock free before a claimed, and whose claim landed after a won.
    const client = createInMemoryS3Client(store);
    clients.push(client);
    const metadata = recordToMetadata({ kind: 'acquire', leaseId: 'w', ownerId: 'w', ttlMs: TTL, fencingToken: 1, nonce: 'w-nonce', host: '', pid: 1 });
    await client.send(new PutObjectCommand({ Bucket, Key: KEY, Body: '{}', Metadata: metadata }));
    await a.release(lease);
    // If the release had deleted w's claim too, w could re-read between the two deletions, win, and
    // then hold a lock whose claim is gone: a third contender would be granted it beside w.
    expect(stored().map((v) => `${v.kind}:${v.lease}`)).toEqual([`release:${lease.leaseId}`, 'acquire:w']);
  });

  it('reports the state through inspect', async () => {
    const a = process_('a').protocol;
    expect(await a.inspect('job')).toMatchObject({ protocol: 'versioned', held: false, holder: undefined, epoch: 0 });
    const lease = await acquired(a);
    const state = await a.inspect('job');
    expect(state).toMatchObject({ held: true, holder: { leaseId: lease.leaseId, fencingToken: 1, host: 'host-a' }, epoch: 1 });
    expect(state.acquiredAt).toEqual(state.lastWriteAt);
    expect(state.expiresAt!.getTime()).toBeGreaterThan(state.lastWriteAt!.getTime() + TTL);
  });
});
