import { KeepAlive, Notifier, SerialQueue, jitter, unrefTimeout } from './async-tools';
import { S3LockClosedError, S3LockStoreError, S3LockTimeoutError, type S3LockHolderInfo, type S3LockStoreErrorContext } from './errors';
import { Lease, asError, type LeaseHost } from './lease';
import type { LockEvents } from './lock-events';
import type { AcquireResult, LeaseRequest, LockProtocol, ProtocolLease } from './lock-protocol';
import { BACKGROUND, RELEASE, type RequestSlots, type SlotPriority } from './request-slots';
import type { MonotonicClock } from './server-clock';

/** What a queue needs from its manager. */
export interface QueueHost {
  readonly mono: MonotonicClock;
  readonly events: LockEvents;
  readonly maxPollIntervalMs: number;
  /** Time limit of one single attempt (the manager's `requestTimeoutMs`). */
  readonly attemptTimeoutMs: number;
  /** Bucket, prefix and endpoint, for errors. */
  storeContext(): S3LockStoreErrorContext;
  /** The manager's budget of store operations in flight, shared by all its lock names. */
  readonly slots: RequestSlots;
  /** This process's host name and the manager's id: how a local holder is named. */
  readonly self: { readonly host: string; readonly managerId: string };
  protocol(): Promise<LockProtocol>;
  safetyMarginFor(ttlMs: number): number;
  /** Garbage collection in the background after a release. */
  afterRelease(name: string, lease: ProtocolLease): void;
  /** The queue has nothing left to do (see {@link LockQueue.isIdle}): the manager may drop it. */
  idle(queue: LockQueue): void;
}

interface Waiter {
  readonly request: LeaseRequest;
  readonly startedAt: number;
  resolve(lease: Lease): void;
  reject(error: unknown): void;
  done: boolean;
}

/**
 * A release hands the lock to a local waiter directly at most this many times in a row; then it
 * writes a real release and local waiters stand aside for a poll interval (plus
 * {@link YIELD_EXTRA_MS}), so that one busy process cannot starve the others.
 */
export const MAX_LOCAL_HAND_OFFS = 8;
const YIELD_EXTRA_MS = 100;

/** The answer of an attempt that was never sent (its caller had given up before its turn came). */
const NOT_SENT: AcquireResult = { acquired: false, holder: undefined, freeAt: undefined };

/** Polls start this fast and back off to `maxPollIntervalMs`. */
const FIRST_POLL_MS = 50;

/**
 * Everything one manager does for one lock name: store operations run one at a time, the lease
 * held by a local instance, and the local waiters. Waiters share one poller (a HEAD per poll,
 * whatever their number) and a release hands the lock straight to the next local waiter.
 */
export class LockQueue {
  private readonly serialQueue = new SerialQueue();
  private readonly wake = new Notifier();
  private readonly waiters: Waiter[] = [];
  /** Held while at least one waiter waits: a pending acquire() keeps the process alive. */
  private readonly keepAlive = new KeepAlive();
  private pumping = false;
  private closed = false;
  /** Releases in progress: the poller stands aside so the release can hand the lock over. */
  private releasing = 0;
  /** Consecutive hand-offs to local waiters, and until when local waiters stand aside after a run of them. */
  private localHandOffs = 0;
  private yieldUntil = 0;
  /** The poller's run, and releases of leases nobody wanted any more: `close()` waits for them. */
  private pumpRun: Promise<void> | undefined;
  private readonly strayReleases = new Set<Promise<void>>();
  /** Single attempts and releases (which may hand off) in flight: `close()` waits for them. */
  private readonly tracked = new Set<Promise<void>>();
  /** Store operations queued or running, single attempts in progress, and leases' work after they ended. */
  private inFlight = 0;
  private attempts = 0;
  private readonly afterEnd = new Set<Promise<void>>();
  private lastHolder: S3LockHolderInfo | undefined;
  /** The live lease held by an instance of this manager, if any. */
  holder: Lease | undefined;

