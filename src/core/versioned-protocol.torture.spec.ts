/**
 * Randomised check of the versioned protocol's two safety properties, in one process so that every
 * contender reads the same monotonic clock: contenders acquire, renew, release, "crash" (stop
 * renewing) and wake up late. Every lease's belief interval runs from the moment tryAcquire returned
 * to the earliest of its release and its deadline (send time of its last successful write + TTL -
 * margin, as the Lease class computes it; a renewal answered after the deadline does not revive it).
 * No two intervals may overlap, and tokens must increase in the order the leases were granted.
 *
 * Against the in-memory store with latency, lost responses, 500s after applying, 503s, connection
 * resets, and writes or listings held back up to 3 s (applied after the client gave up). Also
 * against moto and Ceph RGW (no fault injection) when S3_MOTO_ENDPOINT / S3_RGW_ENDPOINT are set.
 * VERSIONED_TORTURE_MS (default 10000), VERSIONED_TORTURE_SEED, VERSIONED_TORTURE_VERBOSE=1.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createInMemoryS3Client, InMemoryS3 } from '../testing';
import type { LeaseRequest, ProtocolLease } from './lock-protocol';
import { S3Gateway } from './s3-gateway';
import { ServerClock, systemMonotonicClock } from './server-clock';
import { VersionedProtocol } from './versioned-protocol';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const TTL = 2_000;
const MARGIN = 200;
const RUN_MS = Number(process.env.VERSIONED_TORTURE_MS ?? 10_000);
const now = (): number => systemMonotonicClock.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Belief {
  readonly worker: number;
  readonly leaseId: string;
  readonly token: number;
  readonly grantedAt: number;
  end: number;
}

/** Runs 4 contenders for `RUN_MS` and returns every lease's belief interval. */
async function torture(makeClient: () => S3Client, bucket: string, timeoutMs: number): Promise<Belief[]> {
  const beliefs: Belief[] = [];
  const stop = now() + RUN_MS;
  let n = 0;

  async function worker(id: number): Promise<void> {
    const gateway = new S3Gateway(makeClient(), bucket, new ServerClock(systemMonotonicClock), systemMonotonicClock, timeoutMs);
    const protocol = new VersionedProtocol(gateway, { prefix: 't/', host: `w${id}`, pid: id, serverClockToleranceMs: 100 }, systemMonotonicClock);
    while (now() < stop) {
      const request: LeaseRequest = { name: 'job', ownerId: `w${id}`, leaseId: `w${id}-${++n}`, ttlMs: TTL };
      let lease: ProtocolLease;
      let deadline: number;
      try {
        const out = await protocol.tryAcquire(request);
        if (!out.acquired) {
          await sleep(20 + Math.random() * 80);
          continue;
        }
        lease = out.lease;
        deadline = out.sentAt + TTL - MARGIN;
      } catch {
        await sleep(20);
        continue;
      }
      const belief: Belief = { worker: id, leaseId: lease.leaseId, token: lease.fencingToken, grantedAt: now(), end: deadline };
      beliefs.push(belief);
      const crash = Math.random() < 0.15;
      const holdUntil = now() + Math.random() * (crash ? 600 : 1_500);
      let lost = false;
      while (!lost && now() < holdUntil && now() < deadline) {
        await sleep(Math.min(TTL / 3, Math.max(0, holdUntil - now())));
        if (crash || now() >= holdUntil) break;
        try {
          const r = await protocol.renew(lease);
          const at = now();
          if (at >= deadline) lost = true; // the deadline timer fired first: the lease is gone for good
          else if (!r.renewed) lost = true;
          else deadline = r.sentAt + TTL - MARGIN;
        } catch {
          // unknown outcome: keep the old deadline, try again
        }
        belief.end = lost ? Math.min(belief.end, now()) : deadline;
      }
      // a crashed (paused) holder believes until its deadline; the others until they stop
      belief.end = crash ? deadline : Math.min(belief.end, deadline, now());
      if (crash) {
        // paused past the TTL, then the stale holder wakes up and tries to renew and release
        await sleep(TTL + Math.random() * 1_500);
        await protocol.renew(lease).catch(() => undefined);
        await protocol.release(lease).catch(() => undefined);
      } else if (!lost) {
        await protocol.release(lease).catch(() => undefined);
      }
    }
  }

  await Promise.all([0, 1, 2, 3].map((id) => worker(id)));
  return beliefs;
}

