import { PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { createInMemoryS3Client, InMemoryS3 } from '../testing';
import { S3LockUnsupportedStoreError } from './errors';
import { S3LockManager } from './lock-manager';
import { S3Gateway } from './s3-gateway';
import { ServerClock, systemMonotonicClock } from './server-clock';
import { probeVersioned } from './versioned-probe';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let store: InMemoryS3;
const clients: S3Client[] = [];
const managers: S3LockManager[] = [];

function client(): S3Client {
  const c = createInMemoryS3Client(store);
  clients.push(c);
  return c;
}

function gateway(bucket: string): S3Gateway {
  return new S3Gateway(client(), bucket, new ServerClock(systemMonotonicClock), systemMonotonicClock, 2_000);
}

function manager(bucket: string, protocol: 'auto' | 'versioned' | 'create-only', prefix?: string): S3LockManager {
  const m = new S3LockManager({ client: client(), bucket, protocol, ttlMs: 3_000, prefix });
  managers.push(m);
  return m;
}

async function refusal(m: S3LockManager): Promise<S3LockUnsupportedStoreError> {
  const error = await m.probe().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(S3LockUnsupportedStoreError);
  return error as S3LockUnsupportedStoreError;
}

beforeEach(() => {
  store = new InMemoryS3({ buckets: ['plain', 'suspended'], versionedBuckets: ['versioned'] });
});

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  for (const c of clients.splice(0)) c.destroy();
});

describe('probeVersioned', () => {
  it('passes on a versioned bucket with LIST + 2 PUT + HEAD + LIST + 2 DELETE + LIST and leaves nothing behind', async () => {
    store.clearRequests();
    expect(await probeVersioned(gateway('versioned'), 'locks/')).toEqual({ ok: true });
    expect(store.requests.map((r) => r.operation)).toEqual([
      'GetBucketVersioning',
      'PutObject',
      'PutObject',
      'HeadObject',
      'ListObjectVersions',
      'DeleteObject',
      'DeleteObject',
      'ListObjectVersions',
    ]);
    expect(store.requests.filter((r) => r.key !== undefined).every((r) => r.key!.startsWith('locks/.probe/'))).toBe(true);
    expect(store.buckets.get('versioned')!.isEmpty()).toBe(true);
  });

  it('passes when a lost answer made the SDK write a PUT twice (a duplicate version), and removes the duplicate too', async () => {
    // the first PUT is applied, its answer lost: the SDK's retry writes another version
    store.clearRequests();
    store.faults.inject({ match: { operation: 'PutObject', keyPrefix: 'locks/.probe/' }, times: 1, fault: { kind: 'drop-response' } });
    expect(await probeVersioned(gateway('versioned'), 'locks/')).toEqual({ ok: true });
    expect(store.requests.filter((r) => r.operation === 'PutObject')).toHaveLength(3);
    expect(store.buckets.get('versioned')!.isEmpty()).toBe(true);
  });

  it('fails on a bucket whose versioning was never enabled, or is suspended', async () => {
    expect(await probeVersioned(gateway('plain'), 'locks/')).toMatchObject({ ok: false, primitive: 'versioning' });
    await client().send(new PutBucketVersioningCommand({ Bucket: 'suspended', VersioningConfiguration: { Status: 'Suspended' } }));
    expect(await probeVersioned(gateway('suspended'), 'locks/')).toMatchObject({ ok: false, primitive: 'versioning', detail: expect.stringContaining('Suspended') });
  });
});

describe('protocol selection', () => {
  it("'versioned' runs on a versioned bucket and is refused on a plain one", async () => {
    expect(await manager('versioned', 'versioned').probe()).toBe('versioned');
    const error = await refusal(manager('plain', 'versioned'));
    expect(error).toMatchObject({ protocol: 'versioned', failedPrimitive: 'versioning', bucket: 'plain' });
    expect(error.advice).toMatch(/Enable versioning/);
  });

  it("'auto' prefers create-only where conditional creates are honoured, even in a versioned bucket", async () => {
    expect(await manager('versioned', 'auto').probe()).toBe('create-only');
    expect(await manager('plain', 'auto').probe()).toBe('create-only');
  });

  it("'auto' falls back to versioned where a versioned bucket ignores If-None-Match (Ceph RGW)", async () => {
    store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    expect(await manager('versioned', 'auto').probe()).toBe('versioned');
    // another prefix: this one is declared 'versioned' now, which would refuse create-only before any probe
    const error = await refusal(manager('versioned', 'create-only', 'other/'));
    expect(error.failedPrimitive).toBe('if-none-match');
  });

  it("'auto' refuses a plain bucket on a store that ignores If-None-Match, explaining both ways out", async () => {
    store.setBehaviour({ ignoreIfNoneMatch: true });
    const error = await refusal(manager('plain', 'auto'));
    expect(error.failedPrimitive).toBe('if-none-match');
    expect(error.message).toMatch(/create-only/);
    expect(error.message).toMatch(/versioned/);
    expect(error.message).toMatch(/versioning/);
  });

  it('a manager on the versioned protocol locks across managers', async () => {
    store.setBehaviour({ ignoreIfNoneMatchWhenVersioned: true });
    const a = manager('versioned', 'auto').lock('job');
    const b = manager('versioned', 'auto').lock('job');
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    await a.release();
    expect(await b.tryAcquire()).toBe(true);
    expect(b.fencingToken).toBe(2);
    await b.release();
  });
});
