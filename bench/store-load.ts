/**
 * Load from other clients of the store, for the capacity measurement's overload phase: PUTs of
 * small objects with `concurrency` requests in flight, until killed. Started by capacity.ts.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ColumnConfig } from './lock-column';

const config = JSON.parse(process.argv[2] ?? '{}') as ColumnConfig & { readonly concurrency: number; readonly prefix: string };
const client = new S3Client({
  endpoint: config.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
let n = 0;
async function worker(): Promise<void> {
  for (;;) {
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.prefix}${n++ % 1000}`, Body: 'load' })).catch(() => undefined);
  }
}
for (let i = 0; i < config.concurrency; i++) void worker();
