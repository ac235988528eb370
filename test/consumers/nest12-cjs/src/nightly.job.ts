import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { WithS3Lock } from 'nestjs-s3-lock';
import { ReportsService } from './reports.service';

@Injectable()
export class NightlyJob {
  constructor(private readonly reports: ReportsService) {}

  // Runs on one instance per tick; the others skip it. minHoldMs keeps the lock a while after a
  // quick run, so an instance whose clock is a little behind does not run the same tick again.
  @WithS3Lock('nightly-cleanup', { minHoldMs: 10_000 })
  @Cron('0 3 * * *')
  async cleanup(): Promise<void> {
    await this.reports.cleanup();
  }
}
