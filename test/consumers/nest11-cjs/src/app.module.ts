import { S3Client } from '@aws-sdk/client-s3';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { S3LockModule } from 'nestjs-s3-lock';
import { NightlyJob } from './nightly.job';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';
import { S3Module } from './s3.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    ScheduleModule.forRoot(),
    S3Module,
    S3LockModule.forRootAsync({
      inject: [S3Client, ConfigService],
      useFactory: (s3: S3Client, config: ConfigService) => ({
        client: s3, // yours: the module never destroys it
        bucket: config.getOrThrow<string>('S3_LOCK_BUCKET'), // must exist
        ttlMs: 30_000,
      }),
    }),
  ],
  controllers: [ReportsController],
  providers: [ReportsService, NightlyJob],
})
export class AppModule {}
