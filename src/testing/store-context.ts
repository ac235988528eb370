/** What an operation needs from the store: buckets, clock, behaviour switches, id sources. */
import type { BucketState } from './bucket-state';
import { noSuchBucket } from './s3-errors';
import type { InMemoryS3Behaviour } from './store-behaviour';

export interface StoreContext {
  readonly buckets: Map<string, BucketState>;
  readonly behaviour: InMemoryS3Behaviour;
  /** Store time, ms since the epoch. */
  now(): number;
  /** Next value of the store-wide write counter. */
  nextSequence(): number;
  /** A fresh, unique, opaque version id. */
  newVersionId(): string;
}

/** The named bucket, or 404 NoSuchBucket. */
export function requireBucket(ctx: StoreContext, name: string | undefined): BucketState {
  const bucket = name === undefined ? undefined : ctx.buckets.get(name);
  if (bucket === undefined) throw noSuchBucket(name ?? '');
  return bucket;
}
