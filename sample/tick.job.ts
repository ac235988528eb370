/**
 * A cron job every second that must run on exactly one instance per tick (ShedLock's use case).
 * Every instance fires it; `@WithS3Lock` lets the first one run it and the others skip (the
 * default `onLocked` of scheduled jobs). `minHoldMs` keeps the lock for 800 ms after the
 * acquisition even though the job itself is quick, so an instance whose timer fires a little late
 * cannot run the same tick again once the first one is done.
 */
import { Injectable } from '@nestjs/common';
import { Cron, CronExpression, SchedulerRegistry } from '@nestjs/schedule';
import { currentS3Lock, WithS3Lock } from '../src';
import { EventLog } from './event-log';

export const TICK_LOCK = 'tick-job';
const CRON_NAME = 'tick';

@Injectable()
export class TickJob {
  constructor(
    private readonly log: EventLog,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  @Cron(CronExpression.EVERY_SECOND, { name: CRON_NAME })
  @WithS3Lock(TICK_LOCK, { minHoldMs: 800 })
  async tick(): Promise<void> {
    // the second this tick was scheduled for: when the timer fired, not when the lock was granted
    const firedAt = this.scheduler.getCronJob(CRON_NAME).lastDate() ?? new Date();
    const end = this.log.runStart('tick', currentS3Lock()!, {
      second: Math.floor(firedAt.getTime() / 1000),
      lagMs: Date.now() - firedAt.getTime(),
    });
    // the job's work would go here (a report, a clean-up, a sync...)
    end();
  }
}
