/**
 * Load from other clients of the store, for the capacity measurement's overload phase: PUTs of
 * small objects with `concurrency` requests in flight, until killed. Started by capacity.ts.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { columnClient, type ColumnConfig } from './lock-column';

const config = JSON.parse(process.argv[2] ?? '{}') as ColumnConfig & { readonly concurrency: number; readonly prefix: string };
const client = columnClient(config);
let n = 0;
async function worker(): Promise<void> {
  for (;;) {
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.prefix}${n++ % 1000}`, Body: 'load' })).catch(() => undefined);
  }
}
for (let i = 0; i < config.concurrency; i++) void worker();
