import { v4 as uuidv4 } from 'uuid';
import { S3LockStoreError, S3LockUnsupportedStoreError, type S3LockProbePrimitive } from './errors';
import type { S3Gateway } from './s3-gateway';

/** Verdict of one probe. */
export type ProbeVerdict =
  /** `versionIds`: the probe's writes returned version ids (a versioned bucket; create-only probe only). */
  | { readonly ok: true; readonly versionIds?: boolean }
  | { readonly ok: false; readonly primitive: S3LockProbePrimitive; readonly detail: string };

/** Keys of probes live under `<prefix>.probe/`; encoded lock names never start with ".". */
export function probeKey(prefix: string): string {
  return `${prefix}.probe/${uuidv4()}`;
}

/**
 * Proves that create-only writes are honoured in this bucket and prefix: creates a fresh key with
 * `If-None-Match: *` twice; the second must fail with 412. When it succeeds, a third create tells a
 * store that ignores the condition (it lets the third succeed too) from a key that vanished
 * meanwhile (a 412: the bucket re-created or the prefix wiped during the probe, a store error to
 * retry). A wipe in rounds can delete the key twice, so a store is refused only when
 * {@link PROBE_KEYS} fresh keys in a row all take three creates. Cleans up its keys (and their
 * versions, in a versioned bucket). Store failures throw {@link S3LockStoreError}.
 */
export async function probeCreateOnly(gateway: S3Gateway, prefix: string): Promise<ProbeVerdict> {
  for (let round = 0; round < PROBE_KEYS; round++) {
    const outcome = await createTwice(gateway, probeKey(prefix));
    if (outcome.honoured) return { ok: true, versionIds: outcome.versionIds };
  }
  return { ok: false, primitive: 'if-none-match', detail: `a second PutObject with If-None-Match: * on the same key succeeded (${PROBE_KEYS} fresh keys in a row)` };
}

/** Fresh keys the create-only probe tries before it refuses a store. */
export const PROBE_KEYS = 3;

/**
 * Creates `key` twice (three times when the second succeeds), then removes what it created. A
 * failing clean-up never hides the probe's own failure: after a failure the clean-up runs in the
 * background (so a hanging store costs one request timeout, not two) and its own failure is
 * dropped; nothing is deleted when nothing was created.
 */
async function createTwice(gateway: S3Gateway, key: string): Promise<{ honoured: boolean; versionIds: boolean }> {
  const metadata = { 'lock-probe': '1' };
  const created: Array<string | undefined> = [];
  let outcome: { honoured: boolean; versionIds: boolean };
  try {
    outcome = await createAndCount(gateway, key, metadata, created);
  } catch (error) {
    void cleanUp(gateway, key, created).catch(() => undefined);
    throw error;
  }
  await cleanUp(gateway, key, created);
  return outcome;
}

async function createAndCount(gateway: S3Gateway, key: string, metadata: Record<string, string>, created: Array<string | undefined>): Promise<{ honoured: boolean; versionIds: boolean }> {
  const first = await gateway.createIfAbsent(key, metadata, undefined, 'probe');
  // An unknown outcome may have left the key behind: a stray `.probe/` key, harmless.
  if (first.kind === 'unknown') throw gateway.failure(undefined, 'probe', first.error);
  if (first.kind === 'created') created.push(first.versionId);
  const second = await gateway.createIfAbsent(key, metadata, undefined, 'probe');
  if (second.kind === 'unknown') throw gateway.failure(undefined, 'probe', second.error);
  if (second.kind !== 'created') return { honoured: true, versionIds: created.some((v) => v !== undefined && v !== 'null') };
  created.push(second.versionId);
  // A store that ignores the condition lets a third create succeed too. A 412 now means the
  // condition is honoured and the first key vanished in between: a store failure to retry.
  const third = await gateway.createIfAbsent(key, metadata, undefined, 'probe');
  if (third.kind === 'unknown') throw gateway.failure(undefined, 'probe', third.error);
  if (third.kind === 'exists') {
    throw new S3LockStoreError(undefined, 'probe', undefined, new Error(`the probe's key ${key} vanished between its first and second create (the bucket re-created or the prefix emptied meanwhile?); probe again`), gateway.context());
  }
  created.push(third.versionId);
  return { honoured: false, versionIds: false };
}

/** Deletes the probe's key: each version written when the bucket is versioned, else the key. */
async function cleanUp(gateway: S3Gateway, key: string, created: Array<string | undefined>): Promise<void> {
  if (created.length === 0) return;
  const ids = created.filter((v): v is string => v !== undefined && v !== 'null');
  if (ids.length === 0) {
    await gateway.delete(key, undefined, 'probe clean-up');
    return;
  }
  for (const versionId of ids) await gateway.delete(key, undefined, 'probe clean-up', versionId);
}

/** Advice given when the create-only probe fails. */
export const CREATE_ONLY_ADVICE =
  'Use a store and bucket that honour conditional creates (Amazon S3, MinIO, Cloudflare R2, Ceph RGW on an unversioned bucket), ' +
  "or enable versioning on the bucket and use protocol 'versioned' (or 'auto').";

/** Throws {@link S3LockUnsupportedStoreError} for a failed verdict. */
export function refuse(gateway: S3Gateway, prefix: string, protocol: string, verdict: ProbeVerdict, advice: string): never {
  if (verdict.ok) throw new Error('refuse() called with a passing verdict');
  throw new S3LockUnsupportedStoreError(gateway.bucket, prefix, protocol, verdict.primitive, `${verdict.detail}. ${advice}`);
}
