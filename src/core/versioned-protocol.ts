import { v4 as uuidv4 } from 'uuid';
import { BoundedCache } from './bounded-cache';
import type { DeclarationCheck } from './declaration-check';
import { S3LockStoreError } from './errors';
import { holderOf, notAcquiredResult } from './holder-info';
import type { AcquireResult, LeaseRequest, LockProtocol, ProtocolLease, RenewResult } from './lock-protocol';
import { recordFromMetadata, recordToMetadata, type LockRecord } from './lock-record';
import type { S3LockState } from './lock-types';
import type { PutOutcome, S3Gateway } from './s3-gateway';
import type { MonotonicClock } from './server-clock';
import {
  availability,
  deadVersions,
  expiresAtServer,
  isLive,
  judgeClaim,
  leaseVersions,
  liveVersions,
  maxToken,
  maxTombstoneToken,
  ownerOf,
  versionedKey,
  versionsWithNonce,
  without,
  type VersionEntry,
  type VersionedState,
} from './versioned-state';

export interface VersionedProtocolOptions {
  readonly prefix: string;
  readonly host: string;
  readonly pid: number;
  /** This manager's id, written into its records. */
  readonly managerId?: string;
  readonly serverClockToleranceMs: number;
}

/**
 * A claim counts only if the re-read that judges it completes within this fraction of the TTL after
 * the claim was sent. A claim seen by a takeover is older than its TTL, so it can never pass this
 * check after the takeover deleted what was older than it (see docs/protocol-versioned.md).
 */
export const CLAIM_MAX_AGE_FRACTION = 0.5;

/** A waiter's poll may use one HEAD (newest version unchanged) instead of a full read for this long after a full read. */
export const POLL_VIEW_MAX_AGE_MS = 10_000;

/** After our own release, the next acquire may claim without reading first if it comes within this time. */
export const WARM_VIEW_MAX_AGE_MS = 10_000;

/** Concurrent HEAD / DELETE requests per operation. */
const CONCURRENCY = 16;
/** Listing pages read at most per state read (1000 versions each). */
const MAX_PAGES = 20;
/** Records kept in the version-metadata cache. */
const RECORD_CACHE_SIZE = 4_096;
/** Names whose last read, warm token and abandoned claims this manager keeps at most. */
const NAMES_CACHED = 4_096;
/**
 * A cached record is dropped once no read listed its version for this long (a renewal's read lists
 * the lease's versions every TTL/3; a dropped record costs one HEAD).
 */
export const RECORD_MAX_IDLE_MS = 600_000;
/** Abandoned claims are remembered this long after the last one of the name was given up. */
export const ORPHANS_MAX_AGE_MS = 600_000;
/** Abandoned claim nonces remembered per lock name. */
const MAX_ORPHANS = 64;

/**
 * The seed's versioned-bucket state machine: one key per lock in a bucket with versioning enabled;
 * the oldest live version names the owner, the newest write says when the lock was last touched.
 * Needs no write condition: only PUT, HEAD, ListObjectVersions and DELETE by version id.
 */
export class VersionedProtocol implements LockProtocol {
  readonly name = 'versioned' as const;
  /** Records of versions by `key \0 versionId` (versions are immutable: a dropped one is read again). */
  private readonly records: BoundedCache<string, LockRecord>;
  /** The last full read of each lock (a poll uses it for {@link POLL_VIEW_MAX_AGE_MS}, so it is kept no longer). */
  private readonly views: BoundedCache<string, VersionedState>;
  /** After our own release: the token it left and when, for a claim without reading first. */
  private readonly warm: BoundedCache<string, { token: number; at: number }>;
  /** Nonces of claims we gave up (never reported won) whose versions may linger: deleted when seen. */
  private readonly orphans: BoundedCache<string, Set<string>>;
  /**
   * Per lease id, while a lease of this manager may still write: the lock's name (to drop the
   * entries below once the name is idle, {@link forget}), never dropped by age or count.
   */
  private readonly leaseNames = new Map<string, string>();
  /** Send time of each held lease's last successful write (claim or renewal), by lease id. */
  private readonly lastWrite = new Map<string, number>();
  /** Nonces of renewals whose outcome stayed unknown, per lease: orphans once the lease has ended. */
  private readonly unsettled = new Map<string, Set<string>>();
  /** Delete markers of the key in each held lease's last read, by lease id (more later: the key was deleted, records lost). */
  private readonly markers = new Map<string, number>();

