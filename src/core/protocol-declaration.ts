import { v4 as uuidv4 } from 'uuid';
import { S3LockProtocolMismatchError } from './errors';
import type { S3Gateway } from './s3-gateway';

/** The two protocols a prefix can be declared for. */
export type DeclaredProtocol = 'create-only' | 'versioned';

/** A prefix's protocol declaration as read from the store. */
export interface ProtocolDeclaration {
  /** What the declaration says: a protocol name, or whatever else was found there (refused). */
  readonly protocol: string;
  /** Informational: who wrote it and when (server time). */
  readonly host: string | undefined;
  readonly declaredAt: Date;
}

/** Outcome of writing a declaration with `If-None-Match: *` (with the version id a created one got, if any). */
export type DeclareOutcome = { readonly kind: 'created'; readonly versionId: string | undefined } | { readonly kind: 'exists' | 'unknown' };

/**
 * Key of a prefix's protocol declaration: `<prefix>.protocol`. No lock record can take it: encoded
 * lock names never start with "." (and the probe's keys are below `<prefix>.probe/`).
 */
export function declarationKey(prefix: string): string {
  return `${prefix}.protocol`;
}

/** Reads the declaration with one HEAD; `undefined` when the prefix was never declared. */
export async function readDeclaration(gateway: S3Gateway, prefix: string, via: 'head' | 'get' = 'head'): Promise<ProtocolDeclaration | undefined> {
  // A GET (same price class) answers errors with a body: the manager's first request tells a
  // missing bucket, wrong credentials and a denied action apart, where a HEAD says only 403 / 404.
  const head = via === 'get' ? await gateway.get(declarationKey(prefix), undefined, 'protocol declaration') : await gateway.head(declarationKey(prefix), undefined, 'protocol declaration');
  if (!head.found) return undefined;
  const host = head.metadata['lock-host'];
  return {
    protocol: head.metadata['lock-protocol'] ?? '',
    host: host === undefined ? undefined : safeDecode(host),
    declaredAt: new Date(head.lastModifiedMs),
  };
}

/**
 * Creates the declaration with `If-None-Match: *` (one PUT). `exists` means another manager
 * declared first; `unknown` (409, 5xx, timeout) is settled by the caller reading it back.
 */
export async function writeDeclaration(gateway: S3Gateway, prefix: string, protocol: DeclaredProtocol, host: string, pid: number): Promise<DeclareOutcome> {
  const metadata = { 'lock-protocol': protocol, 'lock-host': encodeURIComponent(host), 'lock-pid': String(pid), 'lock-nonce': uuidv4() };
  const out = await gateway.createIfAbsent(declarationKey(prefix), metadata, undefined, 'protocol declaration');
  return out.kind === 'created' ? { kind: 'created', versionId: out.versionId } : { kind: out.kind };
}

/** True if the declaration names one of the protocols. */
export function isDeclaredProtocol(value: string): value is DeclaredProtocol {
  return value === 'create-only' || value === 'versioned';
}

/** The refusal for a manager configured for `configured` on a prefix declared otherwise. */
export function mismatch(gateway: S3Gateway, prefix: string, configured: string, declaration: ProtocolDeclaration): S3LockProtocolMismatchError {
  const key = declarationKey(prefix);
  const by = `${declaration.host === undefined ? '' : ` by ${declaration.host}`} at ${declaration.declaredAt.toISOString()}`;
  const advice = isDeclaredProtocol(declaration.protocol)
    ? `It was declared${by}, and every process on one bucket and prefix must use the same protocol: neither sees the other's leases. ` +
      `Configure protocol '${declaration.protocol}' (or 'auto', which follows the declaration), or use another prefix. ` +
      `To move the prefix to another protocol, stop every process using it, then delete ${key}.`
    : `${key} (written${by}) does not name a protocol ('create-only' or 'versioned'); it was not written by this library. ` +
      `Delete it once no process uses the prefix, or use another prefix.`;
  return new S3LockProtocolMismatchError(gateway.bucket, prefix, configured, declaration.protocol, key, advice);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
