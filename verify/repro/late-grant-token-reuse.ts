/**
 * The late-grant schedule of `npm run verify` on its own, against a real store: the first claim's
 * answer is dropped (the SDK's retry makes a duplicate claim), the re-read is held 1 s and the
 * delete of the duplicate 1.8 s, so the grant comes after the lease's deadline. The acquisition
 * keeps waiting and wins later; then it releases and a second manager acquires. The fencing tokens
 * of the two grants must differ (finding 1 of issue 10: one lease id reused across attempts gives
 * the next holder the same token).
 *
 *   node -r ts-node/register/transpile-only verify/repro/late-grant-token-reuse.ts [endpoint] [versioned|create-only]
 *
 * The endpoint defaults to moto (http://127.0.0.1:5055); keys from S3_ACCESS_KEY_ID /
 * S3_SECRET_ACCESS_KEY (default testaccesskey / testsecretkey). Exit code 1 when a token repeats.
 */
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { Agent } from 'node:http';
import { S3LockManager } from '../../src';
import { FaultProxy, defaultFaultProfile, type FaultProfile } from '../fault-proxy';
import { Random } from '../random';

const QUIET: FaultProfile = { ...defaultFaultProfile(3_000), latencyMs: [0, 0], jitterMeanMs: 0, spikeProbability: 0, slowProbability: 0, resetProbability: 0, dropProbability: 0, burstProbability: 0 };

async function main(): Promise<number> {
  const endpoint = process.argv[2] ?? 'http://127.0.0.1:5055';
  const protocol = (process.argv[3] ?? 'versioned') as 'versioned' | 'create-only';
  const credentials = { accessKeyId: process.env.S3_ACCESS_KEY_ID ?? 'testaccesskey', secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? 'testsecretkey' };
  const base = { region: 'us-east-1', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const;
  const admin = new S3Client({ ...base, endpoint });
  const bucket = `s3lock-repro-${Date.now().toString(36)}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  if (protocol === 'versioned') await admin.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const url = new URL(endpoint);
  const proxy = await FaultProxy.start({
    upstreamHost: url.hostname,
    upstreamPort: Number(url.port || 80),
    profile: QUIET,
    random: new Random(1),
    schedules: { lateGrant: { probability: 1, readHoldMs: 1_000, followHoldMs: 1_800, episodeMs: 6_000, maxEpisodes: 1, protocol } },
  });
  const client = new S3Client({ ...base, endpoint: proxy.endpoint, customUserAgent: 'verify-worker-0', requestHandler: { httpAgent: new Agent({ keepAlive: false }) } });
  const a = new S3LockManager({ client, bucket, protocol, ttlMs: 3_000 });
  const b = new S3LockManager({ client: admin, bucket, protocol, ttlMs: 3_000 });
  const tokens: number[] = [];
  a.on('lost', (e) => console.log(`a: lease ${e.leaseId.slice(0, 8)} token ${e.fencingToken} lost (${e.reason})`));
  a.on('acquired', (e) => {
    console.log(`a: acquired lease ${e.leaseId.slice(0, 8)} token ${e.fencingToken} after ${e.waitedMs} ms`);
  });
  await a.probe();
  proxy.setEnabled(true);
  const lock = a.lock('x');
  const t0 = Date.now();
  await lock.acquire({ waitMs: Number(process.env.REPRO_WAIT_MS ?? 20_000) });
  proxy.setEnabled(false);
  tokens.push(lock.fencingToken!);
  console.log(`a: acquire() resolved after ${Date.now() - t0} ms with token ${lock.fencingToken}, faults ${JSON.stringify(proxy.faultCounts())}`);
  await lock.release();
  const other = b.lock('x');
  await other.acquire({ waitMs: 20_000 });
  tokens.push(other.fencingToken!);
  console.log(`b: acquired token ${other.fencingToken}`);
  await other.release();
  await a.close();
  await b.close();
  await proxy.close();
  const reused = tokens[0] === tokens[1];
  console.log(reused ? `TOKEN REUSED: ${tokens[0]} granted twice` : `tokens ${tokens.join(' then ')}: ok`);
  return reused ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
