/**
 * The log lines an operator sees at default settings while two instances run the same per-second
 * cron job under one lock: one start-up line each, and nothing else above `debug` (the losing
 * instance's skips, the attempts and acquisitions are all `debug`). 20 s on RGW and moto, 5 s on
 * the in-memory store.
 */
import { Injectable } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { WithS3Lock } from '../../src';
import { CapturingLogger } from './support/capturing-logger';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { sleep, startLockApp, TEST_TTL_MS, type LockApp } from './support/nest-app';

const WINDOW_MS = process.env.S3_LOCK_TARGET === 'rgw' || process.env.S3_LOCK_TARGET === 'moto' ? 20_000 : 5_000;

let runs = 0;

@Injectable()
class Tick {
  @Cron('* * * * * *')
  @WithS3Lock('cron:every-second', { minHoldMs: 900 })
  async tick(): Promise<void> {
    runs++;
    await sleep(100);
  }
}

let target: StoreTarget;
beforeAll(async () => {
  target = await storeTarget();
});
afterAll(() => target?.close());

it(`two instances of a per-second cron for ${WINDOW_MS / 1000} s at default settings: one start-up line each, nothing else above debug`, async () => {
  const bucket = await target.createBucket();
  const loggers = [new CapturingLogger(), new CapturingLogger()];
  const apps: LockApp[] = [];
  try {
    for (const logger of loggers) {
      apps.push(
        await startLockApp({
          lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS, logger, warnWithoutShutdownHooks: false },
          imports: [ScheduleModule.forRoot()],
          providers: [Tick],
        }),
      );
    }
    runs = 0;
    await sleep(WINDOW_MS);
  } finally {
    await Promise.all(apps.map((a) => a.close()));
  }
  for (const logger of loggers) {
    const loud = logger.lines.filter((l) => l.level === 'log' || l.level === 'warn' || l.level === 'error');
    expect(loud).toEqual([{ level: 'log', message: `Lock store ready: bucket "${bucket}", prefix "locks/", protocol create-only (probe passed at start-up)` }]);
  }
  // the job ran about once a second across both, and the losing ticks were logged, at debug
  expect(runs).toBeGreaterThanOrEqual(WINDOW_MS / 1000 / 2);
  expect(runs).toBeLessThanOrEqual(WINDOW_MS / 1000 + 1);
  const skips = loggers.flatMap((l) => l.lines).filter((l) => l.message.startsWith('Skipped Tick.tick'));
  expect(skips.length).toBeGreaterThanOrEqual(1);
  expect(skips.every((l) => l.level === 'debug')).toBe(true);
  // holders are named by host, pid and manager id, never by a per-attempt instance id
  expect(skips[0]!.message).toMatch(/held by \S+ pid \d+ \(manager [0-9a-f]{8}, fencing token \d+\)/);
}, WINDOW_MS + 60_000);
