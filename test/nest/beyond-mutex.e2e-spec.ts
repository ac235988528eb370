/**
 * Two Nest applications sharing a bucket (two managers, as two nodes would be): a semaphore route
 * (`permits`), routes and provider methods holding several names, and `@WhileLeader()` methods
 * with their health report. Runs against every store (memory, rgw, moto).
 */
import { Controller, Get, Injectable, Param } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import {
  currentS3Lock,
  currentS3MultiLock,
  S3LockHealthIndicator,
  S3LockService,
  WhileLeader,
  WithS3Lock,
  type S3LockContext,
  type S3LockHealthElection,
} from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { getJson, sleep, startLockApp, TEST_TTL_MS, waitUntil, type LockApp } from './support/nest-app';

@Injectable()
class AppName {
  constructor(readonly name: string) {}
}

@Controller()
class LimitedController {
  constructor(private readonly app: AppName) {}

  /** At most two at once across both applications; 423 for the rest. */
  @Get('exports')
  @WithS3Lock('e2e:exports', { permits: 2 })
  async exports(): Promise<{ app: string; lock: string; token: number }> {
    await sleep(600);
    const { name, fencingToken } = currentS3Lock()!;
    return { app: this.app.name, lock: name, token: fencingToken };
  }

  /** Two static names. */
  @Get('pair')
  @WithS3Lock(['e2e:y', 'e2e:x'])
  async pair(): Promise<{ names: readonly string[]; tokens: Readonly<Record<string, number>> }> {
    await sleep(1_000);
    const { names, fencingTokens } = currentS3MultiLock()!;
    return { names, tokens: fencingTokens };
  }

  /** One of the pair's names alone. */
  @Get('y')
  @WithS3Lock('e2e:y')
  async y(): Promise<{ lock: string }> {
    return { lock: currentS3Lock()!.name };
  }

  /** Names from the route's parameters. */
  @Get('transfer/:from/:to')
  @WithS3Lock((from: string, to: string) => [`account:${from}`, `account:${to}`])
  async transfer(@Param('from') from: string, @Param('to') to: string): Promise<{ names: readonly string[]; lock: string }> {
    await sleep(600);
    return { names: currentS3MultiLock()!.names, lock: `${from}->${to}` };
  }
}

@Injectable()
class Ledger {
  /** A provider method holding two names from its arguments; 'skip' by default. */
  @WithS3Lock((a: string, b: string) => [a, b])
  async settle(a: string, b: string, hold: Promise<void>): Promise<string> {
    await hold;
    return `${a}+${b}`;
  }
}

/** Which application led when, shared by the applications of the election tests. */
const terms: { app: string; start: number; end?: number; token: number; reason?: unknown }[] = [];

@Injectable()
class Scheduler {
  constructor(private readonly app: AppName) {}

  @WhileLeader('e2e:scheduler')
  async lead(context: S3LockContext): Promise<void> {
    const term: (typeof terms)[number] = { app: this.app.name, start: Date.now(), token: context.fencingToken };
    terms.push(term);
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    term.end = Date.now();
    term.reason = context.signal.reason;
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly locks: S3LockHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.locks.isHealthy('locks')]);
  }
}

