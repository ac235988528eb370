import { v4 as uuidv4 } from 'uuid';
import { MAX_EPOCH, epochKey, epochOfKey } from './epoch-key';
import { S3LockBucketMissingError, S3LockCorruptRecordError, S3LockStoreError } from './errors';
import { holderOf, notAcquiredResult } from './holder-info';
import { lockKeyPrefix } from './lock-name';
import { generationBase, generationFolder, generationFromMetadata, generationKey, generationOfFolder, generationToMetadata, type LogGeneration } from './log-generation';
import type { AcquireResult, LeaseRequest, LockProtocol, ProtocolLease, RenewResult } from './lock-protocol';
import { recordFromMetadata, recordToMetadata, type LockRecord } from './lock-record';
import type { S3LockState } from './lock-types';
import type { HeadResult, KeyPage, S3Gateway } from './s3-gateway';
import { sleep } from './async-tools';
import { BoundedCache } from './bounded-cache';
import type { CreateOnlyGuard } from './create-only-guard';
import type { DeclarationCheck } from './declaration-check';
import type { MonotonicClock } from './server-clock';

/** HTTP dates have 1 s resolution: a record dated D was written before D + 1 s. */
export const DATE_RESOLUTION_MS = 1_000;

/**
 * A view younger than this (local monotonic clock) may be used to create the next epoch directly.
 * Garbage collection never deletes records younger than `gcHorizonMs` (at least 5 minutes), so a
 * record created after a fresh view was taken can never have been deleted: a create based on it
 * cannot resurrect a deleted epoch.
 */
export const VIEW_MAX_AGE_MS = 30_000;

/** Garbage collection is attempted when a lease's records cross a multiple of this epoch count. */
export const GC_EVERY_EPOCHS = 64;

/** Walk at most this many epochs forward with GET before falling back to one LIST. */
const MAX_WALK = 3;
/** Generation ids whose first read this manager remembers (a forgotten one just costs one more declaration check). */
const GENERATIONS_REMEMBERED = 4_096;
/** How long a generation's first read is remembered (docs/protocol.md, "Memory per lock name"). */
export const GENERATION_SEEN_MAX_AGE_MS = 600_000;
/** Names whose view (and whose last garbage collection) this manager keeps at most. */
export const NAMES_CACHED = 4_096;

/** Every record key of a lock sorts after `<lock prefix>` + this (15-digit keys): a cold read starts there. */
const BELOW_EVERY_RECORD = '0'.repeat(14);

/** The newest record of a lock as this process last saw it. */
interface View {
  readonly epoch: number;
  readonly record: LockRecord | undefined;
  /** Server Last-Modified of the record (ms, floored to the second), or undefined for our own writes. */
  readonly lastModifiedMs: number | undefined;
  /** Local monotonic time at which no epoch newer than `epoch` existed. */
  readonly confirmedAt: number;
  /**
   * Id of the log generation the view belongs to (undefined: the log has no generation record yet,
   * a read-only view). A grant needs the generation record to still carry this id after the write.
   */
  readonly generation: string | undefined;
}

export interface CreateOnlyProtocolOptions {
  readonly prefix: string;
  readonly host: string;
  readonly pid: number;
  /** This manager's id, written into its records. */
  readonly managerId?: string;
  readonly serverClockToleranceMs: number;
  readonly gcHorizonMs: number;
  readonly gcIntervalMs: number;
  /** How long nobody builds on a force release's record: the force release's generation PUT has landed by then. */
  readonly forcedSettleMs: number;
}

type WriteOutcome = { readonly mine: true; readonly sentAt: number } | { readonly mine: false; readonly view: View };

interface PendingGrant {
  readonly name: string;
  readonly epoch: number;
  readonly sentAt: number;
  readonly generation: string | undefined;
}

/**
 * The default protocol: an append-only log of immutable records per lock name, each created with
 * `If-None-Match: *` under the next epoch. See docs/protocol.md for the argument.
 */
export class CreateOnlyProtocol implements LockProtocol {
  readonly name = 'create-only' as const;
  /** The newest record of each lock as last seen; useless after {@link VIEW_MAX_AGE_MS}, so kept no longer. */
  private readonly views: BoundedCache<string, View>;
  /** When this process last collected each lock's garbage; useless after `gcIntervalMs`. */
  private readonly lastGc: BoundedCache<string, number>;
  /**
   * Per lease id: send time of the earliest write whose outcome is not settled yet (and the lock's
   * name). Never dropped by age or count: only once the lease's name is idle ({@link forget}).
   */
  private readonly unsettled = new Map<string, { readonly name: string; readonly sentAt: number }>();
  /**
   * Per name: the newest epoch this manager has seen or written, kept when its view is dropped (a
   * loss), so that a generation this manager creates starts above it (docs/protocol.md, record loss).
   */
  private readonly highestEpochs: BoundedCache<string, number>;
  /** Per generation id: when this manager first read it (a grant in it needs a declaration check sent later). */
  private readonly generationsSeen: BoundedCache<string, number>;
  /**
   * Per lease id: an acquire record (acquire or hand-off) we created whose generation check failed
   * (threw). The next attempt of that lease only repeats the check, granting from the original send.
   */
  private readonly pendingGrants = new Map<string, PendingGrant>();

