/**
 * `@WithS3Lock()` placed above and below `@Cron` and `@Get` (decorators apply bottom-up, so both
 * orders must keep the other decorator's metadata): the job stays registered and runs under the
 * lock, the route stays mapped and answers under the lock, other route metadata is kept. Also the
 * ShedLock scenario: the same cron job on two nodes runs once per tick.
 */
import { Controller, Get, Header, HttpCode, Injectable } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Cron, Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { currentS3Lock, getS3LockMetadata, S3LockService, WithS3Lock } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { getJson, sleep, startLockApp, TEST_TTL_MS, waitUntil, type LockApp } from './support/nest-app';

interface Run {
  readonly lock: string | undefined;
  readonly token: number | undefined;
  readonly at: number;
  readonly app: string;
}

const runs: Record<string, Run[]> = { above: [], below: [], interval: [], shared: [] };

function record(job: string, app: string): void {
  const lock = currentS3Lock();
  runs[job]!.push({ lock: lock?.name, token: lock?.fencingToken, at: Date.now(), app });
}

@Injectable()
class Jobs {
  app = 'A';

  @WithS3Lock('cron:above')
  @Cron('* * * * * *', { name: 'above' })
  async above(): Promise<void> {
    record('above', this.app);
  }

  @Cron('* * * * * *', { name: 'below' })
  @WithS3Lock('cron:below')
  async below(): Promise<void> {
    record('below', this.app);
  }

  @Interval('interval', 250)
  @WithS3Lock('interval:below')
  async tick(): Promise<void> {
    record('interval', this.app);
  }

  /** Runs on every node each second; minHoldMs keeps the others out for the rest of the tick. */
  @WithS3Lock('cron:shared', { minHoldMs: 500 })
  @Cron('* * * * * *', { name: 'shared' })
  async shared(): Promise<void> {
    record('shared', this.app);
  }
}

@Controller('placement')
class PlacementController {
  @WithS3Lock('get:above')
  @Get('above')
  @Header('x-kept', 'above')
  async above(): Promise<{ lock: string | undefined }> {
    return { lock: currentS3Lock()?.name };
  }

  @HttpCode(202)
  @Get('below')
  @WithS3Lock('get:below')
  async below(): Promise<{ lock: string | undefined }> {
    return { lock: currentS3Lock()?.name };
  }
}

describe('@WithS3Lock placed above and below @Cron / @Interval / @Get', () => {
  let target: StoreTarget;
  let bucket: string;
  let a: LockApp;

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
    a = await startLockApp({
      lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS },
      imports: [ScheduleModule.forRoot()],
      controllers: [PlacementController],
      providers: [Jobs],
      listen: true,
    });
  });

  afterAll(async () => {
    await a?.close();
    await target?.close();
  });

  it('keeps the metadata of the decorators it wraps, and the function name', () => {
    const proto = Jobs.prototype;
    expect(proto.above.name).toBe('above');
    expect(proto.below.name).toBe('below');
    expect(Reflect.getMetadata('SCHEDULE_CRON_OPTIONS', proto.above)).toMatchObject({ cronTime: '* * * * * *', name: 'above' });
    expect(Reflect.getMetadata('SCHEDULE_CRON_OPTIONS', proto.below)).toMatchObject({ cronTime: '* * * * * *', name: 'below' });
    expect(getS3LockMetadata(proto.above)).toMatchObject({ name: 'cron:above', where: 'Jobs.above' });
    expect(getS3LockMetadata(proto.below)).toMatchObject({ name: 'cron:below', where: 'Jobs.below' });

    const ctrl = PlacementController.prototype;
    expect(Reflect.getMetadata(PATH_METADATA, ctrl.above)).toBe('above');
    expect(Reflect.getMetadata(METHOD_METADATA, ctrl.below)).toBe(0); // RequestMethod.GET
    expect(Reflect.getMetadata(PATH_METADATA, ctrl.below)).toBe('below');
    expect(getS3LockMetadata(ctrl.above)).toBeDefined();
    expect(getS3LockMetadata(ctrl.below)).toBeDefined();
  });

  it('the cron jobs stay registered and run under their lock, in both orders', async () => {
    const registry = a.get(SchedulerRegistry);
    expect(registry.getCronJob('above')).toBeDefined();
    expect(registry.getCronJob('below')).toBeDefined();
    expect(registry.getInterval('interval')).toBeDefined();
    await waitUntil(() => runs.above!.length > 0 && runs.below!.length > 0 && runs.interval!.length > 0, 4_000, 'the jobs to run');
    expect(runs.above![0]).toMatchObject({ lock: 'cron:above', token: expect.any(Number) });
    expect(runs.below![0]).toMatchObject({ lock: 'cron:below', token: expect.any(Number) });
    expect(runs.interval![0]).toMatchObject({ lock: 'interval:below', token: expect.any(Number) });
  });

  it('the routes stay mapped and answer under their lock, in both orders', async () => {
    const above = await getJson(`${a.url}/placement/above`);
    expect(above.status).toBe(200);
    expect(above.body).toEqual({ lock: 'get:above' });
    expect(above.headers.get('x-kept')).toBe('above');
    const below = await getJson(`${a.url}/placement/below`);
    expect(below.status).toBe(202);
    expect(below.body).toEqual({ lock: 'get:below' });
  });

  it('the same cron job on two nodes runs once per tick (the others skip)', async () => {
    const b = await startLockApp({
      lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS },
      imports: [ScheduleModule.forRoot()],
      providers: [Jobs],
    });
    let bSkipped = 0;
    b.get(S3LockService).on('notAcquired', (e) => {
      if (e.name === 'cron:shared') bSkipped++;
    });
    const windowMs = 4_000;
    try {
      await b.get(S3LockService).probe();
      b.get(Jobs).app = 'B';
      runs.shared!.length = 0;
      await sleep(windowMs);
    } finally {
      await b.close();
    }
    const shared = [...runs.shared!].sort((x, y) => x.at - y.at);
    expect(shared.length).toBeGreaterThanOrEqual(1);
    expect(shared.every((r) => r.lock === 'cron:shared')).toBe(true);
    // both nodes fire every second; without the lock there would be two runs per tick
    expect(shared.length).toBeLessThanOrEqual(Math.ceil(windowMs / 1_000) + 1);
    // the runs are serialised by the lock and its minHoldMs (500 ms) across both nodes
    for (let i = 1; i < shared.length; i++) expect(shared[i]!.at - shared[i - 1]!.at).toBeGreaterThanOrEqual(400);
    // B took part: it ran a tick or skipped one
    expect(bSkipped + shared.filter((r) => r.app === 'B').length).toBeGreaterThanOrEqual(1);
  });
});
