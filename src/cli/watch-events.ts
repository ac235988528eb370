import type { LockRow } from './lock-row';

/** What `watch` saw change between two reads of a lock. */
export type WatchEventKind = 'acquired' | 'hand-off' | 'takeover' | 'lost' | 'released';

export interface WatchEvent {
  readonly kind: WatchEventKind;
  readonly name: string;
  /** The store's time of the read that saw it. */
  readonly at: string;
  readonly text: string;
}

/** Counts since the watch started. */
export interface WatchCounts {
  acquired: number;
  handOffs: number;
  takeovers: number;
  lost: number;
  released: number;
}

/**
 * Compares each read with the one before and names the change. A new lease after one that was
 * still unexpired when the new one began is a hand-off (released, then taken); after one that had
 * expired, a takeover. A lease seen expired (not renewed in time) is a lost lease, counted once.
 */
export class WatchLedger {
  readonly counts: WatchCounts = { acquired: 0, handOffs: 0, takeovers: 0, lost: 0, released: 0 };
  private readonly last = new Map<string, LockRow>();
  private readonly lostLeases = new Set<string>();

  /** The events of one round of reads (every name read; names not read are kept as they were unless `complete`). */
  observe(rows: readonly LockRow[], complete: boolean): WatchEvent[] {
    const events: WatchEvent[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.name);
      const prev = this.last.get(row.name);
      this.last.set(row.name, row);
      const e = this.change(prev, row);
      if (e) events.push(e);
    }
    if (complete) for (const name of [...this.last.keys()]) if (!seen.has(name)) this.last.delete(name);
    return events;
  }

  private change(prev: LockRow | undefined, row: LockRow): WatchEvent | undefined {
    const at = row.readAt;
    const who = row.holder ? `${row.holder.host ?? '?'}:${row.holder.pid ?? '?'}` : '?';
    const event = (kind: WatchEventKind, text: string): WatchEvent => ({ kind, name: row.name, at, text: `${row.name}: ${text}` });
    const prevLease = prev?.holder && prev.state !== 'free' ? prev.holder.leaseId : undefined;
    const lease = row.holder && row.state !== 'free' ? row.holder.leaseId : undefined;
    if (row.state === 'expired' && lease !== undefined && !this.lostLeases.has(lease)) {
      this.lostLeases.add(lease);
      // already expired when the watch began: not lost since the start
      if (prev === undefined) return undefined;
      this.counts.lost++;
      return event('lost', `lease of ${who} (token ${row.fencingToken}) expired without renewal`);
    }
    if (prev === undefined) return undefined;
    if (row.state === 'held' && lease !== prevLease) {
      if (prevLease === undefined) {
        this.counts.acquired++;
        return event('acquired', `acquired by ${who} (token ${row.fencingToken})`);
      }
      // heldSince has whole seconds: the new lease began in [heldSince, heldSince + 1 s). A hand-off
      // happens while the old lease lives, and the expiry read last (under a refresh ago) is at least
      // two thirds of a TTL plus 1.5 s ahead: a new lease that may have begun after it is a takeover.
      const prevExpired = prev.state === 'expired' || (prev.expiresAt !== null && row.heldSince !== null && Date.parse(row.heldSince) + 1000 >= Date.parse(prev.expiresAt));
      if (prevExpired) {
        if (!this.lostLeases.has(prevLease)) {
          // expired and taken between two reads: never seen expired, but lost all the same
          this.lostLeases.add(prevLease);
          this.counts.lost++;
        }
        this.counts.takeovers++;
        return event('takeover', `taken over by ${who} (token ${row.fencingToken}) after the lease of token ${prev.fencingToken} expired`);
      }
      this.counts.handOffs++;
      return event('hand-off', `handed from token ${prev.fencingToken} to ${who} (token ${row.fencingToken})`);
    }
    if (row.state === 'free' && prevLease !== undefined) {
      this.counts.released++;
      return event('released', `released (token ${prev.fencingToken})`);
    }
    return undefined;
  }
}
