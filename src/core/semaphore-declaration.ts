import { S3LockPermitsMismatchError, S3LockStoreError } from './errors';
import { encodeLockName } from './lock-name';
import type { S3Gateway } from './s3-gateway';

/**
 * Key of a semaphore's declaration: `<prefix>.semaphore/<encoded name>`. No lock record can take
 * it: encoded lock names never start with ".".
 */
export function semaphoreDeclarationKey(prefix: string, name: string): string {
  return `${prefix}.semaphore/${encodeLockName(name)}`;
}

/** The suffix of a semaphore's permit `i` among lock names: `<name>#permit-<i>`. */
export function permitLockName(name: string, permit: number): string {
  return `${name}#permit-${permit}`;
}

/** True for names that only semaphores may lock (`...#permit-<digits>`). */
export function isPermitLockName(name: string): boolean {
  return /#permit-\d+$/.test(name);
}

const PERMITS = 'lock-permits';

/**
 * Settles the permits of semaphore `name` in the store, and throws
 * {@link S3LockPermitsMismatchError} when they are not `permits`. The first declaration wins:
 * - create-only: the declaration is created with `If-None-Match: *` (one HEAD when it exists;
 *   a HEAD and a PUT when it did not);
 * - versioned (the store may ignore conditions): the oldest version of the declaration is the
 *   declaration; a process that finds none writes one and reads the versions again (a LIST and a
 *   HEAD when it exists; a LIST, a PUT, a LIST and a HEAD when it did not).
 *
 * Called once per name per manager (the manager keeps what it settled).
 */
export async function settlePermits(gateway: S3Gateway, protocol: 'create-only' | 'versioned', prefix: string, name: string, permits: number, host: string): Promise<void> {
  const key = semaphoreDeclarationKey(prefix, name);
  const metadata = { [PERMITS]: String(permits), 'lock-host': encodeURIComponent(host) };
  const declared = protocol === 'versioned' ? await settleVersioned(gateway, key, name, metadata) : await settleCreateOnly(gateway, key, name, metadata);
  if (declared !== permits) throw new S3LockPermitsMismatchError(name, gateway.bucket, permits, declared, key);
}

async function settleCreateOnly(gateway: S3Gateway, key: string, name: string, metadata: Record<string, string>): Promise<number> {
  for (let round = 0; round < 3; round++) {
    const head = await gateway.head(key, name, 'semaphore declaration');
    if (head.found) return permitsOf(gateway, head.metadata, key, name);
    const created = await gateway.createIfAbsent(key, metadata, name, 'semaphore declaration');
    if (created.kind === 'created') return Number(metadata[PERMITS]);
    // exists (412) or unknown: read it back
  }
  throw unsettled(gateway, key, name);
}

async function settleVersioned(gateway: S3Gateway, key: string, name: string, metadata: Record<string, string>): Promise<number> {
  for (let round = 0; round < 3; round++) {
    const oldest = await oldestVersion(gateway, key, name);
    if (oldest !== undefined) {
      const head = await gateway.head(key, name, 'semaphore declaration', oldest);
      if (head.found) return permitsOf(gateway, head.metadata, key, name);
      continue; // deleted meanwhile: look again
    }
    await gateway.putVersion(key, metadata, name, 'semaphore declaration');
  }
  throw unsettled(gateway, key, name);
}

/** The version id of the key's oldest version (versions of one key are listed newest first). */
async function oldestVersion(gateway: S3Gateway, key: string, name: string): Promise<string | undefined> {
  let markers: { keyMarker?: string; versionIdMarker?: string } = {};
  let oldest: string | undefined;
  for (;;) {
    const page = await gateway.listVersions(key, name, 'semaphore declaration', markers);
    for (const v of page.versions) if (v.key === key) oldest = v.versionId;
    if (!page.truncated || page.nextKeyMarker === undefined || page.nextKeyMarker > key) return oldest;
    markers = { keyMarker: page.nextKeyMarker, versionIdMarker: page.nextVersionIdMarker };
  }
}

function permitsOf(gateway: S3Gateway, metadata: Readonly<Record<string, string>>, key: string, name: string): number {
  const permits = Number(metadata[PERMITS]);
  if (Number.isSafeInteger(permits) && permits >= 1) return permits;
  throw new S3LockStoreError(name, 'semaphore declaration', undefined, new Error(`${key} does not say how many permits (metadata ${PERMITS}: ${JSON.stringify(metadata[PERMITS])}); it was not written by this library`), gateway.context());
}

function unsettled(gateway: S3Gateway, key: string, name: string): S3LockStoreError {
  return new S3LockStoreError(name, 'semaphore declaration', undefined, new Error(`${key} could not be settled in 3 rounds`), gateway.context());
}