  constructor(
    private readonly gateway: S3Gateway,
    private readonly options: CreateOnlyProtocolOptions,
    private readonly mono: MonotonicClock,
    /** Checks that the store still honours create-only writes (versioning switched on under us). */
    private readonly guard?: CreateOnlyGuard,
    /** Checks the prefix's declaration again where a loss of records can show (docs/protocol.md). */
    private readonly declaration?: DeclarationCheck,
  ) {
    this.views = new BoundedCache(NAMES_CACHED, VIEW_MAX_AGE_MS, mono);
    this.lastGc = new BoundedCache(NAMES_CACHED, options.gcIntervalMs, mono);
    this.generationsSeen = new BoundedCache(GENERATIONS_REMEMBERED, GENERATION_SEEN_MAX_AGE_MS, mono);
    this.highestEpochs = new BoundedCache(NAMES_CACHED, GENERATION_SEEN_MAX_AGE_MS, mono);
  }

  private setView(name: string, view: View): void {
    this.views.set(name, view);
    if (view.epoch > (this.highestEpochs.get(name) ?? 0)) this.highestEpochs.set(name, view.epoch);
  }

  /**
   * The lock `name` is idle in this manager (no lease, waiter, attempt or store operation): no write
   * of any of its lease ids can follow, so their unsettled send times and pending grants are dropped.
   */
  /** Drops the cached view of `name`: the next attempt reads the log (after a release sent from a lease past its deadline). */
  dropView(name: string): void {
    this.views.delete(name);
  }

  forget(name: string): void {
    for (const [leaseId, entry] of this.unsettled) if (entry.name === name) this.unsettled.delete(leaseId);
    for (const [leaseId, grant] of this.pendingGrants) if (grant.name === name) this.pendingGrants.delete(leaseId);
  }

  /** Entries kept per map, after dropping expired cache entries (tests and benchmarks). */
  retainedEntries(): Record<string, number> {
    return {
      'create-only views': this.views.size,
      'create-only lastGc': this.lastGc.size,
      'create-only generationsSeen': this.generationsSeen.size,
      'create-only highestEpochs': this.highestEpochs.size,
      'create-only unsettled': this.unsettled.size,
      'create-only pendingGrants': this.pendingGrants.size,
    };
  }

  tryAcquire(request: LeaseRequest): Promise<AcquireResult> {
    return this.dropViewOnMissingBucket(request.name, () => this.attemptAcquire(request));
  }

  private async attemptAcquire(request: LeaseRequest): Promise<AcquireResult> {
    const { name } = request;
    const pending = this.pendingGrants.get(request.leaseId);
    let view = this.views.get(name);
    let polled = false;
    if (pending && pending.name === name) {
      // Our own acquire record, created earlier, whose generation check could not be answered. It
      // grants only while it is still the newest record: a force release or a takeover may have
      // written above it meanwhile, and a grant below a newer epoch would hand out an older token
      // after newer ones. A cold read settles it (this fault path only). A grant whose deadline has
      // passed meanwhile is declared lost and released by the caller. The read's generation GET
      // comes after the write, so it is the record's generation check (a read that throws keeps
      // the record remembered for the next attempt).
      view = await this.loadView(name, true);
      this.pendingGrants.delete(request.leaseId);
      polled = true;
      if (view.epoch === pending.epoch && view.generation === pending.generation && isOwnAcquire(view.record, request)) {
        await this.declarationAgrees(name, pending.generation);
        return { acquired: true, lease: { ...request, fencingToken: pending.epoch, cursor: pending.epoch, generation: pending.generation }, sentAt: pending.sentAt };
      }
    }
    // A force release's record is never built on: read the generation again (it names the new one
    // as soon as the force release's second write has landed).
    if (!view || view.generation === undefined || this.mono.now() - view.confirmedAt > VIEW_MAX_AGE_MS || view.record?.forced === true) {
      view = await this.loadView(name, true);
      polled = true;
    }
    for (let round = 0; round < 4; round++) {
      if (view.record && (view.record.kind !== 'release' || view.record.forced === true) && view.lastModifiedMs === undefined) {
        view = await this.withLastModified(name, view);
      }
      if (!this.isFree(view)) {
        if (polled) return this.notAcquired(view);
        view = await this.advance(name, view);
        polled = true;
        continue;
      }
      const epoch = view.epoch + 1;
      const record = this.newRecord('acquire', request, epoch);
      const agreed = this.declarationAgrees(name, view.generation);
      const outcome = await this.write(name, epoch, record, view, 'acquire', view.generation);
      if (outcome.mine) {
        if (await this.checkGrant({ name, epoch, sentAt: outcome.sentAt, generation: view.generation }, request.leaseId)) {
          await agreed;
          const lease: ProtocolLease = { ...request, fencingToken: epoch, cursor: epoch, generation: view.generation };
          return { acquired: true, lease, sentAt: outcome.sentAt };
        }
        // The generation changed since the view was taken (records lost, or a force release): our
        // record is a leftover in the old generation's folder and grants nothing. Read the log
        // afresh (this creates the new generation after a loss) and compete in the new folder.
        view = await this.loadView(name, true);
        polled = true;
        continue;
      }
      // Someone else created that epoch; newer ones may exist too: allow one more poll.
      view = outcome.view;
      polled = false;
    }
    return this.notAcquired(view);
  }

