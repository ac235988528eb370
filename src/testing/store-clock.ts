/**
 * The store's single clock. `Date` headers, `Last-Modified` headers and listing timestamps all come
 * from it, so a test can skew the "server" against the client with {@link StoreClock.offsetMs}.
 */
export class StoreClock {
  /** Milliseconds added to `Date.now()`. Default 0. */
  offsetMs: number;

  constructor(offsetMs = 0) {
    this.offsetMs = offsetMs;
  }

  /** Current store time in ms since the epoch (millisecond precision). */
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/** RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), floored to the second. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** ISO 8601 with milliseconds (`2024-01-02T03:04:05.678Z`), as S3 listings show it. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** Parses an HTTP date header; `undefined` when absent or unparseable (S3 then ignores the condition). */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Floors a ms timestamp to the whole second, the resolution of HTTP date headers. */
export function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
