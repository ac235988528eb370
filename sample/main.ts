/**
 * Starts one instance of the sample. Run several against the same bucket to watch them share
 * the work (or `npm run demo`, which runs three and prints a timeline):
 *
 *   npx ts-node src/cli/main.ts memory-s3 &                  # wait for S3_ENDPOINT=http://127.0.0.1:4599
 *   INSTANCE=A PORT=3001 node -r ts-node/register/transpile-only sample/main.ts
 *   INSTANCE=B PORT=3002 node -r ts-node/register/transpile-only sample/main.ts
 *   curl -X POST localhost:3001/reports/42 & curl -X POST localhost:3002/reports/42   # 200 and 423
 *
 * Configuration: sample/config.ts. Lock events and job runs are JSON lines on stdout (event-log.ts),
 * the first one `{"event":"listening","port":...}`; Nest's own log is JSON too.
 */
import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import { SAMPLE_CONFIG, type SampleConfig } from './config';
import { EventLog } from './event-log';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, {
    logger: new ConsoleLogger({ json: true, logLevels: ['fatal', 'error', 'warn'] }),
  });
  // SIGTERM / SIGINT run the shutdown hooks: held locks are released at once instead of
  // blocking the other instances until their TTL runs out
  app.enableShutdownHooks();
  const config = app.get<SampleConfig>(SAMPLE_CONFIG);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  app.get(EventLog).write('listening', { port, pid: process.pid, bucket: config.bucket, endpoint: config.endpoint, ttlMs: config.lockTtlMs });
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`sample failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