/** Throws listing every overlap of belief intervals and every token that did not increase. */
function check(beliefs: readonly Belief[], label: string): Belief[] {
  const ordered = [...beliefs].sort((a, b) => a.grantedAt - b.grantedAt);
  if (process.env.VERSIONED_TORTURE_VERBOSE) {
    const t0 = ordered[0]?.grantedAt ?? 0;
    const lines = ordered.map((b) => `${b.leaseId} token ${b.token} believed ${(b.grantedAt - t0).toFixed(0)}..${(b.end - t0).toFixed(0)} ms`);
    console.log(`${label}: ${ordered.length} grants\n${lines.join('\n')}`);
  }
  const problems: string[] = [];
  for (let i = 1; i < ordered.length; i++) {
    const prev = ordered[i - 1]!;
    const cur = ordered[i]!;
    if (cur.token <= prev.token) problems.push(`token ${cur.token} (${cur.leaseId}) after ${prev.token} (${prev.leaseId})`);
    for (let j = 0; j < i; j++) {
      const other = ordered[j]!;
      if (other.end > cur.grantedAt) problems.push(`${other.leaseId} believed until ${other.end.toFixed(1)}, ${cur.leaseId} granted at ${cur.grantedAt.toFixed(1)}`);
    }
  }
  if (problems.length > 0) throw new Error(`${label}:\n${problems.join('\n')}`);
  return ordered;
}

describe('VersionedProtocol torture', () => {
  const clients: S3Client[] = [];
  afterAll(() => clients.forEach((c) => c.destroy()));

  it('in-memory store with faults: never two believers, tokens increase', async () => {
    const seed = Number(process.env.VERSIONED_TORTURE_SEED ?? Date.now() % 1_000_000);
    const store = new InMemoryS3({ versionedBuckets: ['torture'], seed, latency: { jitterMs: 25, responseLatencyMs: 2 } });
    store.faults.random({ dropAfterApplyRate: 0.03, errorAfterApplyRate: 0.03, status: 500, code: 'InternalError', errorRate: 0.02, resetBeforeRate: 0.02 });
    const stop = now() + RUN_MS;
    // Now and then one write or listing is held back up to 3 s before it is applied: a claim or a
    // renewal that lands long after it was sent (the client times out after 1 s and may retry).
    const slow = (async () => {
      while (now() < stop) {
        await sleep(1_000 + Math.random() * 1_000);
        const operation = Math.random() < 0.6 ? 'PutObject' : 'ListObjectVersions';
        store.faults.inject({ match: { operation }, times: 1, fault: { kind: 'delay', ms: Math.round(200 + Math.random() * 2_800) } });
      }
    })();
    const makeClient = (): S3Client => {
      const c = createInMemoryS3Client(store);
      clients.push(c);
      return c;
    };
    const beliefs = await torture(makeClient, 'torture', 1_000);
    await slow;
    const ordered = check(beliefs, `seed ${seed}, faults ${JSON.stringify(store.faults.counts)}`);
    expect(ordered.length).toBeGreaterThan(Math.floor(RUN_MS / 4_000));
    expect(store.faults.total).toBeGreaterThan(0);
  }, RUN_MS + 30_000);

  const real = [
    ['moto', process.env.S3_MOTO_ENDPOINT, process.env.S3_MOTO_ACCESS_KEY_ID, process.env.S3_MOTO_SECRET_ACCESS_KEY],
    ['rgw', process.env.S3_RGW_ENDPOINT, process.env.S3_RGW_ACCESS_KEY_ID, process.env.S3_RGW_SECRET_ACCESS_KEY],
  ] as const;
  for (const [store, endpoint, accessKeyId, secretAccessKey] of real) {
    const maybe = endpoint ? it : it.skip;
    maybe(`${store} (S3_${store.toUpperCase()}_ENDPOINT): never two believers, tokens increase`, async () => {
      const makeClient = (): S3Client => {
        const c = new S3Client({
          endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: accessKeyId || 'testaccesskey', secretAccessKey: secretAccessKey || 'testsecretkey' },
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        });
        clients.push(c);
        return c;
      };
      const admin = makeClient();
      const Bucket = `s3lock-torture-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      await admin.send(new CreateBucketCommand({ Bucket }));
      await admin.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      try {
        const ordered = check(await torture(makeClient, Bucket, 2_000), store);
        expect(ordered.length).toBeGreaterThan(Math.floor(RUN_MS / 4_000));
      } finally {
        const listed = await admin.send(new ListObjectVersionsCommand({ Bucket }));
        for (const v of [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]) {
          await admin.send(new DeleteObjectCommand({ Bucket, Key: v.Key, VersionId: v.VersionId }));
        }
        await admin.send(new DeleteBucketCommand({ Bucket }));
      }
    }, RUN_MS + 60_000);
  }
});
