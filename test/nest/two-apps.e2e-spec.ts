/**
 * Two Nest applications in one process sharing a bucket (two S3LockModule instances = two
 * managers, as two nodes would be): the decorator on routes, Observable routes and provider
 * methods; names from arguments; nesting; the lock context; minHoldMs; release at shutdown.
 * Runs against every store (memory, rgw, moto).
 */
import { Controller, Get, Injectable, Param } from '@nestjs/common';
import { interval, map, take, type Observable } from 'rxjs';
import { currentS3Lock, S3LockLostError, S3LockService, WithS3Lock, type S3LockContext } from '../../src';
import { storeTarget, type StoreTarget } from '../support/store-target';
import { getJson, sleep, startLockApp, TEST_TTL_MS, waitUntil, type LockApp } from './support/nest-app';

/** Shared across both apps: what ran where, when. */
const journal: { app: string; what: string; start: number; end: number }[] = [];

@Injectable()
class AppName {
  constructor(readonly name: string) {}
}

@Injectable()
class Work {
  constructor(
    private readonly app: AppName,
    readonly locks: S3LockService,
  ) {}

  /** Provider method: 'skip' by default. */
  @WithS3Lock('work:once')
  async once(): Promise<string> {
    const start = Date.now();
    await sleep(400);
    journal.push({ app: this.app.name, what: 'once', start, end: Date.now() });
    return this.app.name;
  }

  @WithS3Lock((tenant: string) => `tenant:${tenant}`)
  async perTenant(tenant: string): Promise<string> {
    await sleep(300);
    return `${this.app.name}:${tenant}`;
  }

  /** Same name nested three ways: decorated method, using(), tryUsing(). */
  @WithS3Lock('work:nested', { onLocked: 'wait', waitMs: 2_000 })
  async outer(): Promise<number[]> {
    const outerToken = currentS3Lock()!.fencingToken;
    const inner = await this.inner();
    const viaUsing = await this.locks.using('work:nested', (ctx) => ctx.fencingToken, { waitMs: 2_000 });
    const viaTry = await this.locks.tryUsing('work:nested', (ctx) => ctx.fencingToken);
    return [outerToken, inner, viaUsing, viaTry.executed ? viaTry.result : -1];
  }

  @WithS3Lock('work:nested', { onLocked: 'wait', waitMs: 2_000 })
  async inner(): Promise<number> {
    return this.locks.current('work:nested')!.fencingToken;
  }

  /** Reads its lock context both ways. */
  @WithS3Lock('work:context', { onLocked: 'throw' })
  async context(): Promise<{ fromService: S3LockContext | undefined; fromHelper: S3LockContext | undefined; aborted: boolean }> {
    await sleep(10);
    const fromService = this.locks.current();
    return { fromService, fromHelper: currentS3Lock(), aborted: fromService?.signal.aborted ?? true };
  }

  /** Holds the lock until its signal aborts (shutdown), then reports the reason. */
  @WithS3Lock('work:until-shutdown', { onLocked: 'wait', waitMs: 10_000 })
  async untilShutdown(started?: () => void): Promise<unknown> {
    const { signal } = currentS3Lock()!;
    started?.();
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    return signal.reason;
  }

  /** Returns at once; the lock stays held for 1500 ms from the acquisition. */
  @WithS3Lock('work:min-hold', { minHoldMs: 1_500 })
  async short(): Promise<string> {
    return this.app.name;
  }

  /** An Observable from a provider method called directly: held until it completes. */
  @WithS3Lock('work:observable')
  ticks(): Observable<number> {
    return interval(100).pipe(take(4));
  }
}

@Controller()
class LockedController {
  constructor(
    private readonly app: AppName,
    private readonly work: Work,
  ) {}

  @Get('slow')
  @WithS3Lock('route:slow')
  async slow(): Promise<{ app: string; token: number }> {
    await sleep(500);
    return { app: this.app.name, token: currentS3Lock()!.fencingToken };
  }

  @Get('queued')
  @WithS3Lock('route:queued', { onLocked: 'wait', waitMs: 15_000 })
  async queued(): Promise<{ app: string }> {
    const start = Date.now();
    await sleep(150);
    journal.push({ app: this.app.name, what: 'queued', start, end: Date.now() });
    return { app: this.app.name };
  }

