import { DATE_RESOLUTION_MS } from './create-only-protocol';
import { lockKeyPrefix } from './lock-name';
import type { LockRecord } from './lock-record';

/**
 * The state of one lock under the versioned protocol, as read with ListObjectVersions plus a HEAD
 * of each version (cached: versions are immutable), and the pure judgements made on it. See
 * docs/protocol-versioned.md for the argument.
 */

/** Leaf of the one key that holds every version of a lock (create-only keys are 15 digits: never equal). */
export const VERSIONED_LEAF = 'lock';

/** The key whose versions are the lock's state: `<prefix><encoded name>/lock`. */
export function versionedKey(prefix: string, name: string): string {
  return `${lockKeyPrefix(prefix, name)}${VERSIONED_LEAF}`;
}

/** One version of the lock key with the record it carries. */
export interface VersionEntry {
  readonly versionId: string;
  /** Server time of the write (listing timestamp, ms). */
  readonly lastModifiedMs: number;
  readonly record: LockRecord;
}

/** The lock key's versions at one moment. */
export interface VersionedState {
  /** Versions (delete markers excluded), newest first, as the store lists them. */
  readonly versions: readonly VersionEntry[];
  /** Version id of the key's current version, when it is a version (not a delete marker). */
  readonly latestId: string | undefined;
  /** Number of delete markers (never written by this library; ignored). */
  readonly deleteMarkers: number;
  /** Local monotonic time at which the listing was sent. */
  readonly readAt: number;
}

/** A version that claims or renews a lease (not a release tombstone); it is dead if a tombstone names its lease. */
export function isLive(entry: VersionEntry): boolean {
  return entry.record.kind !== 'release';
}

/** Lease ids named by a listed release tombstone: those leases have ended. */
export function endedLeases(state: VersionedState): Set<string> {
  return new Set(state.versions.filter((v) => !isLive(v)).map((v) => v.record.leaseId));
}

/**
 * Live versions, newest first: claims and renewals of leases that no listed tombstone names. A
 * claim or renewal of an ended lease (a renewal applied after the release read the versions) is
 * dead: it owns nothing and does not push the expiry out.
 */
export function liveVersions(state: VersionedState): VersionEntry[] {
  const ended = endedLeases(state);
  return state.versions.filter((v) => isLive(v) && !ended.has(v.record.leaseId));
}

/** Dead versions, newest first: claims and renewals of leases that a listed tombstone names. */
export function deadVersions(state: VersionedState): VersionEntry[] {
  const ended = endedLeases(state);
  return state.versions.filter((v) => isLive(v) && ended.has(v.record.leaseId));
}

/** The oldest live version: its lease owns the lock. */
export function ownerOf(state: VersionedState): VersionEntry | undefined {
  const live = liveVersions(state);
  return live[live.length - 1];
}

/** Largest fencing token carried by any version (claims, renewals, tombstones); 0 when none. */
export function maxToken(state: VersionedState): number {
  return state.versions.reduce((max, v) => Math.max(max, v.record.fencingToken), 0);
}

/** Largest fencing token carried by a release tombstone; 0 when none. */
export function maxTombstoneToken(state: VersionedState): number {
  return state.versions.reduce((max, v) => (isLive(v) ? max : Math.max(max, v.record.fencingToken)), 0);
}

/** Claims and renewals of one lease (its claim, its renewals, their duplicates), newest first, dead or not. */
export function leaseVersions(state: VersionedState, leaseId: string): VersionEntry[] {
  return state.versions.filter((v) => isLive(v) && v.record.leaseId === leaseId);
}

/** Versions written by one write (same nonce: an SDK retry of an unconditional PUT can create several), newest first. */
export function versionsWithNonce(state: VersionedState, nonce: string): VersionEntry[] {
  return state.versions.filter((v) => v.record.nonce === nonce);
}

/** Server time of the newest live version (claim or renewal), or undefined when there is none. */
export function lastTouchedMs(state: VersionedState): number | undefined {
  const live = liveVersions(state);
  return live.length === 0 ? undefined : live.reduce((max, v) => Math.max(max, v.lastModifiedMs), 0);
}

/**
 * Server time from which the lock can be taken over, or undefined when no live version exists.
 * Newest live version (every holder's deadline counts from one of its own live writes) + 1 s
 * header resolution + the largest TTL of any live version + the clock tolerance. The largest TTL,
 * not the owner's: a takeover deletes every live version it saw, and the writer of each must be
 * unable to win with it afterwards. Tombstones do not count: a failed takeover must not push the
 * expiry out.
 */
export function expiresAtServer(state: VersionedState, toleranceMs: number): number | undefined {
  const live = liveVersions(state);
  if (live.length === 0) return undefined;
  const lastTouched = lastTouchedMs(state)!;
  const ttl = live.reduce((max, v) => Math.max(max, v.record.ttlMs), 0);
  return lastTouched + DATE_RESOLUTION_MS + ttl + toleranceMs;
}

/** How the lock looks to a contender at server time `serverNow` (a lower bound; undefined = unknown). */
export type Availability = 'free' | 'expired' | 'held';

export function availability(state: VersionedState, serverNow: number | undefined, toleranceMs: number): Availability {
  const expiresAt = expiresAtServer(state, toleranceMs);
  if (expiresAt === undefined) return 'free';
  return serverNow !== undefined && serverNow >= expiresAt ? 'expired' : 'held';
}

/** Outcome of a claim, judged on the re-read after it. */
export type ClaimVerdict =
  /** The claim's oldest copy is the oldest live version and its token beats every tombstone. */
  | { readonly kind: 'won'; readonly claim: VersionEntry; readonly duplicates: readonly VersionEntry[] }
  | { readonly kind: 'lost'; readonly mine: readonly VersionEntry[]; readonly reason: 'older-claim' | 'stale-token' | 'ended' }
  /** No version with the claim's nonce is listed. */
  | { readonly kind: 'missing' };

/**
 * Judges a claim (identified by its nonce) on a state read after it was written. The claim wins iff
 * no tombstone names its lease (a force release between the claim and this read ended it), its
 * oldest copy is the oldest live version (no older version can ever appear, so no earlier winner
 * still holds) and its token is greater than every release tombstone's (so fencing tokens of
 * winners strictly increase).
 */
export function judgeClaim(state: VersionedState, nonce: string): ClaimVerdict {
  const mine = versionsWithNonce(state, nonce);
  if (mine.length === 0) return { kind: 'missing' };
  const claim = mine[mine.length - 1]!;
  if (endedLeases(state).has(claim.record.leaseId)) return { kind: 'lost', mine, reason: 'ended' };
  const owner = ownerOf(state);
  if (owner?.versionId !== claim.versionId) return { kind: 'lost', mine, reason: 'older-claim' };
  if (claim.record.fencingToken <= maxTombstoneToken(state)) return { kind: 'lost', mine, reason: 'stale-token' };
  return { kind: 'won', claim, duplicates: mine.slice(0, -1) };
}

/** A state without the given versions (after deleting them). */
export function without(state: VersionedState, versionIds: Iterable<string>): VersionedState {
  const gone = new Set(versionIds);
  const versions = state.versions.filter((v) => !gone.has(v.versionId));
  return { ...state, versions, latestId: state.latestId !== undefined && gone.has(state.latestId) ? undefined : state.latestId };
}
