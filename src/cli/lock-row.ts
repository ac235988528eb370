import type { S3LockState } from '../core/lock-types';
import { duration, time } from './cli-output';

/** A lock's state as `ls`, `inspect` and `watch` show it (the JSON of `ls --json`, one per name). */
export interface LockRow {
  readonly name: string;
  /**
   * `held`: a live lease; `expired`: the last lease was not renewed in time (free to take); `free`:
   * released or never taken; `unreadable`: its records could not be read (`error` says why).
   */
  readonly state: 'held' | 'free' | 'expired' | 'unreadable';
  readonly held: boolean;
  /** The lease's fencing token (held or expired), else the last lease's, or null if never taken. */
  readonly fencingToken: number | null;
  readonly protocol: 'create-only' | 'versioned';
  /** The holder of the lease (held or expired), null when free. */
  readonly holder: { readonly host: string | null; readonly pid: number | null; readonly managerId: string | null; readonly leaseId: string } | null;
  /** Server time of the lease's acquisition, when known. */
  readonly heldSince: string | null;
  /** Server time from which the lease can be taken over if not renewed (held or expired), else null. */
  readonly expiresAt: string | null;
  /** `expiresAt` minus the store's time at the read, ms (negative: expired). */
  readonly expiresInMs: number | null;
  /** Server time of the last write to the lock. */
  readonly lastWriteAt: string | null;
  /** The store's clock when the state was read. */
  readonly readAt: string;
  /** Why the lock could not be read (`state: 'unreadable'`). */
  readonly error?: string;
}

/** The row of a lock whose state could not be read. */
export function unreadableRow(name: string, protocol: LockRow['protocol'], error: unknown): LockRow {
  return {
    name,
    state: 'unreadable',
    held: false,
    fencingToken: null,
    protocol,
    holder: null,
    heldSince: null,
    expiresAt: null,
    expiresInMs: null,
    lastWriteAt: null,
    readAt: new Date().toISOString(),
    error: error instanceof Error ? error.message : String(error),
  };
}

export function lockRow(s: S3LockState): LockRow {
  const state = s.held ? 'held' : s.expiresAt !== undefined ? 'expired' : 'free';
  const leased = state !== 'free';
  const h = s.holder;
  return {
    name: s.name,
    state,
    held: s.held,
    fencingToken: h?.fencingToken ?? null,
    protocol: s.protocol,
    holder: leased && h ? { host: h.host ?? null, pid: h.pid ?? null, managerId: h.managerId ?? null, leaseId: h.leaseId } : null,
    heldSince: leased && s.acquiredAt ? s.acquiredAt.toISOString() : null,
    expiresAt: leased && s.expiresAt ? s.expiresAt.toISOString() : null,
    expiresInMs: leased && s.expiresAt ? s.expiresAt.getTime() - s.serverTime.getTime() : null,
    lastWriteAt: s.lastWriteAt ? s.lastWriteAt.toISOString() : null,
    readAt: s.serverTime.toISOString(),
  };
}

/** Columns of the human table of locks. */
export const LOCK_COLUMNS = ['NAME', 'STATE', 'HOLDER', 'MANAGER', 'HELD SINCE', 'EXPIRES IN', 'TOKEN', 'PROTOCOL'] as const;

export function lockCells(r: LockRow): string[] {
  const holder = r.holder ? `${r.holder.host ?? '?'}:${r.holder.pid ?? '?'}` : '-';
  const manager = r.holder?.managerId ? r.holder.managerId.slice(0, 8) : '-';
  const since = r.heldSince ? `${time(new Date(r.heldSince))} (${duration(Date.parse(r.readAt) - Date.parse(r.heldSince))} ago)` : '-';
  const expires = r.expiresInMs === null ? '-' : r.expiresInMs >= 0 ? duration(r.expiresInMs) : `${duration(-r.expiresInMs)} ago`;
  return [r.name, r.state, holder, manager, since, expires, r.fencingToken === null ? '-' : String(r.fencingToken), r.protocol];
}