  constructor(
    private readonly gateway: S3Gateway,
    private readonly options: VersionedProtocolOptions,
    private readonly mono: MonotonicClock,
    /** Checks the prefix's declaration again where a loss of records can show (docs/protocol.md). */
    private readonly declaration?: DeclarationCheck,
  ) {
    this.records = new BoundedCache(RECORD_CACHE_SIZE, RECORD_MAX_IDLE_MS, mono);
    this.views = new BoundedCache(NAMES_CACHED, POLL_VIEW_MAX_AGE_MS, mono);
    this.warm = new BoundedCache(NAMES_CACHED, WARM_VIEW_MAX_AGE_MS, mono);
    this.orphans = new BoundedCache(NAMES_CACHED, ORPHANS_MAX_AGE_MS, mono);
  }

  /**
   * The lock `name` is idle in this manager (no lease, waiter, attempt or store operation): no
   * lease of it renews any more, so its per-lease entries go (unsettled renewals become orphans).
   */
  forget(name: string): void {
    for (const [leaseId, leaseName] of this.leaseNames) {
      if (leaseName !== name) continue;
      const nonces = this.unsettled.get(leaseId);
      for (const nonce of nonces ?? []) this.addOrphan(name, nonce);
      this.leaseNames.delete(leaseId);
      this.lastWrite.delete(leaseId);
      this.markers.delete(leaseId);
      this.unsettled.delete(leaseId);
    }
  }

  /** Entries kept per map, after dropping expired cache entries (tests and benchmarks). */
  retainedEntries(): Record<string, number> {
    return {
      'versioned records': this.records.size,
      'versioned views': this.views.size,
      'versioned warm': this.warm.size,
      'versioned orphans': this.orphans.size,
      'versioned leases': this.leaseNames.size,
      'versioned lastWrite': this.lastWrite.size,
      'versioned unsettled': this.unsettled.size,
      'versioned markers': this.markers.size,
    };
  }

  async tryAcquire(request: LeaseRequest): Promise<AcquireResult> {
    const { name } = request;
    const polled = await this.poll(name);
    if (polled) return polled;
    const warm = this.takeWarm(name);
    let state: VersionedState | undefined;
    for (let round = 0; round < 3; round++) {
      let token: number;
      let emptyKey = false;
      if (warm && round === 0) {
        token = warm.token + 1;
      } else {
        state = await this.dropOrphans(name, state ?? (await this.read(name, 'acquire')));
        emptyKey = state.latestId === undefined; // no version, or a delete marker on top (deleted by hand)
        const seen = availability(state, this.gateway.serverClock.nowLowerBound(), this.options.serverClockToleranceMs);
        if (seen === 'held') return this.notAcquired(state);
        if (seen === 'expired') await this.clearExpired(request, state);
        token = maxToken(state) + 1;
      }
      const out = await this.claim(request, token, emptyKey);
      if ('acquired' in out) return out;
      // Lost to an older claim: held. Otherwise (token below a tombstone, claim too slow or deleted) judge the fresh state again.
      if (!out.retry) return this.notAcquired(out.state);
      state = out.state;
    }
    return this.notAcquired(state!);
  }

