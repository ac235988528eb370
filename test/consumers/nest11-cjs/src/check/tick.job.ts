// Not part of the README example: what the consumer check (scripts/consumers/check-app.ts) adds to
// observe the lock across instances. A job every second under @WithS3Lock: each tick runs on one
// instance; GET /ticks lists the ticks (epoch seconds) this instance ran.
import { Controller, Get, Injectable } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { WithS3Lock } from 'nestjs-s3-lock';

@Injectable()
export class TickJob {
  readonly ran: number[] = [];

  @WithS3Lock('consumer-tick', { minHoldMs: 500 })
  @Cron(CronExpression.EVERY_SECOND)
  async tick(): Promise<void> {
    this.ran.push(Math.round(Date.now() / 1000));
  }
}

@Controller('ticks')
export class TicksController {
  constructor(private readonly job: TickJob) {}

  @Get()
  list(): { pid: number; ran: number[] } {
    return { pid: process.pid, ran: this.job.ran };
  }
}
