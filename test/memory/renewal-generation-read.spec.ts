/**
 * A create-only renewal whose PUT is applied but whose parallel generation GET fails must not be
 * forgotten: the holder's deadline counts from the earliest send of any write that may have made
 * the record it relies on. (It used to throw and leave the cursor; the retry's create of the same
 * epoch got 412, the read-back found a record of the same lease and kind and counted it with the
 * RETRY's send time, so the holder believed about 1 s past the moment another process could take
 * over.) Here the holder can write no more after the generation reads recover: no other process may
 * be granted the lock while it still believes.
 */
import { performance } from 'node:perf_hooks';
import { MemoryWorld, lockPrefixOf, waitFor } from './support';

const TTL = 10_000;

describe('renewal retried after a failed generation read', () => {
  let world: MemoryWorld;
  afterEach(() => world.close());

  it('no other process is granted the lock while the holder believes it holds', async () => {
    world = await MemoryWorld.create();
    const h = world.manager({ ttlMs: TTL });
    const x = world.manager({ ttlMs: TTL });
    const held = h.manager.lock('x');
    await held.acquire();
    const holderToken = held.fencingToken;
    const renewed: number[] = [];
    h.manager.on('renewed', () => renewed.push(performance.now()));

    // The generation GETs of H's renewals fail for about 4 s (their PUTs are applied).
    const genFails = h.tap.inject({ match: { operation: 'GetObject', keyPrefix: `${lockPrefixOf('x')}generation` }, times: Infinity, fault: { kind: 'error', status: 500, code: 'InternalError' } });
    await new Promise((resolve) => setTimeout(resolve, TTL / 3 + 4_000));
    genFails.cancel();
    await waitFor(() => renewed.length >= 1, 5_000, 'the retried renewal');

    // From now on H cannot write (partitioned for writes); it believes until its deadline.
    h.tap.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 503, code: 'SlowDown' } });

    const taker = x.manager.lock('x');
    await taker.acquire({ waitMs: 30_000 });
    const grantedAt = performance.now();
    const holderStillBelieves = held.isHeld;
    // how long the holder went on believing after the grant (0 when it had stopped already: the
    // time this test takes to look again is no overlap)
    await waitFor(() => !held.isHeld, 15_000, 'the holder to stop believing');
    const overlapMs = holderStillBelieves ? Math.max(1, Math.round(performance.now() - grantedAt)) : 0;
    const report = { takerToken: taker.fencingToken, holderToken, holderStillBelieves, overlapMs };
    await taker.release();
    expect(report).toEqual({ ...report, holderStillBelieves: false, overlapMs: 0 });
  }, 60_000);
});