  async renew(lease: ProtocolLease): Promise<RenewResult> {
    const { name } = lease;
    const record = this.newRecord('renew', lease, lease.fencingToken);
    const put = await this.put(name, record, 'renew');
    const state = await this.read(name, 'renew');
    const mine = versionsWithNonce(state, record.nonce);
    if (mine.length === 0 && put.kind === 'unknown') {
      // It may land later, as a version of this lease: harmless while the lease lasts, an orphan after.
      let set = this.unsettled.get(lease.leaseId);
      if (!set) this.unsettled.set(lease.leaseId, (set = new Set()));
      this.leaseNames.set(lease.leaseId, name);
      if (set.size < MAX_ORPHANS) set.add(record.nonce);
      throw this.gateway.failure(name, 'renew', put.error);
    }
    const lost = this.recordsLost(lease, state);
    // The claim version is gone, or the key was deleted (a new delete marker). A force release or
    // takeover deletes the claim version too, but leaves a tombstone naming the lease: that is a
    // takeover, judged below. Either way the declaration is checked again: a loss of the prefix
    // followed by a force release would look the same (docs/protocol.md, "Force release").
    if (lost) this.declaration?.inBackground(name, 'renew');
    if (lost && !endedByTombstone(state, lease.leaseId)) {
      return { renewed: false, reason: 'records-lost', cleanUp: () => this.dropLostLease(lease, state) };
    }
    const owner = ownerOf(state);
    const lastWrite = this.lastWrite.get(lease.leaseId);
    // A verification that ends a TTL after the lease's last successful write was sent proves nothing:
    // a takeover may have judged that write expired in between (and the lease's deadline is gone anyway).
    const late = lastWrite !== undefined && this.mono.now() - lastWrite >= lease.ttlMs;
    if (late || mine.length === 0 || owner?.record.leaseId !== lease.leaseId || endedByTombstone(state, lease.leaseId)) {
      // Taken over, force-released, our renewal deleted by a takeover, or too late: the lease is
      // over. Its versions are deleted only once the lease has stopped believing (the caller runs
      // `cleanUp` after that), never before.
      return { renewed: false, cleanUp: () => this.endLease(lease, state, 'renew') };
    }
    // Keep the owner version (never delete it while holding) and the newest; drop the renewals in between.
    const own = leaseVersions(state, lease.leaseId);
    const superseded = own.filter((v) => v.versionId !== owner.versionId && v.versionId !== own[0]!.versionId);
    if (superseded.length > 0) {
      await this.deleteVersions(name, superseded, 'renew').catch(() => undefined);
      this.views.set(name, without(state, superseded.map((v) => v.versionId)));
    }
    this.lastWrite.set(lease.leaseId, put.sentAt);
    this.markers.set(lease.leaseId, state.deleteMarkers);
    this.leaseNames.set(lease.leaseId, name);
    lease.cursor += 1;
    return { renewed: true, sentAt: put.sentAt };
  }

  async release(lease: ProtocolLease): Promise<void> {
    const state = await this.read(lease.name, 'release');
    await this.endLease(lease, state, 'release');
  }

  /**
   * Ends a lease in the store, given a state read after the lease stopped being believed. If it
   * still owns the lock and no tombstone names it yet: a tombstone with its token first (so the
   * token survives), then its versions, the dead versions listed and the tombstones with smaller
   * tokens (except those naming a lease of which a version is listed: deleting them would bring
   * that version back to life). Otherwise (taken over, force-released) only its leftovers, after a
   * tombstone with its token if none with a token at least as large is listed (a dead version that
   * came back to life can own the lock without a takeover's tombstone).
   */
  private async endLease(lease: ProtocolLease, state: VersionedState, operation: string): Promise<void> {
    const { name } = lease;
    this.leaseEnded(lease);
    const own = leaseVersions(state, lease.leaseId);
    if (ownerOf(state)?.record.leaseId !== lease.leaseId || endedByTombstone(state, lease.leaseId)) {
      if (own.length > 0) {
        if (maxTombstoneToken(state) < lease.fencingToken) await this.settledPut(name, this.newRecord('release', lease, lease.fencingToken), operation);
        await this.deleteVersions(name, own, operation);
        this.views.set(name, without(state, own.map((v) => v.versionId)));
      }
      return;
    }
    const tombstone = this.newRecord('release', lease, lease.fencingToken);
    await this.settledPut(name, tombstone, operation);
    const dead = deadVersions(state);
    const withVersions = new Set(state.versions.filter(isLive).map((v) => v.record.leaseId));
    const older = state.versions.filter((v) => !isLive(v) && v.record.fencingToken < lease.fencingToken && !withVersions.has(v.record.leaseId));
    const doomed = [...own, ...dead, ...older];
    await this.deleteVersions(name, doomed, operation);
    const after = without(state, doomed.map((v) => v.versionId));
    this.views.set(name, after);
    if (operation === 'release' && liveVersions(after).length === 0) {
      this.warm.set(name, { token: Math.max(lease.fencingToken, maxToken(after)), at: this.mono.now() });
    }
  }

