/**
 * The page walk shared by ListObjects(V2) and ListObjectVersions: keys in UTF-8 order under a
 * prefix, rolled up into common prefixes at the delimiter, cut at `maxKeys` entries.
 */
import { compareUtf8 } from './utf8-order';

/** One listing entry: an item of a key, or a common prefix (counted once). */
export type WalkEntry<T> = { readonly key: string; readonly item: T } | { readonly commonPrefix: string };

export interface KeyWalk<T> {
  /** All keys, ascending UTF-8 order. */
  readonly keys: readonly string[];
  readonly prefix: string;
  readonly delimiter: string | undefined;
  readonly maxKeys: number;
  /** Start after this key (or at it, when `inclusive`). */
  readonly start?: { readonly key: string; readonly inclusive: boolean };
  /** Skip keys under this common prefix (resuming after it). */
  readonly skipPrefix?: string;
  /** The items a key contributes, in listing order; empty to leave the key out. */
  itemsOf(key: string): readonly T[];
}

export interface WalkResult<T> {
  readonly entries: WalkEntry<T>[];
  /** True when at least one more entry follows the page. */
  readonly truncated: boolean;
}

/** The common prefix `key` rolls up into, or `undefined` when it has no delimiter past the prefix. */
export function rollUp(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (delimiter === undefined || delimiter === '' || !key.startsWith(prefix)) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

/** Index of the first key not below `bound` (or above it, when `strict`). */
function lowerBound(keys: readonly string[], bound: string, strict: boolean): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = compareUtf8(keys[mid] as string, bound);
    if (order < 0 || (strict && order === 0)) low = mid + 1;
    else high = mid;
  }
  return low;
}

export function walkKeys<T>(walk: KeyWalk<T>): WalkResult<T> {
  const { keys, prefix, delimiter, maxKeys } = walk;
  const entries: WalkEntry<T>[] = [];
  if (maxKeys <= 0) return { entries, truncated: false };
  let index = lowerBound(keys, prefix, false);
  if (walk.start !== undefined) index = Math.max(index, lowerBound(keys, walk.start.key, !walk.start.inclusive));
  let lastPrefix: string | undefined;
  for (; index < keys.length; index++) {
    const key = keys[index] as string;
    if (!key.startsWith(prefix)) break;
    if (walk.skipPrefix !== undefined && key.startsWith(walk.skipPrefix)) continue;
    const items = walk.itemsOf(key);
    if (items.length === 0) continue;
    const commonPrefix = rollUp(key, prefix, delimiter);
    if (commonPrefix !== undefined) {
      if (commonPrefix === lastPrefix) continue;
      if (entries.length >= maxKeys) return { entries, truncated: true };
      entries.push({ commonPrefix });
      lastPrefix = commonPrefix;
      continue;
    }
    for (const item of items) {
      if (entries.length >= maxKeys) return { entries, truncated: true };
      entries.push({ key, item });
    }
  }
  return { entries, truncated: false };
}
