import { S3LockInvalidOptionsError } from './errors';

/** Longest lock name accepted, in characters. */
export const MAX_LOCK_NAME_LENGTH = 256;

/**
 * Validates a lock name: a non-empty string of at most {@link MAX_LOCK_NAME_LENGTH} characters
 * without control characters, lone surrogates, U+FFFE or U+FFFF (see {@link XML_RULE}). Any other
 * character is allowed; names are encoded into keys.
 */
export function checkLockName(name: unknown): string {
  if (typeof name !== 'string') {
    throw new S3LockInvalidOptionsError('name', `a lock name must be a string, got ${typeof name}`);
  }
  if (name.length === 0) throw new S3LockInvalidOptionsError('name', 'a lock name must not be empty');
  if (name.length > MAX_LOCK_NAME_LENGTH) {
    throw new S3LockInvalidOptionsError('name', `a lock name must be at most ${MAX_LOCK_NAME_LENGTH} characters, got ${name.length}`, name.slice(0, 40) + '...');
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new S3LockInvalidOptionsError('name', 'a lock name must not contain control characters', JSON.stringify(name));
  }
  if (!isWellFormed(name)) throw new S3LockInvalidOptionsError('name', 'a lock name must be well-formed UTF-16 (no lone surrogates)', name);
  const notXml = firstNonXmlCharacter(name);
  if (notXml !== undefined) {
    throw new S3LockInvalidOptionsError('name', `a lock name must not contain ${notXml}: ${XML_RULE}`, JSON.stringify(name));
  }
  return name;
}

/**
 * Why names and prefixes are limited to XML 1.0 characters: S3 returns listed keys in XML (the
 * library lists without `EncodingType=url`), so a key with another character makes a listing
 * that is not well-formed XML, and DeleteObjects cannot name it.
 */
export const XML_RULE =
  'S3 returns keys in XML listings, and XML 1.0 allows no U+FFFE, U+FFFF, lone surrogates or control characters other than tab, LF and CR';

/** XML 1.0's `Char` production, negated (with the `u` flag a lone surrogate is one code point). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** The first character of `s` that XML 1.0 does not allow, as `U+XXXX`, or undefined. */
export function firstNonXmlCharacter(s: string): string | undefined {
  const found = NOT_XML_CHAR.exec(s);
  if (!found) return undefined;
  return `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function isWellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Encodes a lock name into one key segment that cannot contain "/" and cannot be "." or "..":
 * ASCII characters other than letters, digits, "-", "_" and ":" are percent-encoded ("%" too);
 * other characters stay as they are (keys are UTF-8), so a 256-character name fits S3's
 * 1024-byte keys. Distinct names give distinct segments, and no segment starts with ".", which
 * keeps the probe's keys apart.
 */
export function encodeLockName(name: string): string {
  return name.replace(/[^A-Za-z0-9_\-:\u0080-\uffff]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** The key prefix that holds every record of a lock: `<prefix><encoded name>/`. */
export function lockKeyPrefix(prefix: string, name: string): string {
  return `${prefix}${encodeLockName(name)}/`;
}