  /**
   * Creates the next epoch as a renewal and, in parallel, reads the generation record: missing or
   * replaced (or the bucket missing) means the records were lost, and the lease with them. A create
   * that was applied while the generation read failed moves the cursor above it but extends
   * nothing (the error is thrown; the next renewal decides): its send time is never forgotten.
   */
  async renew(lease: ProtocolLease): Promise<RenewResult> {
    const { name } = lease;
    const epoch = lease.cursor + 1;
    const [written, read] = await Promise.allSettled([
      this.write(name, epoch, this.newRecord('renew', lease, lease.fencingToken), this.views.get(name), 'renew', lease.generation),
      this.readGeneration(name, 'renew'),
    ]);
    if (written.status === 'fulfilled' && written.value.mine) lease.cursor = epoch;
    const failure = read.status === 'rejected' ? (read.reason as unknown) : written.status === 'rejected' ? (written.reason as unknown) : undefined;
    if (failure instanceof S3LockBucketMissingError || (read.status === 'fulfilled' && read.value?.id !== lease.generation)) {
      this.views.delete(name);
      // a generation replaced by a force release: the operator ended the lease, nothing was lost
      if (read.status === 'fulfilled' && read.value?.forced) return { renewed: false, reason: 'taken-over' };
      this.declaration?.inBackground(name, 'renew');
      return { renewed: false, reason: 'records-lost' };
    }
    if (failure !== undefined) throw failure;
    const outcome = (written as PromiseFulfilledResult<WriteOutcome>).value;
    if (!outcome.mine) return { renewed: false, reason: 'taken-over' };
    return { renewed: true, sentAt: outcome.sentAt };
  }

  /** Creates the next epoch as a release (no generation check: a release grants nothing). */
  async release(lease: ProtocolLease): Promise<void> {
    await this.dropViewOnMissingBucket(lease.name, async () => {
      for (let step = 0; step < MAX_WALK; step++) {
        const epoch = lease.cursor + 1;
        const outcome = await this.write(lease.name, epoch, this.newRecord('release', lease, lease.fencingToken), this.views.get(lease.name), 'release', lease.generation);
        if (outcome.mine) {
          lease.cursor = epoch;
          return;
        }
        // Taken over: nothing to release. A late renewal of this lease: release above it.
        if (!isLateRenewalOf(outcome.view.record, lease)) return;
        lease.cursor = epoch;
      }
    });
  }

  async handOff(lease: ProtocolLease, next: LeaseRequest): Promise<AcquireResult> {
    return this.dropViewOnMissingBucket(lease.name, async () => {
      let outcome: WriteOutcome | undefined;
      for (let step = 0; step < MAX_WALK; step++) {
        const epoch = lease.cursor + 1;
        outcome = await this.write(lease.name, epoch, this.newRecord('acquire', next, epoch), this.views.get(lease.name), 'acquire', lease.generation);
        if (outcome.mine) {
          lease.cursor = epoch;
          if (!(await this.checkGrant({ name: lease.name, epoch, sentAt: outcome.sentAt, generation: lease.generation }, next.leaseId))) return { acquired: false, holder: undefined, freeAt: undefined };
          return { acquired: true, lease: { ...next, fencingToken: epoch, cursor: epoch, generation: lease.generation }, sentAt: outcome.sentAt };
        }
        // A late renewal of this lease: hand off above it.
        if (!isLateRenewalOf(outcome.view.record, lease)) break;
        lease.cursor = epoch;
      }
      return this.notAcquired((outcome as Extract<WriteOutcome, { mine: false }>).view);
    });
  }

