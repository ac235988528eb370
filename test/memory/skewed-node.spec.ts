/**
 * A store node with a skewed clock: the contender's requests reach the in-memory store through a
 * proxy that dates every third response 5 s ahead (one node of three behind a load balancer, its
 * clock off). The holder renews normally; the contender must not take the lock over early, and the
 * skewed dates are reported.
 */
import { S3LockManager, S3LockTimeoutError, type S3LockEvents } from '../../src';
import { createInMemoryS3Client, InMemoryS3RequestHandler, type InMemoryS3 } from '../../src/testing';
import { MemoryWorld, PREFIX, TTL_MS } from './support';

const SKEW_MS = 5_000;

/** A client of `store` whose every `every`-th response carries a Date `SKEW_MS` ahead. */
function skewedClient(store: InMemoryS3, every: number) {
  let n = 0;
  const proxy = Object.create(store) as InMemoryS3;
  proxy.handle = async (request) => {
    const response = await store.handle(request);
    if (++n % every === 0 && response.headers['date']) {
      response.headers['date'] = new Date(Date.parse(response.headers['date']) + SKEW_MS).toUTCString();
    }
    return response;
  };
  return createInMemoryS3Client(store, { requestHandler: new InMemoryS3RequestHandler(proxy) });
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
