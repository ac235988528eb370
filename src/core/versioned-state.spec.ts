import type { LockRecord } from './lock-record';
import {
  availability,
  deadVersions,
  expiresAtServer,
  judgeClaim,
  leaseVersions,
  maxToken,
  maxTombstoneToken,
  ownerOf,
  versionedKey,
  liveVersions,
  without,
  type VersionEntry,
  type VersionedState,
} from './versioned-state';
import { epochOfKey } from './epoch-key';
import { lockKeyPrefix } from './lock-name';

let seq = 0;
function v(kind: LockRecord['kind'], token: number, opts: Partial<LockRecord> & { lm?: number; id?: string } = {}): VersionEntry {
  seq++;
  return {
    versionId: opts.id ?? `v${seq}`,
    lastModifiedMs: opts.lm ?? 1_000_000,
    record: {
      kind,
      leaseId: opts.leaseId ?? `lease${seq}`,
      ownerId: opts.ownerId ?? 'owner',
      ttlMs: opts.ttlMs ?? 3_000,
      fencingToken: token,
      nonce: opts.nonce ?? `nonce${seq}`,
      host: 'h',
      pid: 1,
    },
  };
}

/** Versions newest first, like the listing. */
function state(...versions: VersionEntry[]): VersionedState {
  return { versions, latestId: versions[0]?.versionId, deleteMarkers: 0, readAt: 0 };
}

describe('versioned state', () => {
  it('keeps the lock key apart from create-only epoch keys', () => {
    const key = versionedKey('locks/', 'job');
    expect(key).toBe('locks/job/lock');
    expect(epochOfKey(lockKeyPrefix('locks/', 'job'), key)).toBeUndefined();
  });

  it('names the oldest live version the owner, skipping tombstones', () => {
    const tomb = v('release', 4);
    const claim = v('acquire', 5, { leaseId: 'A' });
    const renewal = v('renew', 5, { leaseId: 'A' });
    const other = v('acquire', 5, { leaseId: 'B' });
    const s = state(other, renewal, claim, tomb);
    expect(ownerOf(s)).toBe(claim);
    expect(leaseVersions(s, 'A')).toEqual([renewal, claim]);
    expect(maxToken(s)).toBe(5);
    expect(maxTombstoneToken(s)).toBe(4);
    expect(ownerOf(state(tomb))).toBeUndefined();
  });

  it('judges expiry from the newest write, the largest live TTL and the slack', () => {
    const claim = v('acquire', 1, { lm: 10_000, ttlMs: 3_000 });
    const loser = v('acquire', 1, { lm: 10_500, ttlMs: 8_000 });
    const s = state(loser, claim);
    // 10_500 + 1_000 (date resolution) + 8_000 (largest TTL) + 500 (tolerance)
    expect(expiresAtServer(s, 500)).toBe(20_000);
    expect(availability(s, 19_999, 500)).toBe('held');
    expect(availability(s, 20_000, 500)).toBe('expired');
    expect(availability(s, undefined, 500)).toBe('held');
    expect(availability(state(v('release', 3)), undefined, 500)).toBe('free');
    expect(availability(state(), undefined, 500)).toBe('free');
  });

  it('lets a claim win only as the oldest live version with a token above every tombstone', () => {
    const tomb = v('release', 2);
    const mine = v('acquire', 3, { nonce: 'me' });
    const dup = v('acquire', 3, { nonce: 'me' });
    const later = v('acquire', 3, { nonce: 'them' });
    expect(judgeClaim(state(later, dup, mine, tomb), 'me')).toEqual({ kind: 'won', claim: mine, duplicates: [dup] });
    expect(judgeClaim(state(mine, later), 'me')).toMatchObject({ kind: 'lost', reason: 'older-claim' });
    const higherTomb = v('release', 3);
    expect(judgeClaim(state(higherTomb, mine), 'me')).toMatchObject({ kind: 'lost', reason: 'stale-token' });
    expect(judgeClaim(state(later), 'me')).toEqual({ kind: 'missing' });
  });

  it('treats claims and renewals of a lease a tombstone names as dead: no owner, no expiry, a lost claim', () => {
    const claim = v('acquire', 5, { leaseId: 'A', lm: 10_000 });
    const tomb = v('release', 5, { leaseId: 'A', lm: 11_000 });
    const late = v('renew', 5, { leaseId: 'A', lm: 12_000 });
    const s = state(late, tomb);
    expect(liveVersions(s)).toEqual([]);
    expect(deadVersions(s)).toEqual([late]);
    expect(ownerOf(s)).toBeUndefined();
    expect(expiresAtServer(s, 500)).toBeUndefined();
    expect(availability(s, undefined, 500)).toBe('free');
    expect(maxToken(s)).toBe(5);
    // A newer claim of another lease is the owner over the older dead renewal.
    const next = v('acquire', 6, { leaseId: 'B', nonce: 'next', lm: 13_000 });
    const after = state(next, late, tomb);
    expect(ownerOf(after)).toBe(next);
    expect(judgeClaim(after, 'next')).toEqual({ kind: 'won', claim: next, duplicates: [] });
    expect(expiresAtServer(after, 500)).toBe(13_000 + 1_000 + 3_000 + 500);
    // The tombstone of another lease kills nothing else; a claim whose own lease a tombstone names loses.
    expect(ownerOf(state(next, tomb, claim))).toBe(next);
    const forced = v('release', 6, { leaseId: 'B' });
    expect(judgeClaim(state(forced, next), 'next')).toMatchObject({ kind: 'lost', reason: 'ended' });
  });

  it('drops deleted versions from a state', () => {
    const a = v('acquire', 1);
    const b = v('renew', 1);
    const s = without(state(b, a), [b.versionId]);
    expect(s.versions).toEqual([a]);
    expect(s.latestId).toBeUndefined();
  });
});
