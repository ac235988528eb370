/**
 * Versioned: the prefix is lost (declaration included), then, between a holder's renewal PUT and
 * its judging read, a running manager force-releases the lock. The holder is told `taken-over`
 * (a tombstone names its lease), and it still checks the declaration again: without that check
 * the key keeps history (the tombstone), no later claim checks either, and a create-only newcomer
 * declares the prefix and holds the same name as the versioned fleet.
 */
import { DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { S3LockLostError, S3LockManager } from '../../src';
import { InMemoryS3, createInMemoryS3Client } from '../../src/testing';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('a loss of the prefix, then a force release before the renewal reads: taken-over, and the declaration is restored', async () => {
  const store = new InMemoryS3({ versionedBuckets: ['ver'] });
  const raw = createInMemoryS3Client(store);
  const aClient = createInMemoryS3Client(store);
  const options = { bucket: 'ver', protocol: 'versioned' as const, ttlMs: 3_000 };
  const a = new S3LockManager({ ...options, client: aClient });
  const b = new S3LockManager({ ...options, client: createInMemoryS3Client(store) });
  let forceBeforeNextList = false;
  aClient.middlewareStack.add(
    (next, context) => async (args) => {
      if (forceBeforeNextList && (context as { commandName?: string }).commandName === 'ListObjectVersionsCommand') {
        forceBeforeNextList = false;
        expect(await b.forceRelease('n')).toBe(true);
      }
      return next(args);
    },
    { step: 'initialize', name: 'forceBeforeRead' },
  );
  const newcomer = new S3LockManager({ bucket: 'ver', ttlMs: 3_000, protocol: 'auto', client: createInMemoryS3Client(store) });
  try {
    const held = a.lock('n');
    await held.acquire();
    await b.probe();
    // the loss: every version under the prefix, the declaration's too
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: 'ver', Prefix: 'locks/' }));
    for (const v of [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]) await raw.send(new DeleteObjectCommand({ Bucket: 'ver', Key: v.Key, VersionId: v.VersionId }));
    forceBeforeNextList = true;
    if (!held.signal.aborted) await new Promise<void>((resolve) => held.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect((held.signal.reason as S3LockLostError).reason).toBe('taken-over');
    // the background check declares the prefix again
    let declared: string | undefined;
    for (let i = 0; i < 50 && declared === undefined; i++) {
      declared = await raw.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'locks/.protocol' })).then(
        (h) => h.Metadata?.['lock-protocol'],
        () => undefined,
      );
      if (declared === undefined) await sleep(100);
    }
    expect(declared).toBe('versioned');
    // so the newcomer follows it (auto), and the name has one holder
    const mine = b.lock('n');
    expect(await mine.tryAcquire()).toBe(true);
    const theirs = newcomer.lock('n');
    expect(await theirs.tryAcquire().catch((e: unknown) => e)).not.toBe(true);
    expect(await newcomer.probe()).toBe('versioned');
    await mine.release();
  } finally {
    await Promise.allSettled([a.close(), b.close(), newcomer.close()]);
  }
});
