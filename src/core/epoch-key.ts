/**
 * Epoch numbers in keys. Keys are `MAX_EPOCH - epoch` in fixed width, so that ascending key order
 * is descending epoch order and `ListObjectsV2 MaxKeys=1` returns the newest record.
 */
export const MAX_EPOCH = 999_999_999_999_999; // 15 digits, below 2^53
const WIDTH = 15;

/** The key of `epoch` (1 to {@link MAX_EPOCH}, whose key is all zeros) under `lockPrefix`. */
export function epochKey(lockPrefix: string, epoch: number): string {
  if (!Number.isSafeInteger(epoch) || epoch < 1 || epoch > MAX_EPOCH) throw new RangeError(`epoch out of range: ${epoch}`);
  return lockPrefix + String(MAX_EPOCH - epoch).padStart(WIDTH, '0');
}

/** The epoch of a key under `lockPrefix`, or `undefined` if the key is not a record key. */
export function epochOfKey(lockPrefix: string, key: string): number | undefined {
  if (!key.startsWith(lockPrefix)) return undefined;
  const rest = key.slice(lockPrefix.length);
  if (rest.length !== WIDTH || !/^[0-9]+$/.test(rest)) return undefined;
  const epoch = MAX_EPOCH - Number(rest);
  return epoch >= 1 ? epoch : undefined;
}