describe('semaphores and several names on two Nest applications sharing a bucket', () => {
  let target: StoreTarget;
  let bucket: string;
  let a: LockApp;
  let b: LockApp;

  const start = (name: string): Promise<LockApp> =>
    startLockApp({
      lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS },
      controllers: [LimitedController],
      providers: [Ledger, { provide: AppName, useValue: new AppName(name) }],
      listen: true,
    });

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
    [a, b] = await Promise.all([start('A'), start('B')]);
    await Promise.all([a.get(S3LockService).probe(), b.get(S3LockService).probe()]);
  });

  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await target?.close();
  });

  it('a route with permits 2 lets two concurrent requests in and answers 423 to the third', async () => {
    const results = await Promise.all([a.url, b.url, a.url].map((u) => getJson(`${u}/exports`)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 423]);
    const ok = results.filter((r) => r.status === 200).map((r) => r.body as { lock: string; token: number });
    expect(ok.map((r) => r.lock)).toEqual(['e2e:exports', 'e2e:exports']);
    const locked = results.find((r) => r.status === 423)!;
    expect(locked.body).toMatchObject({ statusCode: 423, error: 'Locked', lockName: 'e2e:exports' });
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    // both permits were given back
    for (const permit of [0, 1]) expect((await b.get(S3LockService).inspect(`e2e:exports#permit-${permit}`)).held).toBe(false);
    const again = await Promise.all([getJson(`${b.url}/exports`), getJson(`${a.url}/exports`)]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
  });

  it('an array-name route holds both names while it runs (423 for one of them alone) and releases both', async () => {
    const running = getJson(`${a.url}/pair`);
    const other = b.get(S3LockService);
    // taken one after the other, in canonical order: y is the last
    await waitUntil(async () => (await other.inspect('e2e:y')).held, 3_000, 'A to hold e2e:y');
    expect((await other.inspect('e2e:x')).held).toBe(true);
    expect(await other.lock('e2e:x').tryAcquire()).toBe(false);
    const y = await getJson(`${b.url}/y`);
    expect(y.status).toBe(423);
    expect(y.body).toMatchObject({ lockName: 'e2e:y' });
    const done = await running;
    expect(done.status).toBe(200);
    const body = done.body as { names: string[]; tokens: Record<string, number> };
    expect(body.names).toEqual(['e2e:x', 'e2e:y']);
    expect(body.tokens).toEqual({ 'e2e:x': expect.any(Number), 'e2e:y': expect.any(Number) });
    expect((await other.inspect('e2e:x')).held).toBe(false);
    expect((await other.inspect('e2e:y')).held).toBe(false);
    const x = other.lock('e2e:x');
    expect(await x.tryAcquire()).toBe(true);
    await x.release();
    expect((await getJson(`${b.url}/y`)).status).toBe(200);
  });

  it('a name function returning an array: the same accounts in either order exclude each other, others do not', async () => {
    const [first, reversed, unrelated] = await Promise.all([getJson(`${a.url}/transfer/1/2`), getJson(`${b.url}/transfer/2/1`), getJson(`${b.url}/transfer/3/4`)]);
    const same = [first, reversed].sort((x, y) => x.status - y.status);
    expect(same.map((r) => r.status)).toEqual([200, 423]);
    expect(same[0]!.body).toMatchObject({ names: ['account:1', 'account:2'] }); // canonical order either way
    expect(same[1]!.body).toMatchObject({ lockName: expect.stringMatching(/^account:[12]$/) });
    expect(unrelated.status).toBe(200);
    expect(unrelated.body).toEqual({ names: ['account:3', 'account:4'], lock: '3->4' });
    for (const n of ['account:1', 'account:2', 'account:3', 'account:4']) expect((await a.get(S3LockService).inspect(n)).held).toBe(false);
  });

  it('a provider method with several names runs on one application at a time and releases both', async () => {
    let open!: () => void;
    const hold = new Promise<void>((resolve) => (open = resolve));
    const running = a.get(Ledger).settle('ledger:1', 'ledger:2', hold);
    await waitUntil(async () => (await b.get(S3LockService).inspect('ledger:2')).held, 3_000, 'A to hold ledger:2');
    expect((await b.get(S3LockService).inspect('ledger:1')).held).toBe(true);
    // the other order, on the other application: skipped while A holds them
    await expect(b.get(Ledger).settle('ledger:2', 'ledger:1', Promise.resolve())).resolves.toBeUndefined();
    open();
    await expect(running).resolves.toBe('ledger:1+ledger:2');
    expect((await b.get(S3LockService).inspect('ledger:1')).held).toBe(false);
    expect((await b.get(S3LockService).inspect('ledger:2')).held).toBe(false);
    await expect(b.get(Ledger).settle('ledger:2', 'ledger:1', Promise.resolve())).resolves.toBe('ledger:2+ledger:1');
  });
});

describe('@WhileLeader() on two Nest applications sharing a bucket', () => {
  let target: StoreTarget;
  let bucket: string;
  const apps = new Map<string, LockApp>();

  const start = async (name: string): Promise<LockApp> => {
    const app = await startLockApp({
      lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS },
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [Scheduler, { provide: AppName, useValue: new AppName(name) }],
      listen: true,
    });
    apps.set(name, app);
    return app;
  };

  const elections = async (app: LockApp): Promise<S3LockHealthElection[]> => {
    const health = await getJson(`${app.url}/health`);
    expect(health.status).toBe(200);
    return (health.body as { info: { locks: { elections: S3LockHealthElection[] } } }).info.locks.elections;
  };

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
    await Promise.all([start('C'), start('D')]);
  });

  afterAll(async () => {
    await Promise.allSettled([...apps.values()].map((app) => app.close()));
    await target?.close();
  });

  it('exactly one application runs the method; closing it makes the other lead within about a second', async () => {
    await waitUntil(() => terms.length > 0, 5_000, 'a leader');
    await sleep(1_500); // several polls of the follower: it must not lead too
    expect(terms).toHaveLength(1);
    const [first] = terms;
    const leaderName = first!.app;
    const followerName = leaderName === 'C' ? 'D' : 'C';
    const leader = apps.get(leaderName)!;
    const follower = apps.get(followerName)!;
    expect(leader.get(S3LockService).elections.map((e) => [e.name, e.isLeader])).toEqual([['e2e:scheduler', true]]);
    expect(follower.get(S3LockService).elections.map((e) => [e.name, e.isLeader])).toEqual([['e2e:scheduler', false]]);

    // the health indicator shows who leads
    expect(await elections(leader)).toEqual([{ name: 'e2e:scheduler', leader: true, fencingToken: first!.token }]);
    expect(await elections(follower)).toEqual([{ name: 'e2e:scheduler', leader: false }]);

    const closing = Date.now();
    await leader.close();
    expect(first!.reason).toBe('resigned'); // the campaign resigned before the manager closed
    await waitUntil(() => terms.length === 2, TEST_TTL_MS, 'the other application to lead');
    const second = terms[1]!;
    expect(second.app).toBe(followerName);
    expect(second.start - closing).toBeLessThan(1_500); // at its next poll, not after a TTL
    expect(second.token).toBeGreaterThan(first!.token);
    expect(first!.end).toBeLessThanOrEqual(second.start);
    expect(await elections(follower)).toEqual([{ name: 'e2e:scheduler', leader: true, fencingToken: second.token }]);
  });
});
