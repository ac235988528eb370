/**
 * A lease that missed its deadline still releases, from its own cursor, once its renewal settled.
 * After a pause longer than the garbage-collection horizon that epoch may have been collected, and
 * the release lands there: it grants nothing, but the view it left (a release) let the next local
 * attempt build on it and be granted a collected epoch while another process held the lock. The
 * view is dropped: the next attempt reads the log first (docs/protocol.md, "Garbage collection").
 */
import { MemoryWorld, TTL_MS, sleep } from './support';

describe('the release after a missed deadline', () => {
  let world: MemoryWorld;
  beforeEach(async () => {
    world = await MemoryWorld.create();
  });
  afterEach(() => world.close());

  it('leaves no view behind: the next attempt reads the log before it writes', async () => {
    const a = world.manager();
    const lock = a.manager.lock('job');
    await lock.acquire();
    const lost = new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
    // the next renewal hangs past the deadline (the store applies it later, the client gives up)
    a.tap.inject({ match: { operation: 'PutObject' }, fault: { kind: 'delay', ms: TTL_MS + 2_000 } });
    await lost;
    // the hanging renewal settles (the SDK's retry lands it), then the release after the loss
    await sleep(TTL_MS + 2_500);
    const from = a.tap.requests.length;
    const next = a.manager.lock('job');
    await next.acquire({ waitMs: 10_000 });
    const first = a.tap.requests.slice(from).find((r) => r.operation !== 'HeadObject' || r.key.endsWith('.protocol'));
    expect(first?.operation).not.toBe('PutObject');
    expect(a.tap.requests.slice(from).some((r) => r.operation === 'ListObjectsV2')).toBe(true);
    await next.release();
  }, 30_000);
});
