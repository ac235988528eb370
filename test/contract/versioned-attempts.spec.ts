/**
 * Versioned protocol: a waiter makes several attempts for one acquisition, and an earlier attempt
 * can leave a tombstone behind (a grant that came after its deadline and was released, or a force
 * release that hit a claim before its re-read). A later attempt that wins must be a lease of its
 * own: renewed while it lasts, never deleted under its holder, and ended by a tombstone carrying its
 * token. The schedules are made with client-side faults, so they run on every store.
 */
import { ListObjectVersionsCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3LockManager, type S3Lock, type S3LockManagerOptions } from '../../src';
import { versionedKey } from '../../src/core/versioned-state';
import { ClientFaults } from '../support/client-faults';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;
const PREFIX = 'locks/';

let target: StoreTarget;
let bucket: string;
const managers: S3LockManager[] = [];

beforeAll(async () => {
  target = await storeTarget();
  bucket = await target.createBucket({ versioned: true });
});
afterAll(async () => {
  await Promise.allSettled(managers.map((m) => m.close()));
  await target?.close();
});

function proc(extra: Partial<S3LockManagerOptions> = {}): { manager: S3LockManager; client: S3Client; faults: ClientFaults } {
  const client = target.createClient();
  const faults = new ClientFaults(client);
  const manager = new S3LockManager({ client, bucket, protocol: 'versioned', prefix: PREFIX, ttlMs: TTL, waitMs: 15_000, ...extra });
  managers.push(manager);
  return { manager, client, faults };
}

/** Records of every version of the lock key, newest first (read independently of the engine). */
async function versions(name: string): Promise<Array<{ kind: string; lease: string; token: number }>> {
  const admin = target.createClient();
  const Key = versionedKey(PREFIX, name);
  const out = await admin.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: Key }));
  const records = [];
  for (const v of (out.Versions ?? []).filter((x) => x.Key === Key)) {
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key, VersionId: v.VersionId }));
    const m = head.Metadata ?? {};
    records.push({ kind: m['lock-kind']!, lease: m['lock-lease']!, token: Number(m['lock-token']) });
  }
  return records;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `a` holds `name` (lease `leaseId`). Another process waits for the lock while every DELETE of
 * `a` answers 1 s late (so a renewal that deletes the lease's own claim leaves a wide window).
 * Checks: the other process never holds while `a` believes; `a` keeps the lock through its
 * renewals; `a`'s release leaves a tombstone with its token; the next token is larger.
 */
async function checkHeldLease(name: string, a: S3Lock, aFaults: ClientFaults, leaseId: string, aManager: S3LockManager): Promise<void> {
  const token = a.fencingToken!;
  const lost: string[] = [];
  aManager.on('lost', (e) => {
    if (e.leaseId === leaseId) lost.push(e.reason);
  });
  aFaults.next('DeleteObject', { kind: 'delay-after', ms: 1_000 }, Infinity);
  const other = proc();
  const b = other.manager.lock(name);
  const overlaps: number[] = [];
  other.manager.on('acquired', (e) => {
    if (e.name === name && a.isHeld) overlaps.push(e.fencingToken);
  });
  const waiting = b.acquire({ waitMs: 15_000 });
  // Two renewal rounds of `a` (every TTL/3) while `b` polls.
  await sleep(TTL);
  expect(overlaps).toEqual([]);
  expect(lost).toEqual([]);
  expect(a.isHeld).toBe(true);
  aFaults.clear();
  await a.release();
  const after = await versions(name);
  expect(after).toContainEqual({ kind: 'release', lease: leaseId, token });
  await waiting;
  expect(overlaps).toEqual([]);
  expect(b.fencingToken).toBeGreaterThan(token);
  await b.release();
}

describe('versioned protocol: every attempt of a waiter is a lease of its own', () => {
  it('a grant that came after its deadline (lost PUT response, slow re-read, slow duplicate delete), then a win', async () => {
    const p = proc();
    await p.manager.probe();
    const granted: Array<{ leaseId: string; token: number }> = [];
    const lostEvents: string[] = [];
    p.manager.on('acquired', (e) => granted.push({ leaseId: e.leaseId, token: e.fencingToken }));
    p.manager.on('lost', (e) => lostEvents.push(`${e.leaseId}:${e.reason}`));
    // The claim's answer is lost (the SDK retries: two versions, one nonce); its re-read takes 1 s
    // and deleting the duplicate 1.8 s: the grant comes after the deadline (TTL - 10%).
    p.faults.next('PutObject', { kind: 'lose-response' }, 1, () => {
      p.faults.next('ListObjectVersions', { kind: 'delay-before', ms: 1_000 });
      p.faults.next('DeleteObject', { kind: 'delay-before', ms: 1_800 });
    });
    const a = p.manager.lock('late-grant');
    await a.acquire({ waitMs: 15_000 });
    expect(p.faults.pending).toBe(0);
    // The late grant was declared lost (its release wrote a tombstone); the waiter won afterwards.
    expect(lostEvents).toHaveLength(1);
    expect(granted).toHaveLength(1);
    expect(a.fencingToken).toBeGreaterThan(1);
    await checkHeldLease('late-grant', a, p.faults, granted[0]!.leaseId, p.manager);
  });

  it('a force release between a contender claim and its re-read, then a win in the next round', async () => {
    const operator = proc();
    await operator.manager.probe();
    const p = proc();
    await p.manager.probe();
    const granted: Array<{ leaseId: string; token: number }> = [];
    p.manager.on('acquired', (e) => granted.push({ leaseId: e.leaseId, token: e.fencingToken }));
    let forced: boolean | undefined;
    p.faults.next('PutObject', { kind: 'delay-before', ms: 0 }, 1, () => {
      p.faults.next('ListObjectVersions', {
        kind: 'hold',
        action: async () => {
          forced = await operator.manager.forceRelease('forced');
        },
      });
    });
    const a = p.manager.lock('forced');
    await expect(a.tryAcquire()).resolves.toBe(true);
    // The force release did hit the contender's claim (it was the owner then).
    expect(forced).toBe(true);
    expect(granted).toHaveLength(1);
    await checkHeldLease('forced', a, p.faults, granted[0]!.leaseId, p.manager);
  });
});
