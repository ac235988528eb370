import type { S3LockHolderInfo } from './errors';
import type { AcquireResult } from './lock-protocol';
import type { LockRecord } from './lock-record';
import type { ServerClock } from './server-clock';

/** The holder a record names, as errors and events report it. */
export function holderOf(record: LockRecord, expiresAtServer: number | undefined): S3LockHolderInfo {
  return {
    ownerId: record.ownerId,
    leaseId: record.leaseId,
    fencingToken: record.fencingToken,
    expiresAt: expiresAtServer === undefined ? undefined : new Date(expiresAtServer),
    host: record.host || undefined,
    pid: record.pid >= 0 ? record.pid : undefined,
    managerId: record.managerId,
  };
}

/** A failed attempt: the holder seen, and when (local monotonic time) its lease may expire. */
export function notAcquiredResult(holder: LockRecord | undefined, expiresAtServer: number | undefined, clock: ServerClock): AcquireResult {
  return {
    acquired: false,
    holder: holder && holderOf(holder, expiresAtServer),
    freeAt: expiresAtServer === undefined ? undefined : clock.monotonicAt(expiresAtServer),
  };
}
