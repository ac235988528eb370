/**
 * Randomised check of the versioned protocol's two safety properties against the in-memory store
 * with latency, lost responses, 500s after applying, 503s, connection resets, and writes or
 * listings held back up to 3 s (applied after the client gave up). The same check runs against
 * every store in test/contract/versioned-torture.spec.ts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { check, RUN_MS, torture } from '../../test/support/versioned-torture';
import { createInMemoryS3Client, InMemoryS3 } from '../testing';
import { systemMonotonicClock } from './server-clock';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const now = (): number => systemMonotonicClock.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
});