  private readonly leaseHost: LeaseHost;

  constructor(
    readonly name: string,
    private readonly host: QueueHost,
  ) {
    this.leaseHost = {
      mono: host.mono,
      events: host.events,
      protocol: () => host.protocol(),
      serial: (task, priority) => this.serial(task, priority),
      slots: host.slots,
      leaseEnded: (lease) => {
        if (this.holder === lease) this.holder = undefined;
        this.wake.notify();
        this.checkIdle();
      },
      track: (work) => {
        this.afterEnd.add(work);
        void work.finally(() => {
          this.afterEnd.delete(work);
          this.checkIdle();
        });
      },
    };
  }

  /** The protocol; a store failure while choosing it names this lock. */
  private async protocol(): Promise<LockProtocol> {
    try {
      return await this.host.protocol();
    } catch (error) {
      throw error instanceof S3LockStoreError ? error.forLock(this.name) : error;
    }
  }

  /**
   * Runs a store operation of this lock name: within the manager's budget of operations in flight
   * ({@link RequestSlots}), in the order of `priority`, and then one at a time per name. The slot
   * comes first, so that an operation waiting for a slot never holds up a more urgent one of the
   * same name (a renewal behind an attempt that started before the lease was granted); a task
   * waiting for its name's turn holds a slot, and the task whose turn it is holds one and runs.
   */
  serial<T>(task: () => Promise<T>, priority: SlotPriority = BACKGROUND): Promise<T> {
    this.inFlight++;
    const run = this.host.slots.run(priority, () => this.serialQueue.run(task));
    const done = (): void => {
      this.inFlight--;
      this.checkIdle();
    };
    run.then(done, done);
    return run;
  }

  /**
   * Nothing of this lock is left in the queue: no lease (live or ending), no waiter, no attempt and
   * no store operation queued or running. Nothing can then use the queue's state, and no write of
   * any lease id it handed out can follow: the manager drops the queue (a later call makes a new one).
   */
  get isIdle(): boolean {
    return (
      this.holder === undefined &&
      this.waiters.length === 0 &&
      !this.pumping &&
      this.releasing === 0 &&
      this.strayReleases.size === 0 &&
      this.afterEnd.size === 0 &&
      this.inFlight === 0 &&
      this.attempts === 0
    );
  }

