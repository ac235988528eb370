import { S3LockCorruptRecordError } from './errors';
import { MAX_EPOCH } from './epoch-key';

/**
 * The generation record of a lock's log (create-only): one fixed key per lock, created with
 * `If-None-Match: *`, naming the generation (a random id) and its base epoch. Only records above
 * the base count. A store that loses the lock's records loses this record too; the next reader
 * creates a new one with a new id and a base above every earlier epoch, and every holder or writer
 * of the old generation finds out by reading it. An operator's force release replaces it (a plain
 * PUT, marked `forced`), which ends every lease and every claim in flight of the old generation
 * the same way. See docs/protocol.md, "Record loss" and "Force release".
 */
export interface LogGeneration {
  readonly id: string;
  /** Epochs at or below this do not count; the generation's first record is `base + 1`. */
  readonly base: number;
  /** Set when an operator's force release replaced the previous generation (docs/protocol.md, "Force release"). */
  readonly forced?: boolean;
}

/** Leaf name of the generation record below a lock's prefix (not 15 digits: never a record, never collected). */
export const GENERATION_LEAF = 'generation';

/** Epochs per second of server time that the base reserves (docs/protocol.md, assumption R). */
export const BASE_EPOCHS_PER_SECOND = 10_000;

export function generationKey(lockPrefix: string): string {
  return lockPrefix + GENERATION_LEAF;
}

/**
 * Generation ids as written and as accepted from the store: uuids (safe in a key, 36 characters,
 * and never `probe` or `protocol`, the names of another manager's reserved keys below a folder).
 */
const GENERATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bytes a record key adds to its lock's prefix: `.<id>/` (a 36-character id) and 15 digits. */
export const RECORD_KEY_SUFFIX_BYTES = 1 + 36 + 1 + 15;

/**
 * The folder of generation `id`'s records: `<lock prefix>.<id>/`. Each generation's records live in
 * a folder of their own, so a write made from the view of an older generation never lands among
 * the current one's (docs/protocol.md, "Acquire" and "Record loss", property (x)). No encoded lock
 * name starts with ".", so no other manager's lock has this folder.
 */
export function generationFolder(lockPrefix: string, id: string): string {
  return `${lockPrefix}.${id}/`;
}

/** The id of a generation folder listed as a common prefix of `<lock prefix>` with `Delimiter=/`, or undefined. */
export function generationOfFolder(lockPrefix: string, folder: string): string | undefined {
  if (!folder.startsWith(lockPrefix + '.') || !folder.endsWith('/')) return undefined;
  const id = folder.slice(lockPrefix.length + 1, -1);
  return GENERATION_ID.test(id) ? id : undefined;
}

/**
 * The base of a new generation: the server clock in whole seconds times
 * {@link BASE_EPOCHS_PER_SECOND}, and at least `atLeastEpoch` (the newest epoch the writer knows).
 */
export function generationBase(serverNowMs: number, atLeastEpoch: number): number {
  const base = Math.max(Math.floor(serverNowMs / 1000) * BASE_EPOCHS_PER_SECOND, atLeastEpoch);
  if (!Number.isSafeInteger(base) || base < 0 || base >= MAX_EPOCH - 1) throw new RangeError(`generation base out of range: ${base}`);
  return base;
}

export function generationToMetadata(generation: LogGeneration): Record<string, string> {
  return { 'lock-format': '1', 'lock-generation': generation.id, 'lock-base': String(generation.base), ...(generation.forced ? { 'lock-cause': 'force-release' } : {}) };
}

/** Decodes a generation record, or throws {@link S3LockCorruptRecordError}. */
export function generationFromMetadata(lockName: string, key: string, metadata: Record<string, string> | undefined): LogGeneration {
  const m = metadata ?? {};
  const base = Number(m['lock-base']);
  if (m['lock-format'] !== '1' || !GENERATION_ID.test(m['lock-generation'] ?? '') || !Number.isSafeInteger(base) || base < 0) {
    throw new S3LockCorruptRecordError(lockName, key, `not a generation record (${JSON.stringify(m)})`);
  }
  return m['lock-cause'] === 'force-release' ? { id: m['lock-generation'], base, forced: true } : { id: m['lock-generation'], base };
}
