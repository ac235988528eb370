import { S3LockClosedError, S3LockLostError, type S3LockLossReason } from './errors';
import { asError } from './lease';
import { lockContext } from './lock-context';
import type { S3Lock, S3LockContext, S3LockState } from './lock-types';

/** Why a term ended: a loss reason, `resigned` after `stop()`, or `failed` when `onElected` threw. */
export type S3LeadershipEndReason = S3LockLossReason | 'resigned' | 'failed';

/** Options of `manager.elect()`. */
export interface S3ElectionOptions {
  /**
   * Runs when this process becomes leader, with the term's context: `signal` aborts when the term
   * ends (leadership lost, or `stop()`), `fencingToken` is the term's (one term, one token). The
   * term lasts until then, whether or not the returned promise has settled; if it rejects, the
   * process resigns (reason `failed`) and campaigns again.
   */
  onElected(context: S3LockContext): unknown;
  /** Called once a term has ended, with why (after `onElected`'s signal aborted). */
  onRevoked?(reason: S3LeadershipEndReason, error?: Error): void;
  /** @default the manager's ttlMs */
  ttlMs?: number;
  /** What telemetry may call the election's lock (see `S3LockOptions.telemetryName`). */
  telemetryName?: string;
}

/** Who leads, read from the store. */
export interface S3LeaderInfo {
  readonly host: string | undefined;
  readonly pid: number | undefined;
  readonly managerId: string | undefined;
  /** The term's fencing token. */
  readonly fencingToken: number;
  /** Server time the term began, when the store still has it. */
  readonly since: Date | undefined;
}

/** A campaign from `manager.elect()`. */
export interface S3Election {
  /** The election's name (its lock's name). */
  readonly name: string;
  /** True while this process leads (its term's lease is held). */
  readonly isLeader: boolean;
  /** The fencing token of the current term when this process leads. */
  readonly fencingToken: number | undefined;
  /** Who leads now according to the store (`undefined`: nobody). One read. */
  leader(): Promise<S3LeaderInfo | undefined>;
  /**
   * Stops campaigning and resigns at once: the term's signal aborts, `onRevoked('resigned')` is
   * called and the lease is released, so another process takes over at its next poll instead of
   * after a TTL. Resolves when done; idempotent.
   */
  stop(): Promise<void>;
}

/** What an election is built from (by the manager). */
export interface ElectionParts {
  readonly lock: S3Lock;
  readonly inspect: () => Promise<S3LockState>;
  /** Reports what the campaign could not do itself (a failed onElected, a store error while campaigning). */
  readonly report: (operation: string, error: Error) => void;
  /** Pause after a failed term or a store error before campaigning again, ms. */
  readonly retryMs: number;
}

/**
 * Leader election on one lock: campaign (wait for the lock without limit), lead while the lease
 * lasts, campaign again after the term ends. Terms are leases, so each has its own strictly
 * increasing fencing token, and two leaders at once is exactly what mutual exclusion rules out.
 */
export class LeaderElection implements S3Election {
  readonly name: string;
  private readonly stopping = new AbortController();
  private term: { ctx: S3LockContext; ended: AbortController } | undefined;
  private readonly campaign: Promise<void>;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly parts: ElectionParts,
    private readonly options: S3ElectionOptions,
  ) {
    this.name = parts.lock.name;
    // run() handles its own failures; whatever still escapes is reported, never left unhandled
    this.campaign = this.run().catch((error: unknown) => this.parts.report('campaign', asError(error)));
  }

  get isLeader(): boolean {
    return this.term !== undefined && !this.term.ended.signal.aborted && this.parts.lock.isHeld;
  }

  get fencingToken(): number | undefined {
    return this.isLeader ? this.term!.ctx.fencingToken : undefined;
  }

  async leader(): Promise<S3LeaderInfo | undefined> {
    const state = await this.parts.inspect();
    if (!state.held || !state.holder) return undefined;
    return { host: state.holder.host, pid: state.holder.pid, managerId: state.holder.managerId, fencingToken: state.holder.fencingToken, since: state.acquiredAt };
  }

  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopping.abort(new S3LockClosedError(this.name));
      this.term?.ended.abort('resigned');
      this.stopped = this.campaign;
    }
    return this.stopped;
  }

  private async run(): Promise<void> {
    const { lock } = this.parts;
    const stop = this.stopping.signal;
    while (!stop.aborted) {
      try {
        await lock.acquire({ waitMs: Infinity, signal: stop });
      } catch (error) {
        if (stop.aborted) break;
        // closed manager: nothing more to campaign for
        if (error instanceof S3LockClosedError) break;
        this.parts.report('campaign', asError(error));
        await pause(this.parts.retryMs, stop);
        continue;
      }
      if (stop.aborted || !lock.isHeld) {
        // stop() came, or the grant died (a stall past its deadline), before the term could
        // start: no term; give back what may be left of the lease (the loop ends on stop)
        await lock.releaseIfOwner().catch((error: unknown) => this.parts.report('resign', asError(error)));
        continue;
      }
      await this.lead();
    }
  }

  /** One term: from the grant until the lease is lost or the campaign stops. */
  private async lead(): Promise<void> {
    const { lock } = this.parts;
    const lease = lockContext(lock);
    const ended = new AbortController();
    const onLost = (): void => ended.abort(lease.signal.reason);
    lease.signal.addEventListener('abort', onLost, { once: true });
    if (this.stopping.signal.aborted) ended.abort('resigned');
    const ctx: S3LockContext = {
      name: lease.name,
      signal: ended.signal,
      fencingToken: lease.fencingToken,
      get isHeld() {
        return !ended.signal.aborted && lease.isHeld;
      },
      check() {
        lease.check();
        if (ended.signal.aborted) throw new S3LockLostError(lease.name, 'closed', lease.fencingToken);
      },
      extend: () => lease.extend(),
    };
    this.term = { ctx, ended };
    let failure: Error | undefined;
    const work = (async () => this.options.onElected(ctx))().catch((error: unknown) => {
      failure = asError(error);
      this.parts.report('onElected', failure);
      if (!ended.signal.aborted) ended.abort('failed');
    });
    if (!ended.signal.aborted) await new Promise<void>((resolve) => ended.signal.addEventListener('abort', () => resolve(), { once: true }));
    lease.signal.removeEventListener('abort', onLost);
    const reason: unknown = ended.signal.reason;
    const why: S3LeadershipEndReason = reason instanceof S3LockLostError ? reason.reason : (reason as 'resigned' | 'failed');
    // resign: a lost lease needs no release; a live one is given back now, not after a TTL
    await lock.releaseIfOwner().catch((error: unknown) => this.parts.report('resign', asError(error)));
    this.term = undefined;
    try {
      this.options.onRevoked?.(why, reason instanceof Error ? reason : failure);
    } catch (error) {
      this.parts.report('onRevoked', asError(error));
    }
    // the leader's work had its signal aborted; a term does not wait for it to settle
    void work;
    if (why === 'failed') await pause(this.parts.retryMs, this.stopping.signal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      signal.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
