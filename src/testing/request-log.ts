/** What the store records about every request it received (`store.requests`). */
import type { FaultKind } from './fault-injector';
import type { S3Operation } from './s3-request';

export interface S3RequestLogEntry {
  readonly operation: S3Operation;
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  /** The `versionId` query parameter, when the request carried one. */
  readonly versionId: string | undefined;
  /**
   * The status the store produced; for a `drop-response` fault the status of the applied request
   * that the client never saw; 0 for a `reset-before` fault (nothing was applied or answered).
   */
  readonly status: number;
  /** True when the request carried a precondition (`If-Match`, `If-None-Match`, dates, DeleteObjects ETags). */
  readonly conditional: boolean;
  /** The injected fault that hit this request, if any. */
  readonly fault: FaultKind | undefined;
  /** Store time at which the request was applied (or refused), ms since the epoch. */
  readonly atMs: number;
}