  async inspect(name: string): Promise<S3LockState> {
    let view = await this.loadView(name, false);
    if (view.record && view.lastModifiedMs === undefined) view = await this.withLastModified(name, view);
    const record = view.record;
    const expiresAt = this.expiresAtServer(view);
    let acquiredAt: Date | undefined;
    if (record && record.kind !== 'release') {
      if (record.fencingToken === view.epoch) acquiredAt = view.lastModifiedMs === undefined ? undefined : new Date(view.lastModifiedMs);
      else {
        const first = await this.gateway.head(this.key(name, view.generation, record.fencingToken), name, 'inspect');
        if (first.found) acquiredAt = new Date(first.lastModifiedMs);
      }
    }
    return {
      name,
      protocol: 'create-only',
      held: !this.isFree(view),
      holder: record && holderOf(record, expiresAt),
      acquiredAt,
      lastWriteAt: view.lastModifiedMs === undefined ? undefined : new Date(view.lastModifiedMs),
      expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt),
      serverTime: new Date(this.gateway.serverClock.nowLowerBound() ?? Date.now()),
      epoch: view.epoch,
    };
  }

  /**
   * Ends the current lease: creates a release record above the newest record (which wakes every
   * waiter's poll; marked, so that nobody builds on it), then replaces the generation record (a
   * plain PUT: new id, base at or above that release, marked `forced`). The holder learns it at its
   * next renewal (`taken-over`); a claim of the old generation whose generation check is answered
   * after the replacement is not granted, and no claim is made on the marked record, so no token is
   * handed out twice or after a newer one (docs/protocol.md, "Force release").
   */
  async forceRelease(name: string): Promise<boolean> {
    return this.dropViewOnMissingBucket(name, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        let view = await this.loadView(name, false);
        let held = view.record;
        if (view.generation === undefined || !held) return false;
        if (held.forced === true) {
          // Another force release's record: in progress until its mark expires, when its generation
          // PUT has landed or failed. Wait, and read again (docs/protocol.md, "Force release").
          if (view.lastModifiedMs === undefined) view = await this.withLastModified(name, view);
          const expiresAt = this.expiresAtServer(view);
          if (expiresAt === undefined || !this.isFree(view)) {
            const waitMs = expiresAt === undefined ? this.options.forcedSettleMs : Math.max(0, this.gateway.serverClock.monotonicAt(expiresAt) - this.mono.now());
            await sleep(Math.min(waitMs, this.options.forcedSettleMs + 2_000) + 10);
            continue;
          }
          held = view.record!;
        }
        // an earlier force release whose second write did not land (its mark expired): finish it
        const unfinished = held.forced === true;
        if (held.kind === 'release' && !unfinished) return false;
        const epoch = unfinished ? view.epoch : view.epoch + 1;
        if (!unfinished) {
          // marked, and held for forcedSettleMs: nobody builds on it before the generation is replaced
          const record: LockRecord = { ...held, kind: 'release', forced: true, ttlMs: this.options.forcedSettleMs, nonce: uuidv4(), host: this.options.host, pid: this.options.pid, managerId: this.options.managerId };
          const outcome = await this.write(name, epoch, record, view, 'force release', view.generation);
          if (!outcome.mine) continue;
        }
        const serverNow = this.gateway.serverClock.nowLowerBound();
        if (serverNow === undefined) throw new S3LockStoreError(name, 'force release', undefined, new Error('the store sent no Date header: cannot derive a generation base'), this.gateway.context());
        const generation: LogGeneration = { id: uuidv4(), base: generationBase(serverNow, epoch), forced: true };
        this.views.delete(name);
        this.guard?.assertTrusted();
        await this.gateway.put(generationKey(lockKeyPrefix(this.options.prefix, name)), generationToMetadata(generation), name, 'force release');
        return true;
      }
      throw new S3LockStoreError(name, 'force release', undefined, new Error('the lock kept changing; try again'), this.gateway.context());
    });
  }

  /**
   * Deletes records at least two epochs behind the newest known one and older than the GC horizon
   * (server time). Runs in the background after a release whose lease's records crossed a multiple
   * of {@link GC_EVERY_EPOCHS} (so the work is shared by every process and idle locks cost nothing),
   * at most once per `gcIntervalMs` per name and process.
   */
  async collectGarbage(name: string, lease?: ProtocolLease): Promise<void> {
    const { gcHorizonMs, gcIntervalMs } = this.options;
    const view = this.views.get(name);
    const now = this.mono.now();
    const last = this.lastGc.get(name);
    if (gcHorizonMs === 0 || !view || view.epoch < 3 || (last !== undefined && now - last < gcIntervalMs)) return;
    if (lease && Math.floor(lease.fencingToken / GC_EVERY_EPOCHS) === Math.floor(lease.cursor / GC_EVERY_EPOCHS)) return;
    this.lastGc.set(name, now);
    const serverNow = this.gateway.serverClock.nowLowerBound();
    if (serverNow === undefined) return;
    const cutoff = serverNow - gcHorizonMs;
    if (view.generation === undefined) return;
    // Which generation is current comes from the store, never from the view: a release writes no
    // generation check, so the view of a lease that missed a force release or a loss is of an older
    // generation, and taking it for the current one would collect the current folder's newest
    // records. A folder created after this GET holds only records younger than the horizon.
    const generation = await this.readGeneration(name, 'garbage collection');
    if (!generation) return;
    const lockPrefix = lockKeyPrefix(this.options.prefix, name);
    const current = generationFolder(lockPrefix, generation.id);
    const doomed: Array<{ key: string }> = [];
    // The current generation's folder (only when the view is of it: its epoch bounds what may go):
    // direct children only, epochs <= newest - 2, newest first.
    if (view.generation === generation.id) await this.collectRecordKeys(name, current, epochKey(current, view.epoch - 1), cutoff, doomed);
    // The lock's folder: records of versions without generation folders, and the folders of older
    // generations (leftovers, never read). Another manager's keys below the folder are common
    // prefixes that are not generation folders, and are never touched.
    const older: string[] = [];
    // (no StartAfter: generation folders start with ".", which sorts before the digits)
    await this.collectRecordKeys(name, lockPrefix, undefined, cutoff, doomed, (folder) => {
      if (folder !== current && generationOfFolder(lockPrefix, folder) !== undefined) older.push(folder);
    });
    for (const folder of older) await this.collectRecordKeys(name, folder, folder + BELOW_EVERY_RECORD, cutoff, doomed);
    if (doomed.length > 0) await this.gateway.deleteMany(doomed, name, 'garbage collection');
  }

  /**
   * Adds the 15-digit record keys among `folder`'s direct children that sort after `startAfter`
   * and were last modified before `cutoff` (server time) to `doomed`; hands each common prefix to
   * `onFolder`. Never the generation record, never anything nested below.
   */
  private async collectRecordKeys(name: string, folder: string, startAfter: string | undefined, cutoff: number, doomed: Array<{ key: string }>, onFolder?: (prefix: string) => void): Promise<void> {
    let page: KeyPage | undefined;
    do {
      page = await this.gateway.list(folder, 1000, name, 'garbage collection', {
        delimiter: '/',
        ...(page ? { continuationToken: page.nextContinuationToken } : { startAfter }),
      });
      for (const k of page.keys) {
        if (epochOfKey(folder, k.key) !== undefined && k.lastModifiedMs < cutoff) doomed.push({ key: k.key });
      }
      for (const p of page.commonPrefixes) onFolder?.(p);
    } while (page.truncated && page.nextContinuationToken !== undefined);
  }

  private newRecord(kind: LockRecord['kind'], lease: LeaseRequest, fencingToken: number): LockRecord {
    return {
      kind,
      leaseId: lease.leaseId,
      ownerId: lease.ownerId,
      ttlMs: lease.ttlMs,
      fencingToken,
      nonce: uuidv4(),
      host: this.options.host,
      pid: this.options.pid,
      managerId: this.options.managerId,
    };
  }

  /**
   * Creates `epoch` with `record`. A 412, 409, 5xx or timeout is resolved by reading the key back:
   * our nonce means our write (perhaps a retried one) won; so does a record of the same lease and
   * kind, left by an earlier call whose outcome could not be settled. The send time returned (from
   * which the holder's deadline counts) is the earliest unsettled send for this lease, so a record
   * written by an earlier attempt never makes the deadline later than it may be.
   */
  private async write(name: string, epoch: number, record: LockRecord, before: View | undefined, operation: string, generation: string | undefined): Promise<WriteOutcome> {
    if (generation === undefined) throw new S3LockStoreError(name, operation, undefined, new Error('no generation to write into (a read-only view)'), this.gateway.context());
    const key = this.key(name, generation, epoch);
    const metadata = recordToMetadata(record);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.guard?.assertTrusted();
      this.declaration?.assertAgreed();
      const out = await this.gateway.createIfAbsent(key, metadata, name, operation);
      // A force release writes under the held lease's id: it must not touch that lease's bookkeeping.
      const own = record.forced !== true;
      if (own && !this.unsettled.has(record.leaseId)) this.unsettled.set(record.leaseId, { name, sentAt: out.sentAt });
      const sentAt = (): number => {
        if (!own) return out.sentAt;
        const since = this.unsettled.get(record.leaseId)?.sentAt ?? out.sentAt;
        this.unsettled.delete(record.leaseId);
        return Math.min(since, out.sentAt);
      };
      if (out.kind === 'created') {
        await this.guard?.confirm(out.versionId);
        this.setView(name, { epoch, record, lastModifiedMs: undefined, confirmedAt: out.sentAt, generation });
        return { mine: true, sentAt: sentAt() };
      }
      if (out.kind === 'unknown') lastError = out.error;
      const head = await this.headSettling(key, name, operation);
      if (head.found) {
        const found = recordFromMetadata(name, key, head.metadata);
        if (isOwnWrite(found, record)) {
          await this.guard?.confirm(head.versionId);
          this.setView(name, { epoch, record: found, lastModifiedMs: head.lastModifiedMs, confirmedAt: out.sentAt, generation });
          return { mine: true, sentAt: sentAt() };
        }
        // Someone else created this epoch after `before` was confirmed: `before.confirmedAt` still bounds its age.
        if (own) this.unsettled.delete(record.leaseId);
        const view: View = { epoch, record: found, lastModifiedMs: head.lastModifiedMs, confirmedAt: before?.confirmedAt ?? out.sentAt, generation };
        this.setView(name, view);
        return { mine: false, view };
      }
      // Not there: our write was not applied (unknown outcome), or a 412 for a key that vanished. Try again.
    }
    throw new S3LockStoreError(name, operation, undefined, lastError ?? new Error(`could not settle the outcome of creating ${key}`), this.gateway.context(lastError));
  }

  /** HEAD for settling an unknown outcome: a few tries with back-off before giving up. */
  private async headSettling(key: string, name: string, operation: string): Promise<HeadResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.gateway.head(key, name, operation);
      } catch (error) {
        const status = (error as S3LockStoreError).storeStatusCode;
        const transient = status === undefined || status === 409 || status === 429 || status >= 500;
        if (!transient || attempt >= 3) throw error;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /**
   * Reads the log: the newest record (one LIST of the lock's direct children, MaxKeys=1, then one
   * HEAD) and, in parallel, the generation record. Records at or below the generation's base do not
   * count. A missing generation record is created when `create` is set (acquisitions); otherwise
   * (inspect, force release) the view has no generation and shows no holder.
   */
  private async loadView(name: string, create: boolean): Promise<View> {
    const lockPrefix = lockKeyPrefix(this.options.prefix, name);
    for (let attempt = 0; attempt < 3; attempt++) {
      // With a generation id known from an older view, its folder is listed in parallel with the
      // GET; the listing is used only if the GET shows that same generation.
      const previous = this.views.get(name);
      const guess = previous?.generation;
      const [found, guessed] = await Promise.all([
        this.readGenerationAnswer(name, 'read'),
        guess === undefined ? undefined : this.newestRecordKey(name, generationFolder(lockPrefix, guess)),
      ]);
      let generation = found.generation;
      let createdNow = false;
      if (!generation && create) {
        const made = await this.createGeneration(name, Math.max(previous?.epoch ?? 0, this.highestEpochs.get(name) ?? 0), found.missingAtMs);
        generation = made.generation;
        createdNow = made.created;
      }
      if (!generation) return { epoch: 0, record: undefined, lastModifiedMs: undefined, confirmedAt: this.mono.now(), generation: undefined }; // read-only: nothing counts
      this.generationSeen(generation.id);
      // A generation created by this read has an empty folder: nothing to list.
      const listed = createdNow
        ? { newest: undefined, sentAt: found.sentAt }
        : guessed !== undefined && guess === generation.id
          ? guessed
          : await this.newestRecordKey(name, generationFolder(lockPrefix, generation.id));
      const generationId = generation.id;
      const empty = (epoch: number): View => ({ epoch, record: undefined, lastModifiedMs: undefined, confirmedAt: listed.sentAt, generation: generationId });
      const newest = listed.newest;
      if (!newest || newest.epoch <= generation.base) {
        const view = empty(generation.base);
        this.setView(name, view);
        return view;
      }
      const head = await this.gateway.head(newest.key, name, 'read');
      if (!head.found) continue; // collected or lost between LIST and HEAD: read again
      const view: View = {
        epoch: newest.epoch,
        record: recordFromMetadata(name, newest.key, head.metadata),
        lastModifiedMs: head.lastModifiedMs,
        confirmedAt: listed.sentAt,
        generation: generation.id,
      };
      this.setView(name, view);
      return view;
    }
    throw new S3LockStoreError(name, 'read', undefined, new Error('the newest record kept disappearing between LIST and HEAD'), this.gateway.context());
  }

  /**
   * The newest record key among a generation folder's direct children (Delimiter "/": anything
   * nested below is rolled up and never counts). The first page has one entry; only when that entry
   * is not a record does the read follow the listing.
   */
  private async newestRecordKey(name: string, folder: string): Promise<{ newest: { key: string; epoch: number } | undefined; sentAt: number }> {
    let page = await this.gateway.list(folder, 1, name, 'read', { delimiter: '/', startAfter: folder + BELOW_EVERY_RECORD });
    const sentAt = page.sentAt;
    for (;;) {
      for (const k of page.keys) {
        const epoch = epochOfKey(folder, k.key);
        if (epoch !== undefined) return { newest: { key: k.key, epoch }, sentAt };
      }
      if (!page.truncated || page.nextContinuationToken === undefined) return { newest: undefined, sentAt };
      page = await this.gateway.list(folder, 1000, name, 'read', { delimiter: '/', continuationToken: page.nextContinuationToken });
    }
  }

  /** The generation record (GET: a missing bucket is an error, never "no generation"). */
  private async readGeneration(name: string, operation: string): Promise<LogGeneration | undefined> {
    return (await this.readGenerationAnswer(name, operation)).generation;
  }

  /** The generation record, or (missing) the `Date` of the store's answer that showed it missing. */
  private async readGenerationAnswer(name: string, operation: string): Promise<{ generation: LogGeneration | undefined; missingAtMs: number | undefined; sentAt: number }> {
    const key = generationKey(lockKeyPrefix(this.options.prefix, name));
    const sentAt = this.mono.now();
    const got = await this.gateway.get(key, name, operation);
    return got.found
      ? { generation: generationFromMetadata(name, key, got.metadata), missingAtMs: undefined, sentAt }
      : { generation: undefined, missingAtMs: got.dateMs, sentAt };
  }

  /**
   * Creates the generation record of a log that has none (never used, or its records were lost),
   * with a base from the server clock: the later of the clock's lower bound and the earlier of the
   * `Date`s of two answers that showed the record missing (`missingAtMs` and one more GET): the
   * bound may lag a forward step of the store's clock, which those answers cannot, and one answer
   * of a skewed node cannot lift the base alone (docs/protocol.md, assumption R). At least the
   * newest epoch this manager has seen of the lock. Whoever wins the create, the one record that
   * exists is adopted (`created` false: its folder may hold records already).
   */
  private async createGeneration(name: string, knownEpoch: number, missingAtMs: number | undefined): Promise<{ generation: LogGeneration; created: boolean }> {
    const key = generationKey(lockKeyPrefix(this.options.prefix, name));
    let lastError: unknown;
    let previousMissingAtMs = missingAtMs;
    for (let attempt = 0; attempt < 3; attempt++) {
      // A second answer: the base takes the earlier of two answers' dates, so that one answer of
      // a skewed node cannot lift it (docs/protocol.md, record loss). After a create that did not
      // succeed it is also the read-back. Someone (or our own create whose answer was lost) may
      // have created the record meanwhile: adopt it; its folder is listed.
      const answer = await this.readGenerationAnswer(name, 'read');
      if (answer.generation) return { generation: answer.generation, created: false };
      const missingAt = previousMissingAtMs === undefined || answer.missingAtMs === undefined ? undefined : Math.min(previousMissingAtMs, answer.missingAtMs);
      previousMissingAtMs = answer.missingAtMs;
      const bound = this.gateway.serverClock.nowLowerBound();
      const serverNow = bound === undefined ? missingAt : missingAt === undefined ? bound : Math.max(bound, missingAt);
      if (serverNow === undefined) throw new S3LockStoreError(name, 'read', undefined, new Error('the store sent no Date header: cannot derive a generation base'), this.gateway.context());
      const generation: LogGeneration = { id: uuidv4(), base: generationBase(serverNow, knownEpoch) };
      const out = await this.gateway.createIfAbsent(key, generationToMetadata(generation), name, 'read');
      if (out.kind === 'created') return { generation, created: true };
      if (out.kind === 'unknown') lastError = out.error;
    }
    const existing = await this.readGeneration(name, 'read');
    if (existing) return { generation: existing, created: false };
    throw new S3LockStoreError(name, 'read', undefined, lastError ?? new Error(`could not create or read ${key}`), this.gateway.context());
  }

  /**
   * A grant in a generation needs a declaration check sent after this manager first read it (the
   * records and the declaration may have been lost before it was created). Runs in parallel with
   * the acquire's write; resolves at once when a later check passed already.
   */
  private declarationAgrees(name: string, generation: string | undefined): Promise<void> {
    if (!this.declaration || generation === undefined) return Promise.resolve();
    const agreed = this.declaration.passedAfter(this.generationSeen(generation), name, 'acquire');
    agreed.catch(() => undefined); // awaited before a grant; a write that fails first leaves it unread
    return agreed;
  }

  /** When this manager first read generation `id` (now, if it was never noted or was forgotten). */
  private generationSeen(id: string): number {
    let at = this.generationsSeen.touch(id);
    if (at === undefined) {
      at = this.mono.now();
      this.generationsSeen.set(id, at);
    }
    return at;
  }

  /**
   * The generation check of a created acquire record; while it cannot be answered (it throws), the
   * record is remembered for the lease's next attempt, so that attempt neither waits for its own
   * record to expire nor forgets the original send time.
   */
  private async checkGrant(grant: PendingGrant, leaseId: string): Promise<boolean> {
    this.pendingGrants.set(leaseId, grant);
    const still = await this.stillGeneration(grant.name, grant.generation, 'acquire');
    this.pendingGrants.delete(leaseId);
    return still;
  }

  /** After a granting write: does the generation record still carry the id the write was based on? */
  private async stillGeneration(name: string, expected: string | undefined, operation: string): Promise<boolean> {
    const current = await this.readGeneration(name, operation);
    if (expected !== undefined && current?.id === expected) return true;
    this.views.delete(name);
    return false;
  }

  /** Runs `task`; a missing bucket drops the cached view first, so nothing is ever confirmed by it. */
  private async dropViewOnMissingBucket<T>(name: string, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (error instanceof S3LockBucketMissingError) this.views.delete(name);
      throw error;
    }
  }

  /**
   * Polls for newer epochs with GET (NoSuchKey = nothing changed; NoSuchBucket is an error, never a
   * confirmation), falling back to LIST after a few.
   */
  private async advance(name: string, start: View): Promise<View> {
    let view = start;
    for (let step = 0; step < MAX_WALK; step++) {
      const key = this.key(name, view.generation, view.epoch + 1);
      const sentAt = this.mono.now();
      const head = await this.gateway.get(key, name, 'poll');
      if (!head.found) {
        view = { ...view, confirmedAt: sentAt };
        this.setView(name, view);
        return view;
      }
      view = { epoch: view.epoch + 1, record: recordFromMetadata(name, key, head.metadata), lastModifiedMs: head.lastModifiedMs, confirmedAt: view.confirmedAt, generation: view.generation };
    }
    return this.loadView(name, true);
  }

  private async withLastModified(name: string, view: View): Promise<View> {
    const key = this.key(name, view.generation, view.epoch);
    const head = await this.gateway.head(key, name, 'read');
    if (!head.found) return this.loadView(name, view.generation !== undefined);
    const updated = { ...view, lastModifiedMs: head.lastModifiedMs };
    this.setView(name, updated);
    return updated;
  }

  /** Server time from which the record's lease can be taken over, or undefined if the lock is not held. */
  private expiresAtServer(view: View): number | undefined {
    const r = view.record;
    if (!r || (r.kind === 'release' && r.forced !== true) || view.lastModifiedMs === undefined) return undefined;
    return view.lastModifiedMs + DATE_RESOLUTION_MS + r.ttlMs + this.options.serverClockToleranceMs;
  }

  private isFree(view: View): boolean {
    if (!view.record || (view.record.kind === 'release' && view.record.forced !== true)) return true;
    const expiresAt = this.expiresAtServer(view);
    const serverNow = this.gateway.serverClock.nowLowerBound();
    return expiresAt !== undefined && serverNow !== undefined && serverNow >= expiresAt;
  }

  private notAcquired(view: View): AcquireResult {
    return notAcquiredResult(view.record, this.expiresAtServer(view), this.gateway.serverClock);
  }

  /**
   * Key of `epoch`. Past {@link MAX_EPOCH} the key format ends: a record at the last key (planted,
   * since real tokens start from a time-derived base far below it) makes the lock unusable, a
   * permanent error naming that record, never a bare `RangeError` retried as a store failure.
   */
  private key(name: string, generation: string | undefined, epoch: number): string {
    if (generation === undefined) throw new S3LockStoreError(name, 'read', undefined, new Error('no generation to read records from'), this.gateway.context());
    const folder = generationFolder(lockKeyPrefix(this.options.prefix, name), generation);
    if (epoch > MAX_EPOCH) {
      throw new S3LockCorruptRecordError(name, epochKey(folder, MAX_EPOCH), `it holds epoch ${MAX_EPOCH}, the largest the key format allows: the lock cannot advance past it`, this.gateway.bucket);
    }
    return epochKey(folder, epoch);
  }
}