  async handOff(lease: ProtocolLease, next: LeaseRequest): Promise<AcquireResult> {
    await this.release(lease);
    return this.tryAcquire(next);
  }

  /**
   * Operator's force-unlock: a tombstone naming the owner's lease (with the largest token seen),
   * then the owner's versions are deleted. Other contenders' claims are left alone (deleting a
   * fresh claim could let two of them win). The holder learns it at its next renewal, which sees
   * the tombstone naming its lease. Resolves to false when no lease holds the lock.
   */
  async forceRelease(name: string): Promise<boolean> {
    const state = await this.read(name, 'force release');
    const owner = ownerOf(state);
    if (!owner) return false;
    await this.settledPut(name, this.tombstoneFor(owner.record, maxToken(state)), 'force release');
    await this.deleteVersions(name, leaseVersions(state, owner.record.leaseId), 'force release');
    return true;
  }

  async inspect(name: string): Promise<S3LockState> {
    const state = await this.read(name, 'inspect');
    const owner = ownerOf(state);
    const claim = owner && state.versions.find((v) => v.record.kind === 'acquire' && v.record.leaseId === owner.record.leaseId);
    const serverNow = this.gateway.serverClock.nowLowerBound();
    const expiresAt = expiresAtServer(state, this.options.serverClockToleranceMs);
    const lastWrite = state.versions.reduce((max, v) => Math.max(max, v.lastModifiedMs), 0);
    const r = owner?.record ?? state.versions[0]?.record;
    return {
      name,
      protocol: 'versioned',
      held: availability(state, serverNow, this.options.serverClockToleranceMs) === 'held',
      holder: r && holderOf(r, expiresAt),
      acquiredAt: claim === undefined ? undefined : new Date(claim.lastModifiedMs),
      lastWriteAt: state.versions.length === 0 ? undefined : new Date(lastWrite),
      expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
      serverTime: new Date(serverNow ?? Date.now()),
      epoch: state.versions.length,
    };
  }

  /**
   * A waiter's cheap poll: when the last full read (recent) showed the lock held and the key's
   * newest version was the owner's, one HEAD of the key tells whether anything was written since.
   * Every change of owner writes a new version first (a claim, a renewal or a tombstone), so an
   * unchanged newest version means the same owner; expiry is judged again on the fresh server time.
   * This can only answer "still held"; anything else falls through to a full read.
   */
  private async poll(name: string): Promise<AcquireResult | undefined> {
    const view = this.views.get(name);
    if (!view || this.mono.now() - view.readAt > POLL_VIEW_MAX_AGE_MS) return undefined;
    const owner = ownerOf(view);
    const newest = view.versions[0];
    if (!owner || !newest || newest.versionId !== view.latestId || !isLive(newest) || newest.record.leaseId !== owner.record.leaseId) return undefined;
    if (this.orphans.get(name)?.has(owner.record.nonce)) return undefined; // a claim of ours we gave up: read, and delete it
    if (availability(view, this.gateway.serverClock.nowLowerBound(), this.options.serverClockToleranceMs) !== 'held') return undefined;
    const head = await this.gateway.head(this.key(name), name, 'poll');
    if (!head.found || head.versionId !== view.latestId) return undefined;
    if (availability(view, this.gateway.serverClock.nowLowerBound(), this.options.serverClockToleranceMs) !== 'held') return undefined;
    return this.notAcquired(view);
  }

  /**
   * Ends a lease whose records were lost: deletes what is left of it (its renewal written into the
   * emptied key), and writes no tombstone, so the key looks as empty as the loss left it and the
   * next claim into it checks the declaration.
   */
  private async dropLostLease(lease: ProtocolLease, state: VersionedState): Promise<void> {
    this.leaseEnded(lease);
    const own = leaseVersions(state, lease.leaseId);
    if (own.length === 0) return;
    await this.deleteVersions(lease.name, own, 'renew');
    this.views.set(lease.name, without(state, own.map((v) => v.versionId)));
  }

