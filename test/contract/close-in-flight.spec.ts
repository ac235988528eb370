/**
 * close() while an acquisition's write is in flight: when close() resolves, no lease of the closed
 * manager is live or renewing, the attempt did not succeed, and another process gets the lock at
 * once (what the attempt wrote was released).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { S3LockClosedError, S3LockManager, type S3Lock } from '../../src';
import { ClientFaults } from '../support/client-faults';
import { PROTOCOL_CASES } from '../support/protocol-cases';
import { storeTarget, type StoreTarget } from '../support/store-target';

const TTL = 3_000;

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(PROTOCOL_CASES)('close() during an acquisition ($protocol)', ({ protocol, versioned }) => {
  let bucket: string;
  const managers: S3LockManager[] = [];
  const manager = (client: S3Client): S3LockManager => {
    const m = new S3LockManager({ client, bucket, protocol, ttlMs: TTL, waitMs: 10_000 });
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    bucket = await target.createBucket({ versioned });
  });
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
  });

  it.each([
    ['tryAcquire()', (lock: S3Lock) => lock.tryAcquire()],
    ['acquire({ waitMs: 0 })', (lock: S3Lock) => lock.acquire({ waitMs: 0 })],
    ['acquire({ waitMs: 5000 })', (lock: S3Lock) => lock.acquire({ waitMs: 5_000 })],
  ])('%s: the write lands after close() was called; close() ends it, nothing stays held', async (label, attempt) => {
    const name = `closing-${label.replace(/\W+/g, '-')}`;
    const client = target.createClient();
    const closing = manager(client);
    await closing.probe();
    const renewals: string[] = [];
    const acquired: string[] = [];
    closing.on('renewed', (e) => renewals.push(e.name));
    closing.on('acquired', (e) => acquired.push(e.name));
    // the store applies the acquisition's first write; its answer comes back only once close() was called
    let closed: Promise<void> | undefined;
    const faults = new ClientFaults(client);
    faults.next('PutObject', {
      kind: 'hold-after',
      action: async () => {
        closed = closing.close();
        await sleep(50);
      },
    });
    const lock = closing.lock(name);
    const outcome = await attempt(lock).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    expect(closed).toBeDefined();
    await closed;

    expect(outcome.ok).toBe(false);
    expect((outcome as { error: unknown }).error).toBeInstanceOf(S3LockClosedError);
    expect(lock.isHeld).toBe(false);
    expect(acquired).toEqual([]);
    expect(closing.heldCount).toBe(0);
    // another process gets the lock at once: what the attempt wrote was released
    const other = manager(target.createClient()).lock(name);
    await expect(other.tryAcquire()).resolves.toBe(true);
    // and nothing of the closed manager renews (a renewal is due TTL/3 after a grant)
    await sleep(TTL / 3 + 500);
    expect(renewals).toEqual([]);
    expect(other.isHeld).toBe(true);
    await other.release();
  }, 60_000);
});