/**
 * Whether `found`, read back after a create that did not report success, is this write: its nonce,
 * or an earlier write of the same step (same lease, kind and owner) with the same force-release
 * mark. A force release's record copies the lease it ends, so without the mark the holder's own
 * release would pass for the force release's record (docs/protocol.md, "Force release").
 */
function isOwnWrite(found: LockRecord, record: LockRecord): boolean {
  if (found.nonce === record.nonce) return true;
  // A marked record is only ever one's own by its nonce: two force releases of one lease write the
  // same lease, owner, kind and mark.
  if (record.forced === true || found.forced === true) return false;
  return found.leaseId === record.leaseId && found.kind === record.kind && found.ownerId === record.ownerId;
}

/** An acquire record of the lease `request` asks for (written by this or an earlier attempt of it). */
function isOwnAcquire(record: LockRecord | undefined, request: LeaseRequest): boolean {
  return record !== undefined && record.kind === 'acquire' && record.leaseId === request.leaseId && record.ownerId === request.ownerId;
}

/**
 * A renewal of `lease` found where the lease's next record was to go: a renewal whose outcome this
 * process could not settle (it gave up on it) and that was applied later. The lease still owns
 * the lock through it, so a release or hand-off goes in the epoch after it.
 */
function isLateRenewalOf(record: LockRecord | undefined, lease: ProtocolLease): boolean {
  return record !== undefined && record.kind === 'renew' && record.leaseId === lease.leaseId && record.ownerId === lease.ownerId;
}