  /** Did the store lose this held lease's records? Its claim version is gone, or the key got a delete marker since its last read. */
  private recordsLost(lease: ProtocolLease, state: VersionedState): boolean {
    if (lease.versionId !== undefined && !state.versions.some((v) => v.versionId === lease.versionId)) return true;
    const before = this.markers.get(lease.leaseId);
    return before !== undefined && state.deleteMarkers > before;
  }

  /** Renewals of an ended lease that may still land are orphans from now on. */
  private leaseEnded(lease: ProtocolLease): void {
    this.leaseNames.delete(lease.leaseId);
    this.lastWrite.delete(lease.leaseId);
    this.markers.delete(lease.leaseId);
    const nonces = this.unsettled.get(lease.leaseId);
    if (!nonces) return;
    this.unsettled.delete(lease.leaseId);
    for (const nonce of nonces) this.addOrphan(lease.name, nonce);
  }

  private takeWarm(name: string): { token: number } | undefined {
    const warm = this.warm.get(name);
    this.warm.delete(name);
    if (!warm || this.mono.now() - warm.at > WARM_VIEW_MAX_AGE_MS) return undefined;
    return warm;
  }

  /**
   * Takeover of an expired lock: first a tombstone carrying the largest token seen (so the token
   * survives), then every live version seen is deleted by version id. Versions written after the
   * read are never touched.
   */
  private async clearExpired(request: LeaseRequest, state: VersionedState): Promise<void> {
    await this.settledPut(request.name, this.tombstoneFor(ownerOf(state)!.record, maxToken(state)), 'acquire');
    await this.deleteVersions(request.name, liveVersions(state), 'acquire');
  }

  /**
   * PUTs a claim carrying `token`, reads the versions again, and judges the claim. A lost claim
   * is withdrawn; the result then carries the state read without it, and whether it is worth
   * judging that state again (`retry`: not lost to an older claim).
   */
  private async claim(attempt: LeaseRequest, token: number, emptyKey: boolean): Promise<AcquireResult | { state: VersionedState; retry: boolean }> {
    const { name } = attempt;
    // A lease id of its own for every claim: a tombstone left by an earlier attempt (a grant that
    // came too late, a force release before the re-read) must never name a later winner.
    const request: LeaseRequest = { ...attempt, leaseId: uuidv4() };
    const record = this.newRecord('acquire', request, token);
    const put = await this.put(name, record, 'acquire');
    let state: VersionedState;
    try {
      state = await this.read(name, 'acquire');
    } catch (error) {
      this.addOrphan(name, record.nonce);
      throw error;
    }
    const verdict = judgeClaim(state, record.nonce);
    if (verdict.kind === 'missing') {
      if (put.kind === 'unknown') {
        // It may still be applied later: delete it whenever it shows up.
        this.addOrphan(name, record.nonce);
        throw this.gateway.failure(name, 'acquire', put.error);
      }
      // Written, then deleted by a takeover that judged it expired: not ours.
      return { state, retry: true };
    }
    const fresh = this.mono.now() - put.sentAt < request.ttlMs * CLAIM_MAX_AGE_FRACTION;
    if (verdict.kind === 'won' && fresh) {
      if (verdict.duplicates.length > 0) {
        // Copies of our claim made by SDK retries: newer than the claim, so deleting them changes no owner.
        await this.deleteVersions(name, verdict.duplicates, 'acquire').catch(() => undefined);
        state = without(state, verdict.duplicates.map((v) => v.versionId));
      }
      if (emptyKey || state.versions.every((v) => v.record.nonce === record.nonce)) {
        // A claim into an empty key (first use, or the records were lost): the declaration may have gone too.
        await this.declarationAgrees(name, record.nonce, state);
      }
      this.views.set(name, state);
      this.markers.set(request.leaseId, state.deleteMarkers);
      this.lastWrite.set(request.leaseId, put.sentAt);
      this.leaseNames.set(request.leaseId, name);
      const lease: ProtocolLease = { ...request, fencingToken: token, cursor: 0, versionId: verdict.claim.versionId };
      return { acquired: true, lease, sentAt: put.sentAt };
    }
    // Lost (or won too late to be trusted): withdraw every copy of the claim.
    const mine = versionsWithNonce(state, record.nonce);
    try {
      await this.deleteVersions(name, mine, 'acquire');
      state = without(state, mine.map((v) => v.versionId));
    } catch {
      this.addOrphan(name, record.nonce);
    }
    this.views.set(name, state);
    return { state, retry: !(verdict.kind === 'lost' && verdict.reason === 'older-claim') };
  }

