/**
 * A store node with a skewed clock: the contender's requests reach the in-memory store through a
 * proxy that dates every third response 5 s ahead (one node of three behind a load balancer, its
 * clock off). The holder renews normally; the contender must not take the lock over early, and the
 * skewed dates are reported.
 */
import { S3LockManager, S3LockTimeoutError, type S3LockEvents } from '../../src';
import { createInMemoryS3Client, InMemoryS3RequestHandler, type InMemoryS3, type S3HttpRequest, type S3HttpResponse } from '../../src/testing';
import { BASE_EPOCHS_PER_SECOND } from '../../src/core/log-generation';
import { wipePrefix } from '../support/bucket-wipe';
import { MemoryWorld, PREFIX, TTL_MS, lockPrefixOf } from './support';

const SKEW_MS = 5_000;

/** A client of `store` whose responses carry a Date `SKEW_MS` ahead where `skewed` says so (`n` counts from 1). */
function clientSkewing(store: InMemoryS3, skewed: (n: number, request: S3HttpRequest, response: S3HttpResponse) => boolean) {
  let n = 0;
  const proxy = Object.create(store) as InMemoryS3;
  proxy.handle = async (request) => {
    const response = await store.handle(request);
    if (skewed(++n, request, response) && response.headers['date']) {
      response.headers['date'] = new Date(Date.parse(response.headers['date']) + SKEW_MS).toUTCString();
    }
    return response;
  };
  return createInMemoryS3Client(store, { requestHandler: new InMemoryS3RequestHandler(proxy) });
}

/** A client of `store` whose every `every`-th response carries a Date `SKEW_MS` ahead. */
function skewedClient(store: InMemoryS3, every: number) {
  return clientSkewing(store, (n) => n % every === 0);
}

describe.each(['create-only', 'versioned'] as const)('a skewed store node (%s)', (protocol) => {
  let world: MemoryWorld;
  const extra: S3LockManager[] = [];
  beforeEach(async () => {
    world = await MemoryWorld.create({ versioned: protocol === 'versioned' });
  });
  afterEach(async () => {
    await Promise.allSettled(extra.splice(0).map((m) => m.close()));
    await world.close();
  });

  it('a lease that renews normally is not taken over early by a process that sees some Dates 5 s ahead', async () => {
    const holder = world.manager({ protocol });
    const lost: string[] = [];
    holder.manager.on('lost', (e) => lost.push(e.reason));
    const a = holder.manager.lock('renewing');
    await a.acquire();

    const client = skewedClient(world.store, 3);
    const contender = new S3LockManager({ client, bucket: world.bucket, protocol, prefix: PREFIX, ttlMs: TTL_MS });
    extra.push(contender);
    const skews: Array<S3LockEvents['serverClockSkew']> = [];
    contender.on('serverClockSkew', (e) => skews.push(e));
    const b = contender.lock('renewing');
    // Waits through several of the holder's renewals (every TTL/3).
    const waited = await b.acquire({ waitMs: 2.5 * TTL_MS }).then(
      () => 'acquired',
      (error: unknown) => error,
    );
    expect(waited).toBeInstanceOf(S3LockTimeoutError);
    expect(b.isHeld).toBe(false);
    expect(lost).toEqual([]);
    expect(a.isHeld).toBe(true);
    // The skewed dates were seen and reported, and never moved the contender's clock.
    expect(skews.length).toBeGreaterThan(0);
    expect(skews[0]).toMatchObject({ bucket: world.bucket, toleranceMs: 500 });
    expect(skews[0]!.aheadMs).toBeGreaterThan(SKEW_MS - 1_500);
    const token = a.fencingToken!;
    await a.release();
    // Once released, the contender gets it at once.
    await expect(b.tryAcquire()).resolves.toBe(true);
    expect(b.fencingToken).toBeGreaterThan(token);
    await b.release();
    client.destroy();
  });
});

describe.each(['create-only', 'versioned'] as const)('a new process whose first two answers come from the skewed node (%s)', (protocol) => {
  let world: MemoryWorld;
  const extra: S3LockManager[] = [];
  beforeEach(async () => {
    world = await MemoryWorld.create({ versioned: protocol === 'versioned' });
  });
  afterEach(async () => {
    await Promise.allSettled(extra.splice(0).map((m) => m.close()));
    await world.close();
  });

  /** A client of `store` whose first `first` answers carry a Date `SKEW_MS` ahead. */
  const firstAnswersSkewed = (store: InMemoryS3, first: number) => clientSkewing(store, (n) => n <= first);

  it('does not take over a lease that was just granted (its clock does not follow two answers of one node)', async () => {
    const holder = world.manager({ protocol });
    const a = holder.manager.lock('fresh');
    await a.acquire();
    const client = firstAnswersSkewed(world.store, 2);
    const contender = new S3LockManager({ client, bucket: world.bucket, protocol, prefix: PREFIX, ttlMs: TTL_MS });
    extra.push(contender);
    const b = contender.lock('fresh');
    await expect(b.tryAcquire()).resolves.toBe(false);
    expect(a.isHeld).toBe(true);
    await a.release();
    client.destroy();
  });
});

describe('a skewed store node answers that a generation record is missing (create-only)', () => {
  let world: MemoryWorld;
  const extra: S3LockManager[] = [];
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(async () => {
    await Promise.allSettled(extra.splice(0).map((m) => m.close()));
    await world.close();
  });

  /** A client of `store` whose first answer to a GET of a generation record that is missing is dated `SKEW_MS` ahead. */
  function firstMissingAnswerSkewed(store: InMemoryS3) {
    let skewed = false;
    return clientSkewing(store, (_n, request, response) => {
      if (skewed || request.method !== 'GET' || !request.path.endsWith('/generation') || response.statusCode !== 404) return false;
      skewed = true;
      return true;
    });
  }

  it('one answer 5 s ahead does not lift the base: after a loss, a process with sound answers gets a token above it', async () => {
    const client = firstMissingAnswerSkewed(world.store);
    const skewedReader = new S3LockManager({ client, bucket: world.bucket, protocol: 'create-only', prefix: PREFIX, ttlMs: TTL_MS });
    extra.push(skewedReader);
    await skewedReader.probe();
    const first = skewedReader.lock('job');
    await first.acquire();
    const token = first.fencingToken!;
    await first.release();
    const baseSecond = Math.floor(token / BASE_EPOCHS_PER_SECOND);
    expect(baseSecond * 1_000).toBeLessThan(Date.now() + 1_500); // the store's clock is the machine's here

    await new Promise((resolve) => setTimeout(resolve, 1_700)); // assumption R1: the loss comes after the generation's first second
    await wipePrefix(world.admin, world.bucket, lockPrefixOf('job'));
    const sound = world.manager();
    const after = sound.manager.lock('job');
    await after.acquire();
    expect(after.fencingToken!).toBeGreaterThan(token);
    await after.release();
    client.destroy();
  });
});