  @Get('orders/:id')
  @WithS3Lock((id: string) => `order:${id}`)
  async order(@Param('id') id: string): Promise<{ id: string; lock: string }> {
    await sleep(400);
    return { id, lock: currentS3Lock()!.name };
  }

  /** Emits 5 values over ~600 ms; the lock is held until the Observable completes. */
  @Get('stream')
  @WithS3Lock('route:stream')
  stream(): Observable<{ last: number; token: number }> {
    const token = currentS3Lock()!.fencingToken;
    return interval(120).pipe(
      take(5),
      map((i) => ({ last: i, token })),
    );
  }

  /** A route calling a provider method that takes the same lock: no deadlock. */
  @Get('nested')
  @WithS3Lock('work:nested')
  async nested(): Promise<{ tokens: number[]; route: number }> {
    return { route: currentS3Lock()!.fencingToken, tokens: await this.work.outer() };
  }
}

function appModule(name: string, target: StoreTarget, bucket: string) {
  return startLockApp({
    lock: { client: target.createClient(), bucket, ttlMs: TEST_TTL_MS },
    controllers: [LockedController],
    providers: [Work, { provide: AppName, useValue: new AppName(name) }],
    listen: true,
  });
}

describe('two Nest applications sharing a bucket', () => {
  let target: StoreTarget;
  let bucket: string;
  let a: LockApp;
  let b: LockApp;

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
    [a, b] = await Promise.all([appModule('A', target, bucket), appModule('B', target, bucket)]);
    // run the store probe once per app up front so timings below measure locking only
    await Promise.all([a.get(S3LockService).probe(), b.get(S3LockService).probe()]);
  });

  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await target?.close();
  });

  beforeEach(() => {
    journal.length = 0;
  });

  it('concurrent requests to a decorated route: one 200, 423 Locked for the rest', async () => {
    const urls = [a.url, b.url, a.url, b.url].map((u) => `${u}/slow`);
    const results = await Promise.all(urls.map((u) => getJson(u)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 423, 423, 423]);
    const locked = results.find((r) => r.status === 423)!;
    expect(locked.body).toMatchObject({ statusCode: 423, error: 'Locked', lockName: 'route:slow', retryAfterSeconds: expect.any(Number) });
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    // released when the route finished: the next request gets it
    expect((await getJson(`${b.url}/slow`)).status).toBe(200);
  });

  it("onLocked 'wait': every request succeeds, one at a time across both apps", async () => {
    const urls = [a.url, b.url, a.url, b.url].map((u) => `${u}/queued`);
    const results = await Promise.all(urls.map((u) => getJson(u)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const runs = journal.filter((j) => j.what === 'queued').sort((x, y) => x.start - y.start);
    expect(runs).toHaveLength(4);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
    expect(new Set(runs.map((r) => r.app))).toEqual(new Set(['A', 'B']));
  });

  it("a provider method with 'skip' runs on exactly one app when both call it at once", async () => {
    const results = await Promise.all([a.get(Work).once(), b.get(Work).once()]);
    const ran = results.filter((r) => r !== undefined);
    expect(ran).toHaveLength(1);
    expect(journal.filter((j) => j.what === 'once')).toHaveLength(1);
    expect(journal[0]!.app).toBe(ran[0]);
  });

  it('names from the arguments lock per key', async () => {
    const [one, two] = await Promise.all([a.get(Work).perTenant('t1'), b.get(Work).perTenant('t2')]);
    expect([one, two]).toEqual(['A:t1', 'B:t2']);
    const same = await Promise.all([a.get(Work).perTenant('t3'), b.get(Work).perTenant('t3')]);
    expect(same.filter((r) => r !== undefined)).toHaveLength(1);

    const [first, other, second] = await Promise.all([getJson(`${a.url}/orders/1`), getJson(`${b.url}/orders/2`), getJson(`${b.url}/orders/1`)]);
    expect(other.status).toBe(200);
    expect(other.body).toEqual({ id: '2', lock: 'order:2' });
    const sameKey = [first, second].sort((x, y) => x.status - y.status);
    expect(sameKey.map((r) => r.status)).toEqual([200, 423]);
    expect(sameKey[0]!.body).toEqual({ id: '1', lock: 'order:1' });
    expect(sameKey[1]!.body).toMatchObject({ lockName: 'order:1' });
  });

  it('nested calls for a lock the flow holds reuse it (decorator, using, tryUsing, route -> provider)', async () => {
    const started = Date.now();
    const tokens = await a.get(Work).outer();
    expect(Date.now() - started).toBeLessThan(1_500); // no waiting for itself
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toBeGreaterThan(0);

    const viaRoute = await getJson(`${b.url}/nested`);
    expect(viaRoute.status).toBe(200);
    const body = viaRoute.body as { route: number; tokens: number[] };
    expect(body.tokens).toEqual([body.route, body.route, body.route, body.route]);
    expect(body.route).toBeGreaterThan(tokens[0]!);
  });

  it('the method reads its signal and fencing token (S3LockService.current() and currentS3Lock())', async () => {
    const first = await a.get(Work).context();
    const second = await b.get(Work).context();
    expect(first.fromService).toBeDefined();
    expect(first.fromHelper).toBe(first.fromService);
    expect(first.fromService!.name).toBe('work:context');
    expect(first.fromService!.signal).toBeInstanceOf(AbortSignal);
    expect(first.aborted).toBe(false);
    expect(second.fromService!.fencingToken).toBeGreaterThan(first.fromService!.fencingToken);
    expect(a.get(S3LockService).current()).toBeUndefined(); // outside the method
  });

  it('an Observable route holds the lock until the Observable completes', async () => {
    const streaming = getJson(`${a.url}/stream`);
    await sleep(250);
    expect((await b.get(S3LockService).inspect('route:stream')).held).toBe(true);
    expect((await getJson(`${b.url}/stream`)).status).toBe(423);
    const done = await streaming;
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ last: 4, token: expect.any(Number) });
    expect((await b.get(S3LockService).inspect('route:stream')).held).toBe(false);
    expect((await getJson(`${b.url}/stream`)).status).toBe(200);
  });

  it('an Observable from a provider method called directly holds the lock until it completes', async () => {
    const values: number[] = [];
    const ticks = (await a.get(Work).ticks()) as unknown as Observable<number>;
    await new Promise<void>((resolve, reject) => {
      ticks.subscribe({ next: (v) => values.push(v), error: reject, complete: resolve });
      void sleep(150).then(async () => {
        expect(await b.get(Work).ticks()).toBeUndefined(); // skipped: held by A
      });
    });
    expect(values).toEqual([0, 1, 2, 3]);
    await waitUntil(async () => !(await b.get(S3LockService).inspect('work:observable')).held, 2_000, 'release');
  });

  it('minHoldMs keeps the lock after the method returned', async () => {
    const started = Date.now();
    expect(await a.get(Work).short()).toBe('A');
    expect(Date.now() - started).toBeLessThan(1_000); // the method's result is not delayed
    expect(await b.get(Work).short()).toBeUndefined(); // still held by A: skipped
    expect((await b.get(S3LockService).inspect('work:min-hold')).held).toBe(true);
    await sleep(Math.max(0, started + 1_700 - Date.now()));
    expect(await b.get(Work).short()).toBe('B');
  });

  it('closing an app releases its locks: the other app acquires at once, the signal aborts with reason "closed"', async () => {
    const c = await appModule('C', target, bucket);
    let heldByC!: () => void;
    const cHolds = new Promise<void>((resolve) => (heldByC = resolve));
    const cResult = c.get(Work).untilShutdown(() => heldByC());
    await cHolds;
    const aResult = a.get(Work).untilShutdown(); // waits for C's lock
    await sleep(200);
    const closing = Date.now();
    let acquiredAt = 0;
    const off = a.get(S3LockService).on('acquired', (e) => {
      if (e.name === 'work:until-shutdown') acquiredAt = Date.now();
    });
    await c.close();
    const reason = await cResult;
    expect(reason).toBeInstanceOf(S3LockLostError);
    expect((reason as S3LockLostError).reason).toBe('closed');
    await waitUntil(() => acquiredAt > 0, TEST_TTL_MS, 'A to acquire');
    off();
    expect(acquiredAt - closing).toBeLessThan(TEST_TTL_MS / 2); // well under the TTL: released, not expired
    expect(c.get(S3LockService).manager.heldCount).toBe(0);
    // A holds it now; let it go
    await a.close();
    await expect(aResult).resolves.toBeInstanceOf(S3LockLostError);
    a = await appModule('A', target, bucket);
  });
});
