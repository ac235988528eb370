/**
 * The versioned protocol's randomised safety check, shared by the unit spec (in-memory store with
 * faults) and the contract spec (every store): contenders acquire, renew, release, "crash" and wake
 * up late, in one process so that every contender reads the same monotonic clock. Every lease's
 * belief interval runs from the moment tryAcquire returned to the earliest of its release and its
 * deadline; no two may overlap, and tokens must increase in grant order.
 * VERSIONED_TORTURE_MS (default 10000), VERSIONED_TORTURE_SEED, VERSIONED_TORTURE_VERBOSE=1.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { LeaseRequest, ProtocolLease } from '../../src/core/lock-protocol';
import { S3Gateway } from '../../src/core/s3-gateway';
import { ServerClock, systemMonotonicClock } from '../../src/core/server-clock';
import { VersionedProtocol } from '../../src/core/versioned-protocol';

const TTL = 2_000;
const MARGIN = 200;
export const RUN_MS = Number(process.env.VERSIONED_TORTURE_MS ?? 10_000);
const now = (): number => systemMonotonicClock.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Belief {
  readonly worker: number;
  readonly leaseId: string;
  readonly token: number;
  readonly grantedAt: number;
  end: number;
}

/** Runs 4 contenders for `RUN_MS` and returns every lease's belief interval. */
export async function torture(makeClient: () => S3Client, bucket: string, timeoutMs: number): Promise<Belief[]> {
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
      let cleanUp: (() => Promise<void>) | undefined;
      while (!lost && now() < holdUntil && now() < deadline) {
        await sleep(Math.min(TTL / 3, Math.max(0, holdUntil - now())));
        if (crash || now() >= holdUntil) break;
        try {
          const r = await protocol.renew(lease);
          const at = now();
          if (!r.renewed) cleanUp = r.cleanUp;
          if (at >= deadline) lost = true; // the deadline timer fired first: the lease is gone for good
          else if (!r.renewed) lost = true;
          else deadline = r.sentAt + TTL - MARGIN;
        } catch {
          // unknown outcome: keep the old deadline, try again
        }
        belief.end = lost ? Math.min(belief.end, now()) : deadline;
        // The lease stopped believing above: only now may its versions be deleted.
        if (cleanUp) await cleanUp().catch(() => undefined);
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
export function check(beliefs: readonly Belief[], label: string): Belief[] {
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

