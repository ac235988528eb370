import { S3LockCorruptRecordError } from './errors';

/** Kinds of records in a lock's log. */
export type LockRecordKind = 'acquire' | 'renew' | 'release';

/** One immutable record of a lock's log, kept in the object's user metadata. */
export interface LockRecord {
  readonly kind: LockRecordKind;
  /** One per acquisition. */
  readonly leaseId: string;
  /** The lock instance (uuid) that holds the lease. */
  readonly ownerId: string;
  readonly ttlMs: number;
  /** Fencing token: the epoch of the lease's acquire record. */
  readonly fencingToken: number;
  /** Unique per write attempt: tells a writer its own record after an unknown outcome. */
  readonly nonce: string;
  readonly host: string;
  readonly pid: number;
  /** The writing manager's id (stable for the manager's life); absent in records of older versions. */
  readonly managerId?: string;
  /**
   * A force release's record (create-only): nobody builds on it until it expires (`ttlMs` after it
   * was written), by when the generation record that the force release replaces next names a new
   * generation (docs/protocol.md, "Force release").
   */
  readonly forced?: boolean;
}

/** Format version of records written by this library. */
const FORMAT = '1';

/** Encodes a record as S3 user metadata (keys without the `x-amz-meta-` prefix, lower case, ASCII values). */
export function recordToMetadata(record: LockRecord): Record<string, string> {
  return {
    'lock-format': FORMAT,
    'lock-kind': record.kind,
    'lock-lease': record.leaseId,
    'lock-owner': record.ownerId,
    'lock-ttl': String(record.ttlMs),
    'lock-token': String(record.fencingToken),
    'lock-nonce': record.nonce,
    'lock-host': encodeURIComponent(record.host),
    'lock-pid': String(record.pid),
    ...(record.managerId === undefined ? {} : { 'lock-manager': record.managerId }),
    ...(record.forced ? { 'lock-cause': 'force-release' } : {}),
  };
}

/** Decodes user metadata into a record, or throws {@link S3LockCorruptRecordError}. */
export function recordFromMetadata(lockName: string, key: string, metadata: Record<string, string> | undefined): LockRecord {
  const m = metadata ?? {};
  const fail = (problem: string): never => {
    throw new S3LockCorruptRecordError(lockName, key, problem);
  };
  if (m['lock-format'] !== FORMAT) fail(`unknown format ${JSON.stringify(m['lock-format'])}`);
  const kind = m['lock-kind'];
  if (kind !== 'acquire' && kind !== 'renew' && kind !== 'release') return fail(`unknown kind ${JSON.stringify(kind)}`);
  const ttlMs = Number(m['lock-ttl']);
  const fencingToken = Number(m['lock-token']);
  const pid = Number(m['lock-pid']);
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) fail('bad ttl');
  if (!Number.isSafeInteger(fencingToken) || fencingToken <= 0) fail('bad fencing token');
  for (const field of ['lock-lease', 'lock-owner', 'lock-nonce']) if (!m[field]) fail(`missing ${field}`);
  let host = '';
  try {
    host = decodeURIComponent(m['lock-host'] ?? '');
  } catch {
    host = m['lock-host'] ?? '';
  }
  return {
    kind,
    leaseId: m['lock-lease']!,
    ownerId: m['lock-owner']!,
    ttlMs,
    fencingToken,
    nonce: m['lock-nonce']!,
    host,
    pid: Number.isSafeInteger(pid) ? pid : -1,
    ...(m['lock-manager'] ? { managerId: m['lock-manager'] } : {}),
    ...(kind === 'release' && m['lock-cause'] === 'force-release' ? { forced: true } : {}),
  };
}
