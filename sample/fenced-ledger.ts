/**
 * A fenced resource: an append-only ledger in the bucket that refuses writes carrying a fencing
 * token lower than the newest entry's. A lock alone cannot stop a holder that was paused (GC,
 * swap, SIGSTOP) past its lease from writing after someone else took over; the token can: the
 * new holder's token is higher, and once it wrote, the old holder's writes are refused.
 *
 * Entry N is the object `ledger/<N, 12 digits>`, created with `If-None-Match: *`, so two writers
 * can never both append entry N (compare-and-set on S3 without `If-Match`, which not every
 * S3-compatible store honours). An append reads the newest entry, refuses if its token is higher,
 * and creates the next one; a 412 means another writer appended first: read again and retry.
 * In a real application this is the database that checks the token in its `UPDATE ... WHERE`.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Inject, Injectable } from '@nestjs/common';
import { SAMPLE_CONFIG, type SampleConfig } from './config';
import { statusOf } from './storage.module';

const PREFIX = 'ledger/';
const MAX_ATTEMPTS = 20;

export interface LedgerEntry {
  /** Position in the ledger (1, 2, ...): the queue item this entry records. */
  readonly version: number;
  /** Fencing token of the lease the writer held. */
  readonly token: number;
  readonly instance: string;
  readonly writtenAt: string;
}

/** The ledger's newest entry carries a higher token: the caller's lease is stale. */
export class FencedOffError extends Error {
  constructor(
    readonly token: number,
    readonly newestToken: number,
  ) {
    super(`fencing token ${token} refused: the ledger already has an entry written with token ${newestToken}`);
    this.name = 'FencedOffError';
  }
}

@Injectable()
export class FencedLedger {
  /** The newest entry this instance knows of; the listing starts after it. */
  private newest: { version: number; token: number } | undefined;

  constructor(
    private readonly s3: S3Client,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  /** Appends an entry written under `token`; throws {@link FencedOffError} if a higher token wrote before. */
  async append(token: number, signal?: AbortSignal): Promise<LedgerEntry> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const newest = await this.readNewest(signal);
      if (newest && newest.token > token) throw new FencedOffError(token, newest.token);
      const entry: LedgerEntry = { version: (newest?.version ?? 0) + 1, token, instance: this.config.instance, writtenAt: new Date().toISOString() };
      try {
        await this.s3.send(
          new PutObjectCommand({ Bucket: this.config.bucket, Key: keyOf(entry.version), Body: JSON.stringify(entry), ContentType: 'application/json', IfNoneMatch: '*' }),
          { abortSignal: signal },
        );
        this.newest = { version: entry.version, token };
        return entry;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 412 && status !== 409) throw error; // 409: a concurrent create of the same key
      }
    }
    throw new Error(`ledger: could not append after ${MAX_ATTEMPTS} attempts`);
  }

  /** The newest entry in the bucket (lists the keys after the newest one known). */
  private async readNewest(signal?: AbortSignal): Promise<{ version: number; token: number } | undefined> {
    let lastKey: string | undefined;
    let continuationToken: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: PREFIX,
          StartAfter: this.newest ? keyOf(this.newest.version) : undefined,
          ContinuationToken: continuationToken,
        }),
        { abortSignal: signal },
      );
      for (const object of page.Contents ?? []) if (object.Key && /^ledger\/\d{12}$/.test(object.Key)) lastKey = object.Key;
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    if (lastKey === undefined) return this.newest;
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: lastKey }), { abortSignal: signal });
    const entry = JSON.parse(await object.Body!.transformToString()) as LedgerEntry;
    this.newest = { version: entry.version, token: entry.token };
    return this.newest;
  }
}

function keyOf(version: number): string {
  return `${PREFIX}${String(version).padStart(12, '0')}`;
}
