import {
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { S3Gateway } from '../core/s3-gateway';
import { statusOf } from '../core/s3-gateway';
import { systemMonotonicClock } from '../core/server-clock';

/** The outcome of one S3 call the lock needs. */
export interface ActionCheck {
  /** The IAM action, e.g. `s3:PutObject`. */
  readonly action: string;
  /** The S3 call made, e.g. `PutObject (If-None-Match: *)`. */
  readonly call: string;
  /** Which protocol needs it. */
  readonly neededBy: 'both' | 'versioned';
  readonly outcome: 'allowed' | 'denied' | 'error';
  /** The store's error code, for `denied` and `error`. */
  readonly code?: string;
  readonly status?: number;
}

/** Median round trip per request type, ms. */
export type Latency = Record<string, number>;

/** The store clock's offset from this machine's, ms, as an interval (the `Date` header has whole seconds). */
export interface ClockOffset {
  /** Lower and upper bound of (store clock - local clock), ms. */
  readonly minMs: number;
  readonly maxMs: number;
  readonly samples: number;
}

/** A lifecycle rule whose filter can match keys under the lock prefix. */
export interface LifecycleFinding {
  readonly id: string;
  readonly filterPrefix: string;
  readonly expiresCurrentAfterDays?: number;
  readonly expiresNoncurrentAfterDays?: number;
  /** What it does to the locks. */
  readonly effect: string;
}

export type LifecycleCheck =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'rules'; readonly touching: LifecycleFinding[]; readonly total: number }
  | { readonly outcome: 'denied' | 'error'; readonly code: string | undefined };

type Sendable = Parameters<S3Gateway['send']>[0];

/**
 * Times and judges the lock's S3 calls on scratch keys under `scratch` (a prefix no lock uses):
 * PUT, PUT If-None-Match, HEAD, GET, LIST (5 rounds each, medians), the versioned protocol's
 * calls once, and DELETE; every `Date` header narrows the clock offset. Leaves no keys behind
 * when DeleteObject is allowed (the caller removes what is left).
 */
export async function checkActions(gateway: S3Gateway, scratch: string, versioning: string | undefined, rounds = 5): Promise<{ actions: ActionCheck[]; latency: Latency; clock: ClockOffset | undefined }> {
  const bucket = gateway.bucket;
  const times = new Map<string, number[]>();
  const outcomes = new Map<string, ActionCheck>();
  let minMs = -Infinity;
  let maxMs = Infinity;
  let samples = 0;

  const call = async <T>(type: string, action: string, label: string, neededBy: ActionCheck['neededBy'], command: Sendable, ok?: (error: unknown) => boolean): Promise<T | undefined> => {
    const sentWall = Date.now();
    const t0 = systemMonotonicClock.now();
    let date: string | undefined;
    try {
      const out = (await gateway.send(command, undefined, (d) => (date = d))) as T;
      record(action, label, neededBy, 'allowed');
      return out;
    } catch (error) {
      if (ok?.(error)) {
        record(action, label, neededBy, 'allowed');
        return undefined;
      }
      const code = (error as { name?: string; Code?: string }).Code ?? (error as { name?: string }).name;
      const status = statusOf(error);
      record(action, label, neededBy, code === 'AccessDenied' || status === 403 ? 'denied' : 'error', code, status);
      return undefined;
    } finally {
      const ms = systemMonotonicClock.now() - t0;
      const list = times.get(type) ?? [];
      list.push(ms);
      times.set(type, list);
      const dateMs = date === undefined ? NaN : Date.parse(date);
      if (!Number.isNaN(dateMs)) {
        // the answer was dated within [dateMs, dateMs + 1000) and made between send and receive
        minMs = Math.max(minMs, dateMs - (sentWall + ms));
        maxMs = Math.min(maxMs, dateMs + 1000 - sentWall);
        samples++;
      }
    }
  };
  const record = (action: string, label: string, neededBy: ActionCheck['neededBy'], outcome: ActionCheck['outcome'], code?: string, status?: number): void => {
    const prev = outcomes.get(label);
    if (prev && prev.outcome !== 'allowed') return; // the first failure stays
    outcomes.set(label, { action, call: label, neededBy, outcome, ...(code === undefined ? {} : { code }), ...(status === undefined ? {} : { status }) });
  };
  const notFound = (e: unknown): boolean => statusOf(e) === 404 && (e as { name?: string }).name !== 'NoSuchBucket';

  for (let i = 0; i < rounds; i++) {
    const key = `${scratch}latency-${i}`;
    await call('PUT', 's3:PutObject', 'PutObject', 'both', new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}', ContentType: 'application/json' }));
    await call('PUT If-None-Match', 's3:PutObject', 'PutObject (If-None-Match: *)', 'both', new PutObjectCommand({ Bucket: bucket, Key: `${key}-new`, Body: '{}', IfNoneMatch: '*' }));
    await call('HEAD', 's3:GetObject', 'HeadObject', 'both', new HeadObjectCommand({ Bucket: bucket, Key: key }), notFound);
    await call('GET', 's3:GetObject', 'GetObject', 'both', new GetObjectCommand({ Bucket: bucket, Key: key }), notFound).then((out) =>
      (out as { Body?: { transformToString?: () => Promise<string> } } | undefined)?.Body?.transformToString?.(),
    );
    await call('LIST', 's3:ListBucket', 'ListObjectsV2', 'both', new ListObjectsV2Command({ Bucket: bucket, Prefix: scratch, MaxKeys: 1 }));
    await call('DELETE', 's3:DeleteObject', 'DeleteObject', 'both', new DeleteObjectCommand({ Bucket: bucket, Key: key }), notFound);
    await call('DELETE', 's3:DeleteObject', 'DeleteObject', 'both', new DeleteObjectCommand({ Bucket: bucket, Key: `${key}-new` }), notFound);
  }
  // the versioned protocol's reads and deletes by version id
  const key = `${scratch}versions`;
  const put = await call<{ VersionId?: string }>('PUT', 's3:PutObject', 'PutObject', 'both', new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{}' }));
  await call('LIST versions', 's3:ListBucketVersions', 'ListObjectVersions', 'versioned', new ListObjectVersionsCommand({ Bucket: bucket, Prefix: scratch, MaxKeys: 1 }));
  const versionId = versioning === undefined ? undefined : put?.VersionId;
  if (versionId !== undefined && versionId !== 'null') {
    await call('HEAD', 's3:GetObjectVersion', 'HeadObject (by version id)', 'versioned', new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), notFound);
    await call('DELETE', 's3:DeleteObjectVersion', 'DeleteObject (by version id)', 'versioned', new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), notFound);
  } else {
    await call('DELETE', 's3:DeleteObject', 'DeleteObject', 'both', new DeleteObjectCommand({ Bucket: bucket, Key: key }), notFound);
  }

  const latency: Latency = {};
  for (const [type, list] of times) latency[type] = Math.round(median(list) * 10) / 10;
  return { actions: [...outcomes.values()], latency, clock: samples === 0 ? undefined : { minMs: Math.round(minMs), maxMs: Math.round(maxMs), samples } };
}

