/**
 * The data of one bucket: its versioning status and, per key, the versions newest first.
 * Unversioned buckets hold at most one version per key, whose version id is `null`.
 */
import { compareUtf8 } from './utf8-order';

/** A bucket's versioning status; `Unversioned` until versioning is first configured. */
export type VersioningStatus = 'Unversioned' | 'Enabled' | 'Suspended';

/** The version id S3 gives objects written while versioning is off or suspended. */
export const NULL_VERSION_ID = 'null';

/** One stored version of a key: an object or a delete marker. */
export interface ObjectVersion {
  readonly key: string;
  /** Opaque id, or `'null'` for the null version. */
  readonly versionId: string;
  readonly isDeleteMarker: boolean;
  /** Empty for delete markers. */
  readonly body: Uint8Array;
  /** Quoted MD5 hex of the body, e.g. `"d41d8cd98f00b204e9800998ecf8427e"`. */
  readonly etag: string;
  /** Store time of the write, ms since the epoch. */
  readonly lastModifiedMs: number;
  readonly contentType: string;
  /** User metadata, names lower-case and without the `x-amz-meta-` prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Store-wide write counter: the total order of writes, even within one millisecond. */
  readonly sequence: number;
}

export class BucketState {
  versioning: VersioningStatus = 'Unversioned';
  /** key -> versions, newest first. */
  private readonly objects = new Map<string, ObjectVersion[]>();
  private sortedKeys: string[] | undefined;

  constructor(
    readonly name: string,
    readonly creationMs: number,
  ) {}

  /** All versions of `key`, newest first (empty when the key has none). */
  versionsOf(key: string): readonly ObjectVersion[] {
    return this.objects.get(key) ?? [];
  }

  /** The newest version of `key`, possibly a delete marker. */
  latest(key: string): ObjectVersion | undefined {
    return this.objects.get(key)?.[0];
  }

  /** The newest version of `key` if it is an object (not a delete marker): what a plain GET returns. */
  live(key: string): ObjectVersion | undefined {
    const latest = this.latest(key);
    return latest === undefined || latest.isDeleteMarker ? undefined : latest;
  }

  find(key: string, versionId: string): ObjectVersion | undefined {
    return this.objects.get(key)?.find((v) => v.versionId === versionId);
  }

  /** Adds `version` as the newest; a `null` version replaces the key's previous `null` version. */
  add(version: ObjectVersion): void {
    const existing = this.objects.get(version.key);
    if (existing === undefined) {
      this.objects.set(version.key, [version]);
      this.sortedKeys = undefined;
      return;
    }
    const kept = version.versionId === NULL_VERSION_ID ? existing.filter((v) => v.versionId !== NULL_VERSION_ID) : existing;
    this.objects.set(version.key, [version, ...kept]);
  }

  /** Permanently removes one version; returns it, or `undefined` when there was none. */
  remove(key: string, versionId: string): ObjectVersion | undefined {
    const existing = this.objects.get(key);
    const removed = existing?.find((v) => v.versionId === versionId);
    if (existing === undefined || removed === undefined) return undefined;
    const kept = existing.filter((v) => v !== removed);
    if (kept.length > 0) {
      this.objects.set(key, kept);
    } else {
      this.objects.delete(key);
      this.sortedKeys = undefined;
    }
    return removed;
  }

  /** Every key with at least one version (delete markers included), ascending UTF-8 order. */
  keys(): readonly string[] {
    this.sortedKeys ??= [...this.objects.keys()].sort(compareUtf8);
    return this.sortedKeys;
  }

  isEmpty(): boolean {
    return this.objects.size === 0;
  }
}
