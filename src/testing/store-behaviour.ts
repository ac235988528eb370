/**
 * Switches that make the in-memory store behave like a broken S3-compatible store, so that a lock
 * can be tested against the failure it must detect. All default to `false` (AWS behaviour).
 */
export interface InMemoryS3Behaviour {
  /** Accept `If-None-Match: *` on PUT and overwrite (Wasabi, GCS XML API, npm fakes). Default false. */
  ignoreIfNoneMatch: boolean;
  /** Ignore `If-None-Match: *` in buckets whose versioning was ever configured (Ceph RGW 16). Default false. */
  ignoreIfNoneMatchWhenVersioned: boolean;
  /** Accept `If-Match` on PUT without comparing (moto 5.1). Default false. */
  ignoreIfMatch: boolean;
  /** Fail every quoted `If-Match` on PUT with 412, even a matching one (Ceph RGW 16). Default false. */
  rejectQuotedIfMatch: boolean;
  /** Delete without checking `If-Match` on DeleteObject / DeleteObjects (RGW 16, moto 5.1). Default false. */
  ignoreConditionalDelete: boolean;
}

/** AWS behaviour: every switch off. */
export function awsBehaviour(): InMemoryS3Behaviour {
  return {
    ignoreIfNoneMatch: false,
    ignoreIfNoneMatchWhenVersioned: false,
    ignoreIfMatch: false,
    rejectQuotedIfMatch: false,
    ignoreConditionalDelete: false,
  };
}