/** The bucket's lifecycle rules that can expire keys under `prefix`. */
export async function checkLifecycle(gateway: S3Gateway, prefix: string): Promise<LifecycleCheck> {
  let rules: LifecycleRule[];
  try {
    const out = (await gateway.send(new GetBucketLifecycleConfigurationCommand({ Bucket: gateway.bucket }))) as { Rules?: LifecycleRule[] };
    rules = out.Rules ?? [];
  } catch (error) {
    const code = (error as { name?: string }).name;
    if (code === 'NoSuchLifecycleConfiguration') return { outcome: 'none' };
    return { outcome: code === 'AccessDenied' || statusOf(error) === 403 ? 'denied' : 'error', code };
  }
  const touching: LifecycleFinding[] = [];
  for (const r of rules) {
    if (r.Status !== 'Enabled') continue;
    const legacy = (r as { Prefix?: string }).Prefix;
    const filterPrefix = r.Filter?.Prefix ?? r.Filter?.And?.Prefix ?? legacy ?? '';
    if (!(prefix.startsWith(filterPrefix) || filterPrefix.startsWith(prefix))) continue;
    const current = r.Expiration?.Days;
    const noncurrent = r.NoncurrentVersionExpiration?.NoncurrentDays;
    if (current === undefined && noncurrent === undefined && r.Expiration?.Date === undefined) continue;
    const effects: string[] = [];
    if (current !== undefined || r.Expiration?.Date !== undefined) effects.push('expires lock records: create-only sees a record loss (tokens survive, holders are told; docs/protocol.md "Record loss"), versioned loses the lock key');
    if (noncurrent !== undefined) effects.push("expires noncurrent versions: voids the versioned protocol's fencing tokens");
    touching.push({
      id: r.ID ?? '(no id)',
      filterPrefix,
      ...(current === undefined ? {} : { expiresCurrentAfterDays: current }),
      ...(noncurrent === undefined ? {} : { expiresNoncurrentAfterDays: noncurrent }),
      effect: effects.join('; '),
    });
  }
  return { outcome: 'rules', touching, total: rules.length };
}

/** Deletes every key (and version) left under `scratch`; returns the keys it could not delete. */
export async function removeScratch(gateway: S3Gateway, scratch: string, versioned: boolean): Promise<string[]> {
  const left: string[] = [];
  try {
    let markers: { keyMarker?: string; versionIdMarker?: string } = {};
    for (;;) {
      const page = await gateway.listVersions(scratch, undefined, 'doctor clean-up', markers);
      for (const v of [...page.versions, ...page.deleteMarkers]) {
        await gateway.delete(v.key, undefined, 'doctor clean-up', v.versionId).catch(() => left.push(v.key));
      }
      if (!page.truncated) break;
      markers = { keyMarker: page.nextKeyMarker, versionIdMarker: page.nextVersionIdMarker };
    }
  } catch {
    // no ListObjectVersions (denied, or not a versioned store): plain keys below; in a versioned
    // bucket their versions stay, and are reported
    if (versioned) left.push(`${scratch}* (versions: ListObjectVersions failed)`);
  }
  try {
    const page = await gateway.list(scratch, 1000, undefined, 'doctor clean-up');
    for (const k of page.keys) await gateway.delete(k.key, undefined, 'doctor clean-up').catch(() => left.push(k.key));
    const again = await gateway.list(scratch, 1000, undefined, 'doctor clean-up');
    for (const k of again.keys) if (!left.includes(k.key)) left.push(k.key);
  } catch {
    left.push(`${scratch}*`);
  }
  return [...new Set(left)];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