  /**
   * A check of the declaration sent after the judging read of a won claim into an empty key. If it
   * fails (refused, or a store error), the claim is withdrawn and the error thrown: nothing granted.
   */
  private async declarationAgrees(name: string, nonce: string, state: VersionedState): Promise<void> {
    if (!this.declaration) return;
    try {
      await this.declaration.passedAfter(this.mono.now(), name, 'acquire');
    } catch (error) {
      await this.deleteVersions(name, versionsWithNonce(state, nonce), 'acquire').catch(() => this.addOrphan(name, nonce));
      throw error;
    }
  }

  /** One PUT of a record; the caller settles an unknown outcome by nonce on its next read. */
  private async put(name: string, record: LockRecord, operation: string): Promise<PutOutcome> {
    const key = this.key(name);
    const out = await this.gateway.putVersion(key, recordToMetadata(record), name, operation);
    if (out.kind === 'written' && out.versionId !== undefined) this.remember(key, out.versionId, record);
    return out;
  }

  /** A PUT whose unknown outcome is settled at once by reading the versions back (tombstones). */
  private async settledPut(name: string, record: LockRecord, operation: string): Promise<void> {
    const put = await this.put(name, record, operation);
    if (put.kind === 'written') return;
    const state = await this.read(name, operation);
    if (versionsWithNonce(state, record.nonce).length === 0) {
      throw this.gateway.failure(name, operation, put.error);
    }
  }

  /**
   * Reads the lock's state: ListObjectVersions of the key (every page), then a HEAD of each
   * version whose record is not cached yet, concurrently. A version deleted between the two is
   * read again from the start.
   */
  private async read(name: string, operation: string): Promise<VersionedState> {
    const key = this.key(name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const listed = await this.list(key, name, operation);
      // The records of this read are collected here, not looked up in the cache afterwards: a
      // cache entry can be evicted while the HEADs below (or another lock's read) fill the cache.
      const found = new Map<string, LockRecord>();
      const unknown: typeof listed.versions = [];
      for (const v of listed.versions) {
        const cached = this.records.touch(cacheKey(key, v.versionId));
        if (cached) found.set(v.versionId, cached);
        else unknown.push(v);
      }
      let vanished = false;
      await forEachConcurrently(unknown, async (v) => {
        const head = await this.gateway.head(key, name, operation, v.versionId);
        if (!head.found) {
          vanished = true;
          return;
        }
        const record = recordFromMetadata(name, `${key}?versionId=${v.versionId}`, head.metadata);
        found.set(v.versionId, record);
        this.remember(key, v.versionId, record);
      });
      if (vanished) continue;
      const versions: VersionEntry[] = listed.versions.map((v) => ({
        versionId: v.versionId,
        lastModifiedMs: v.lastModifiedMs,
        record: found.get(v.versionId)!,
      }));
      const state: VersionedState = { versions, latestId: listed.latestId, deleteMarkers: listed.deleteMarkers, readAt: listed.sentAt };
      this.views.set(name, state);
      return state;
    }
    throw new S3LockStoreError(name, operation, undefined, new Error(`versions of ${key} kept disappearing between ListObjectVersions and HeadObject`), this.gateway.context());
  }

