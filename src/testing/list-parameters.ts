/** Query parameters shared by the listing operations: `max-keys`, `encoding-type`, `delimiter`. */
import { invalidArgument } from './s3-errors';
import { queryParam, type S3Call } from './s3-request';

/** S3's default and maximum page size. */
export const MAX_KEYS_LIMIT = 1000;

/** `max-keys` capped at 1000 (default 1000); 400 InvalidArgument when not a non-negative integer. */
export function maxKeysOf(call: S3Call, name = 'max-keys'): number {
  const raw = queryParam(call, name);
  if (raw === undefined || raw === '') return MAX_KEYS_LIMIT;
  if (!/^\d+$/.test(raw)) {
    throw invalidArgument('Provided max-keys not an integer or within integer range', name, raw);
  }
  return Math.min(Number(raw), MAX_KEYS_LIMIT);
}

/** `delimiter`, with an empty value meaning none. */
export function delimiterOf(call: S3Call): string | undefined {
  const delimiter = queryParam(call, 'delimiter');
  return delimiter === '' ? undefined : delimiter;
}

/**
 * The encoder for keys and prefixes in the response: identity, or URL encoding (keeping `/`) when
 * `encoding-type=url`; 400 InvalidArgument for other encodings.
 */
export function keyEncoderOf(call: S3Call): { encodingType: string | undefined; encode(text: string): string } {
  const encodingType = queryParam(call, 'encoding-type');
  if (encodingType === undefined || encodingType === '') return { encodingType: undefined, encode: (text) => text };
  if (encodingType.toLowerCase() !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
  return { encodingType: 'url', encode: (text) => encodeURIComponent(text).replace(/%2F/g, '/') };
}
