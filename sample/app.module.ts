/**
 * The sample application: S3LockModule configured from the environment (forRootAsync), a locked
 * route, a locked cron job and a locked queue worker writing to a fenced resource.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Logger, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { S3LockModule, type S3LockModuleOptions } from '../src';
import { SAMPLE_CONFIG, type SampleConfig } from './config';
import { EventLog } from './event-log';
import { FencedLedger } from './fenced-ledger';
import { HealthController } from './health.controller';
import { meterProvider, MetricsController } from './metrics';
import { QueueWorker } from './queue-worker';
import { ReportsController } from './reports.controller';
import { ensureBucket, StorageModule } from './storage.module';
import { TickJob } from './tick.job';

@Module({
  imports: [
    StorageModule,
    ScheduleModule.forRoot(),
    S3LockModule.forRootAsync({
      imports: [StorageModule],
      inject: [SAMPLE_CONFIG, S3Client],
      useFactory: async (config: SampleConfig, s3: S3Client): Promise<S3LockModuleOptions> => {
        await ensureBucket(s3, config.bucket);
        return {
          client: s3, // the application's client: the module never destroys it (StorageModule does)
          bucket: config.bucket,
          ttlMs: config.lockTtlMs,
          probeOnStartup: true, // the default: an unreachable bucket fails the start, not the first lock
          // The demo names the holder of each 423 (host, pid, manager id); off by default, as it
          // tells any client the names of internal hosts.
          http: { exposeHolder: true },
          logger: new Logger(`S3Lock ${config.instance}`),
          // OpenTelemetry metrics, served at GET /metrics; decorated locks are named by their template
          telemetry: { meterProvider },
        };
      },
    }),
  ],
  controllers: [ReportsController, HealthController, MetricsController],
  providers: [EventLog, TickJob, FencedLedger, QueueWorker],
})
export class AppModule {}
