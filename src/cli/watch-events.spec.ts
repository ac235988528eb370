import type { LockRow } from './lock-row';
import { WatchLedger } from './watch-events';

const row = (over: Partial<LockRow> & { lease?: string | null }): LockRow => {
  const { lease = 'L1', ...rest } = over;
  return {
    name: 'n',
    state: 'held',
    held: true,
    fencingToken: 1,
    protocol: 'create-only',
    holder: lease === null ? null : { host: 'h', pid: 1, managerId: 'm', leaseId: lease },
    heldSince: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T00:00:10.000Z',
    expiresInMs: 5000,
    lastWriteAt: null,
    readAt: '2026-01-01T00:00:05.000Z',
    ...rest,
  };
};

describe('WatchLedger', () => {
  it('names a new lease begun well before the old one expired a hand-off', () => {
    const l = new WatchLedger();
    l.observe([row({})], true);
    const [e] = l.observe([row({ lease: 'L2', fencingToken: 2, heldSince: '2026-01-01T00:00:06.000Z' })], true);
    expect(e?.kind).toBe('hand-off');
    expect(l.counts).toMatchObject({ handOffs: 1, takeovers: 0, lost: 0 });
  });

  it('names a new lease that may have begun after the old one expired (whole-second heldSince) a takeover, and the old lease lost', () => {
    const l = new WatchLedger();
    l.observe([row({})], true);
    const [e] = l.observe([row({ lease: 'L2', fencingToken: 2, heldSince: '2026-01-01T00:00:09.000Z' })], true);
    expect(e?.kind).toBe('takeover');
    expect(l.counts).toMatchObject({ handOffs: 0, takeovers: 1, lost: 1 });
  });

  it('does not count a lease already expired when the watch began as lost since the start', () => {
    const l = new WatchLedger();
    expect(l.observe([row({ state: 'expired', held: false })], true)).toEqual([]);
    expect(l.observe([row({ state: 'expired', held: false })], true)).toEqual([]);
    expect(l.counts.lost).toBe(0);
  });

  it('counts a lease seen expired once as lost, then its takeover, and a release', () => {
    const l = new WatchLedger();
    l.observe([row({})], true);
    expect(l.observe([row({ state: 'expired', held: false })], true).map((e) => e.kind)).toEqual(['lost']);
    expect(l.observe([row({ state: 'expired', held: false })], true)).toEqual([]);
    expect(l.observe([row({ lease: 'L2', fencingToken: 2, heldSince: '2026-01-01T00:00:11.000Z' })], true).map((e) => e.kind)).toEqual(['takeover']);
    expect(l.observe([row({ state: 'free', held: false, lease: null })], true).map((e) => e.kind)).toEqual(['released']);
    expect(l.observe([row({ lease: 'L3', fencingToken: 3 })], true).map((e) => e.kind)).toEqual(['acquired']);
    expect(l.counts).toEqual({ acquired: 1, handOffs: 0, takeovers: 1, lost: 1, released: 1 });
  });
});
