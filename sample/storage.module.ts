/**
 * The application's S3 client, shared by the lock module and the fenced ledger, and the bucket
 * check: the bucket is created when it does not exist yet (several instances starting at once may
 * all try; the losers' "already exists" answers are fine).
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { configFromEnv, SAMPLE_CONFIG, type SampleConfig } from './config';

/** Destroys the client after everything else shut down (the lock module releases its locks before). */
@Injectable()
class ClientCloser implements OnApplicationShutdown {
  constructor(private readonly s3: S3Client) {}

  onApplicationShutdown(): void {
    this.s3.destroy();
  }
}

@Global()
@Module({
  providers: [
    { provide: SAMPLE_CONFIG, useFactory: (): SampleConfig => configFromEnv() },
    {
      provide: S3Client,
      inject: [SAMPLE_CONFIG],
      useFactory: (config: SampleConfig): S3Client =>
        new S3Client({
          endpoint: config.endpoint,
          region: config.region,
          forcePathStyle: config.forcePathStyle,
          credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
          // S3-compatible stores differ in the checksums they accept: only send them when required
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }),
    },
    ClientCloser,
  ],
  exports: [SAMPLE_CONFIG, S3Client],
})
export class StorageModule {}

/** Creates `bucket` unless it exists. */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    // another instance created it meanwhile
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists' && statusOf(error) !== 409) throw error;
  }
}

/** The HTTP status of an SDK error, if any. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