  private async list(
    key: string,
    name: string,
    operation: string,
  ): Promise<{ versions: Array<{ versionId: string; lastModifiedMs: number }>; latestId: string | undefined; deleteMarkers: number; sentAt: number }> {
    const versions: Array<{ versionId: string; lastModifiedMs: number }> = [];
    let latestId: string | undefined;
    let deleteMarkers = 0;
    let sentAt: number | undefined;
    let markers: { keyMarker?: string; versionIdMarker?: string } = {};
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await this.gateway.listVersions(key, name, operation, markers);
      sentAt ??= out.sentAt;
      for (const v of out.versions) {
        if (v.key !== key) continue;
        versions.push({ versionId: v.versionId, lastModifiedMs: v.lastModifiedMs });
        if (v.isLatest) latestId = v.versionId;
      }
      deleteMarkers += out.deleteMarkers.filter((m) => m.key === key).length;
      if (!out.truncated) return { versions, latestId, deleteMarkers, sentAt };
      if (out.nextKeyMarker === undefined) break;
      markers = { keyMarker: out.nextKeyMarker, versionIdMarker: out.nextVersionIdMarker };
    }
    throw new S3LockStoreError(name, operation, undefined, new Error(`${key} has too many versions to list (more than ${MAX_PAGES} pages); delete them by hand`), this.gateway.context());
  }

  /** Deletes abandoned claims of ours that showed up (never reported won: nobody relies on them). */
  private async dropOrphans(name: string, state: VersionedState): Promise<VersionedState> {
    const nonces = this.orphans.get(name);
    if (!nonces || nonces.size === 0) return state;
    const found = state.versions.filter((v) => nonces.has(v.record.nonce));
    if (found.length === 0) return state;
    try {
      await this.deleteVersions(name, found, 'acquire');
    } catch {
      return state;
    }
    for (const v of found) nonces.delete(v.record.nonce);
    return without(state, found.map((v) => v.versionId));
  }

  /** DELETE by version id, concurrently; throws the first failure after all settled. */
  private async deleteVersions(name: string, versions: readonly VersionEntry[], operation: string): Promise<void> {
    const key = this.key(name);
    await forEachConcurrently(versions, (v) => this.gateway.delete(key, name, operation, v.versionId));
  }

  private addOrphan(name: string, nonce: string): void {
    const set = this.orphans.get(name) ?? new Set<string>();
    this.orphans.set(name, set); // restarts its age
    set.add(nonce);
    if (set.size > MAX_ORPHANS) set.delete(set.values().next().value!);
  }

  private remember(key: string, versionId: string, record: LockRecord): void {
    this.records.set(cacheKey(key, versionId), record);
  }

  private newRecord(kind: LockRecord['kind'], lease: LeaseRequest, fencingToken: number): LockRecord {
    return {
      kind,
      leaseId: lease.leaseId,
      ownerId: lease.ownerId,
      ttlMs: lease.ttlMs,
      fencingToken: Math.max(1, fencingToken),
      nonce: uuidv4(),
      host: this.options.host,
      pid: this.options.pid,
      managerId: this.options.managerId,
    };
  }

  /** A tombstone ending another lease (takeover, force release): names that lease, written by us. */
  private tombstoneFor(ended: LockRecord, fencingToken: number): LockRecord {
    return { ...ended, kind: 'release', fencingToken: Math.max(1, fencingToken), nonce: uuidv4(), host: this.options.host, pid: this.options.pid, managerId: this.options.managerId };
  }

  private notAcquired(state: VersionedState): AcquireResult {
    const owner = ownerOf(state);
    return notAcquiredResult(owner?.record, expiresAtServer(state, this.options.serverClockToleranceMs), this.gateway.serverClock);
  }

  private key(name: string): string {
    return versionedKey(this.options.prefix, name);
  }
}

/** A tombstone names this lease: it was released, taken over or force-released. */
function endedByTombstone(state: VersionedState, leaseId: string): boolean {
  return state.versions.some((v) => !isLive(v) && v.record.leaseId === leaseId);
}

function cacheKey(key: string, versionId: string): string {
  return `${key}\u0000${versionId}`;
}

/** Runs `task` for every item, at most {@link CONCURRENCY} at a time; rejects with the first error after all settled. */
async function forEachConcurrently<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let firstError: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    const results = await Promise.allSettled(items.slice(i, i + CONCURRENCY).map(task));
    for (const r of results) if (r.status === 'rejected' && !firstError) firstError = { error: r.reason };
  }
  if (firstError) throw firstError.error;
}
