/**
 * A campaign whose grant is dead by the time the term would start (the process stalled between
 * the store's answer and the term) must not start a term: onElected would get a context without a
 * fencing token and a lease that no longer holds. It gives the lease back and campaigns again.
 */
import type { S3LockContext } from '../../src';
import { MemoryWorld, TTL_MS, waitFor } from './support';

describe('an election whose grant died in a stall', () => {
  it('starts no term on it, and elects on the next grant', async () => {
    const world = await MemoryWorld.create();
    try {
      const { manager } = world.manager();
      let stalls = 1;
      manager.on('acquired', () => {
        if (stalls-- <= 0) return;
        const until = performance.now() + TTL_MS + 500;
        while (performance.now() < until) {
          // a synchronous stall past the lease's deadline, right after the grant
        }
      });
      const terms: Array<{ token: unknown; held: boolean }> = [];
      const election = manager.elect('stalled', {
        onElected: (ctx: S3LockContext) => {
          terms.push({ token: ctx.fencingToken, held: ctx.isHeld });
        },
      });
      await waitFor(() => terms.length > 0, 20_000, 'a term');
      expect(terms[0]!.held).toBe(true);
      expect(typeof terms[0]!.token).toBe('number');
      expect(election.isLeader).toBe(true);
      await election.stop();
    } finally {
      await world.close();
    }
  }, 30_000);
});