  /**
   * Tells the manager once the queue is idle, judged after the current synchronous run (code that
   * ends one step and starts the next in the same run, such as a renewal's clean-up after its
   * loss, keeps the queue).
   */
  private checkIdle(): void {
    queueMicrotask(() => {
      if (this.isIdle) this.host.idle(this);
    });
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * One attempt without waiting: a lease, or the holder seen. No request at all while a local lease
   * is live. An attempt that `close()` overtook throws {@link S3LockClosedError}; if it won, its
   * lease is released, never handed out.
   */
  tryOnce(request: LeaseRequest): Promise<Lease | S3LockHolderInfo | undefined> {
    this.assertOpen();
    return this.track(async () => {
      this.attempts++;
      try {
        // Held here: the answer needs no request, and must not wait for a request slot, where it
        // would hold up this very lease's renewal behind it (operations on a name run one at a time).
        if (this.holder?.isLive) {
          this.localHolderResult(); // sets lastHolder
          return this.lastHolder;
        }
        // the limit covers choosing the protocol too (the probe, at first use)
        const result = await this.withinAttemptTime((late) =>
          this.protocol().then((protocol) =>
            this.serial(async () => {
              this.assertOpen();
              if (this.holder?.isLive) return this.localHolderResult();
              // The caller already had its answer (the time limit) while this attempt waited for a
              // request slot: nothing was sent, so nothing can have been won. Do not send it now,
              // when it would only add load to a store or manager that is behind.
              if (late()) return NOT_SENT;
              if (request.attempts) request.attempts.count++;
              return protocol.tryAcquire(request);
            }),
          ),
        );
        if (result.acquired) {
          const lease = this.grant(result);
          this.assertOpen();
          return lease;
        }
        this.lastHolder = result.holder;
        return result.holder;
      } finally {
        this.attempts--;
        this.checkIdle();
      }
    });
  }

  /**
   * The answer of a single attempt within {@link QueueHost.attemptTimeoutMs} (one request timeout
   * for the whole attempt, not one per request in series). Past it the caller gets a
   * {@link S3LockStoreError} and the attempt goes on in the background: a lease it wins is
   * released, never handed out, and an error it meets is reported as a `storeError` event.
   * `close()` waits for it.
   */
  private withinAttemptTime(start: (late: () => boolean) => Promise<AcquireResult>): Promise<AcquireResult> {
    const limitMs = this.host.attemptTimeoutMs;
    return new Promise<AcquireResult>((resolve, reject) => {
      let late = false;
      const run = start(() => late);
      const cancel = unrefTimeout(() => {
        late = true;
        const background = run
          .then(
            (result) => {
              if (result.acquired) this.releaseUnwanted(result.lease);
            },
            (error: unknown) => {
              if (!(error instanceof S3LockClosedError)) this.host.events.emit('storeError', { name: this.name, operation: 'acquire', error: asError(error) });
            },
          )
          .finally(() => {
            this.strayReleases.delete(background);
            this.checkIdle();
          });
        this.strayReleases.add(background);
        reject(
          new S3LockStoreError(
            this.name,
            'acquire',
            undefined,
            new Error(`no answer within requestTimeoutMs (${limitMs} ms): ${this.slowCause()}; an attempt already sent goes on in the background and releases anything it wins, one not yet sent is dropped`),
            { ...this.host.storeContext(), storeErrorCode: 'TimeoutError' },
          ),
        );
      }, limitMs);
      run.then(
        (result) => {
          if (late) return;
          cancel();
          resolve(result);
        },
        (error: unknown) => {
          if (late) return;
          cancel();
          reject(error);
        },
      );
    });
  }

  /** Why an attempt may have had no answer in time: the store, or this manager's queue of operations. */
  private slowCause(): string {
    const { queued, inFlight, limit } = this.host.slots;
    if (queued === 0) return 'the store is slow or unreachable';
    return `the store is slow or unreachable, or this manager is over capacity (${inFlight} of its ${limit} request slots busy, ${queued} operations waiting, renewals first; see the README's capacity notes)`;
  }

  /** Runs `task` as an operation that may win a lease: `close()` waits for it. */
  private track<T>(task: () => Promise<T>): Promise<T> {
    const run = task();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.tracked.add(settled);
    void settled.then(() => this.tracked.delete(settled));
    return run;
  }

  /** Waits up to `waitMs` for the lock. */
  async wait(request: LeaseRequest, waitMs: number, signal: AbortSignal | undefined): Promise<Lease> {
    this.assertOpen();
    signal?.throwIfAborted();
    if (waitMs === 0) {
      const once = await this.tryOnce(request);
      if (once instanceof Lease) return once;
      throw new S3LockTimeoutError(this.name, 0, once);
    }
    // Every waiter goes through the shared poller, which attempts at once when it starts: the
    // wait's timer runs from now, and simultaneous callers cost one attempt, not one each.
    return new Promise<Lease>((resolve, reject) => {
      const startedAt = this.host.mono.now();
      const waiter: Waiter = {
        request,
        startedAt,
        done: false,
        resolve: (lease) => finish(() => resolve(lease)),
        reject: (error) => finish(() => reject(error)),
      };
      // The process stays alive while anyone waits (the keep-alive), not because of this timer.
      const cancelTimer =
        waitMs === Infinity
          ? undefined
          : unrefTimeout(() => waiter.reject(new S3LockTimeoutError(this.name, Math.round(this.host.mono.now() - startedAt), this.lastHolder)), waitMs);
      const onAbort = (): void => waiter.reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (settle: () => void): void => {
        if (waiter.done) return;
        waiter.done = true;
        cancelTimer?.();
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (this.waiters.length === 0) this.keepAlive.let();
        settle();
        this.checkIdle();
      };
      this.waiters.push(waiter);
      this.keepAlive.hold();
      this.pump();
    });
  }

  /** Releases a lease: hands it to the next local waiter (one write) or writes a release. */
  release(lease: Lease): Promise<void> {
    // a hand-off may win the lock for a waiter: close() waits for it like for any attempt
    return this.track(async () => {
      this.releasing++;
      try {
        if (!(await lease.end())) return;
        await this.writeRelease(lease);
      } finally {
        this.releasing--;
        this.wake.notify();
        this.checkIdle();
      }
    });
  }

  private async writeRelease(lease: Lease): Promise<void> {
    const protocol = await this.host.protocol();
    const heldMs = Math.round(this.host.mono.now() - lease.acquiredAt);
    const next = this.waiters.find((w) => !w.done);
    if (next && this.localHandOffs < MAX_LOCAL_HAND_OFFS) {
      if (next.request.attempts) next.request.attempts.count++;
      const result = await this.serial(() => protocol.handOff(lease.record, next.request), RELEASE);
      if (result.acquired) {
        this.localHandOffs++;
        this.deliver(result, next);
      }
    } else {
      await this.serial(() => protocol.release(lease.record), RELEASE);
      this.localHandOffs = 0;
      // Fairness: after a run of local hand-offs, stand aside for one poll interval so that
      // waiters in other processes, which poll at most that far apart, see the release.
      if (next) this.yieldUntil = this.host.mono.now() + this.host.maxPollIntervalMs + YIELD_EXTRA_MS;
      this.host.afterRelease(this.name, lease.record);
    }
    this.host.events.emit('released', { name: this.name, ownerId: lease.record.ownerId, leaseId: lease.record.leaseId, fencingToken: lease.fencingToken, heldMs });
  }

  /**
   * Rejects every waiter, waits for every attempt in flight (the poller's, single attempts,
   * hand-offs: one that wins after this call is released, never handed out), then aborts the local
   * lease's signal and releases it.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiters]) w.reject(new S3LockClosedError(this.name));
    this.wake.notify();
    while (this.pumping || this.tracked.size > 0 || this.strayReleases.size > 0) {
      await Promise.allSettled([this.pumpRun, ...this.tracked, ...this.strayReleases]);
    }
    const lease = this.holder;
    if (!lease) return;
    lease.lose('closed');
    const protocol = await this.host.protocol();
    await this.serial(() => protocol.release(lease.record), RELEASE);
  }

  private assertOpen(): void {
    if (this.closed) throw new S3LockClosedError(this.name);
  }

  private localHolderResult(): AcquireResult {
    const lease = this.holder!;
    this.lastHolder = {
      ownerId: lease.record.ownerId,
      leaseId: lease.record.leaseId,
      fencingToken: lease.fencingToken,
      expiresAt: lease.expiresAt,
      host: this.host.self.host,
      pid: process.pid,
      managerId: this.host.self.managerId,
    };
    return { acquired: false, holder: this.lastHolder, freeAt: undefined };
  }

  /**
   * Makes a lease of a won attempt. A lease whose deadline passed before it could be granted (the
   * answer came late, or the process was paused) is never handed out: it is declared lost at once,
   * which also writes a release for it.
   */
  private grant(result: Extract<AcquireResult, { acquired: true }>): Lease | undefined {
    if (this.closed) {
      // won after close() was called: never a lease of a closed manager; release what was written
      this.releaseUnwanted(result.lease);
      return undefined;
    }
    const lease = new Lease(result.lease, result.sentAt, this.leaseHost, this.host.safetyMarginFor(result.lease.ttlMs));
    this.holder = lease;
    if (lease.isLive) return lease;
    lease.lose('deadline-passed');
    return undefined;
  }

  /** Releases a won lease nobody will hold; `close()` waits for the release. */
  private releaseUnwanted(won: ProtocolLease): void {
    const release = (async () => {
      const protocol = await this.host.protocol();
      await this.serial(() => protocol.release(won), RELEASE);
    })()
      .catch((error: unknown) => {
        this.host.events.emit('storeError', { name: this.name, operation: 'release', error: asError(error) });
      })
      .finally(() => {
        this.strayReleases.delete(release);
        this.checkIdle();
      });
    this.strayReleases.add(release);
  }

  /** Gives a lease acquired for `waiter` to it, or releases it if the waiter gave up meanwhile. */
  private deliver(result: Extract<AcquireResult, { acquired: true }>, waiter: Waiter): void {
    const lease = this.grant(result);
    if (!lease) return; // won too late to be of use: the waiter keeps waiting
    if (!waiter.done) {
      waiter.resolve(lease);
      return;
    }
    const release = this.release(lease)
      .catch((error: unknown) => {
        this.host.events.emit('storeError', { name: this.name, operation: 'release', error: asError(error) });
      })
      .finally(() => {
        this.strayReleases.delete(release);
        this.checkIdle();
      });
    this.strayReleases.add(release);
  }

  /** The shared poller: runs while there are waiters. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.pumpRun = this.pumpLoop()
      .catch((error: unknown) => {
        for (const w of [...this.waiters]) w.reject(error);
      })
      .finally(() => {
        this.pumping = false;
        if (this.waiters.length > 0 && !this.closed) this.pump();
        this.checkIdle();
      });
  }

  private async pumpLoop(): Promise<void> {
    let backoff = FIRST_POLL_MS;
    while (this.waiters.length > 0 && !this.closed) {
      const local = this.holder;
      if (this.releasing > 0) {
        await this.wake.wait(this.host.maxPollIntervalMs);
        continue;
      }
      if (local?.isLive) {
        // Held here: the release hands over directly; wake up at the latest when its deadline passes.
        await this.wake.wait(local.remainingMs + 5);
        continue;
      }
      const standAside = this.yieldUntil - this.host.mono.now();
      if (standAside > 0) {
        await this.wake.wait(standAside);
        continue;
      }
      const head = this.waiters[0]!;
      let result: AcquireResult;
      try {
        const protocol = await this.protocol();
        if (this.closed) break;
        result = await this.serial(async () => {
          if (this.holder?.isLive) return this.localHolderResult();
          // the waiter gave up (timed out, aborted, closed) while this poll waited for its turn
          if (this.closed || head.done) return NOT_SENT;
          if (head.request.attempts) head.request.attempts.count++;
          return protocol.tryAcquire(head.request);
        });
      } catch (error) {
        if (isPermanent(error)) throw error;
        this.host.events.emit('storeError', { name: this.name, operation: 'acquire', error: asError(error) });
        await this.wake.wait(jitter(backoff));
        backoff = Math.min(backoff * 2, this.host.maxPollIntervalMs);
        continue;
      }
      if (result.acquired) {
        this.deliver(result, head);
        backoff = FIRST_POLL_MS;
        continue;
      }
      this.lastHolder = result.holder;
      const untilFree = result.freeAt === undefined ? Infinity : result.freeAt - this.host.mono.now();
      await this.wake.wait(Math.max(0, Math.min(jitter(backoff), untilFree + 1)));
      backoff = Math.min(Math.round(backoff * 1.5), this.host.maxPollIntervalMs);
    }
  }
}

/** Errors that waiting cannot cure: refused store or credentials, missing bucket, corrupt records, invalid input, closed manager. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof S3LockStoreError) return error.isPermanent;
  const name = (error as { name?: string } | null)?.name;
  return (
    name === 'S3LockUnsupportedStoreError' ||
    name === 'S3LockProtocolMismatchError' ||
    name === 'S3LockPermitsMismatchError' ||
    name === 'S3LockCorruptRecordError' ||
    name === 'S3LockInvalidOptionsError' ||
    name === 'S3LockClosedError'
  );
}
