import { Controller, Get, Injectable, StreamableFile, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3LockClosedError, S3LockInvalidOptionsError, S3LockLostError, S3LockTimeoutError } from '../core/errors';
import { InMemoryS3 } from '../testing/in-memory-s3';
import { S3LockTestingModule, type S3LockTestingModuleOptions } from '../testing/s3-lock-testing.module';
import { currentS3Lock } from './s3-lock.context';
import { WithS3Lock } from './s3-lock.decorator';
import { S3LockedException } from './s3-lock.exception';
import { S3LockService } from './s3-lock.service';

const TTL = 3_000;

interface LogLine {
  level: string;
  message: string;
}

function recordingLogger(lines: LogLine[]) {
  const at =
    (level: string) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  return { debug: at('debug'), verbose: at('verbose'), log: at('log'), warn: at('warn'), error: at('error') };
}

@Injectable()
class Jobs {
  runs = 0;

  @WithS3Lock('jobs:skip')
  async skipWhenHeld(ms: number): Promise<string> {
    this.runs++;
    await sleep(ms);
    return 'ran';
  }

  @WithS3Lock('jobs:throw', { onLocked: 'throw' })
  async throwWhenHeld(ms: number): Promise<string> {
    await sleep(ms);
    return 'ran';
  }

  @WithS3Lock('jobs:wait', { onLocked: 'wait', waitMs: 300 })
  async waitBriefly(ms: number): Promise<string> {
    await sleep(ms);
    return 'ran';
  }

  // A synchronous method is a compile error (the lock makes every call asynchronous); plain
  // JavaScript can still decorate one, and its result then comes back as a Promise.
  // @ts-expect-error a synchronous method
  @WithS3Lock('jobs:sync')
  sync(value: number): number {
    return value * 2;
  }

  @WithS3Lock((key: string) => key)
  async byKey(_key: string): Promise<string> {
    return currentS3Lock()!.name;
  }

  @WithS3Lock('jobs:fails')
  async fails(): Promise<never> {
    throw new Error('boom');
  }

  @WithS3Lock('jobs:until-lost', { onLocked: 'wait' })
  async untilLost(): Promise<unknown> {
    const { signal } = currentS3Lock()!;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    return signal.reason;
  }

  @WithS3Lock('jobs:min-hold', { minHoldMs: 20_000 })
  async minHold(): Promise<string> {
    return 'done';
  }

  /** Returns a stream; the lock is held until it ends. */
  @WithS3Lock('jobs:stream')
  async stream(source: PassThrough): Promise<PassThrough> {
    return source;
  }
}

@Controller()
class StreamController {
  static source: PassThrough | undefined;

  @Get('file')
  @WithS3Lock('route:file')
  async file(): Promise<StreamableFile> {
    StreamController.source = new PassThrough();
    StreamController.source.write('start-'); // the headers go out with the first chunk
    return new StreamableFile(StreamController.source);
  }
}

describe('S3LockService (with S3LockTestingModule)', () => {
  const apps: INestApplication[] = [];
  let store: InMemoryS3;

  afterEach(async () => {
    await Promise.allSettled(apps.splice(0).map((app) => app.close()));
  });

  async function start(options: S3LockTestingModuleOptions = {}, listen = false) {
    const moduleRef = await Test.createTestingModule({
      imports: [S3LockTestingModule.forRoot({ ttlMs: TTL, ...options })],
      providers: [Jobs],
      controllers: [StreamController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    if (listen) await app.listen(0, '127.0.0.1');
    else await app.init();
    store = app.get(InMemoryS3);
    const url = listen ? `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` : '';
    return { app, service: app.get(S3LockService), jobs: app.get(Jobs), url };
  }

  it('S3LockTestingModule: a fresh in-memory store per application, exposed for fault injection', async () => {
    const { service } = await start();
    expect(store).toBeInstanceOf(InMemoryS3);
    expect(store.buckets.has('s3-lock-test')).toBe(true);
    await expect(service.probe()).resolves.toBe('create-only');
    const shared = new InMemoryS3();
    const [one, two] = [await start({ store: shared, bucket: 'shared' }), await start({ store: shared, bucket: 'shared' })];
    const held = await one.service.using('shared', () => two.service.tryUsing('shared', () => 'no'));
    expect(held).toEqual({ executed: false });
  });

  it('using / tryUsing run inside the lock context; current() outside is undefined', async () => {
    const { service } = await start();
    expect(service.current()).toBeUndefined();
    const seen = await service.using('ctx', async (ctx) => {
      await sleep(5);
      return { current: service.current(), named: service.current('ctx'), helper: currentS3Lock('ctx'), ctx };
    });
    expect(seen.current).toBe(seen.ctx);
    expect(seen.named).toBe(seen.ctx);
    expect(seen.helper).toBe(seen.ctx);
    expect(service.current()).toBeUndefined();
    expect((await service.inspect('ctx')).held).toBe(false);
  });

  it('parallel flows each see their own lock', async () => {
    const { service } = await start();
    const names = await Promise.all(
      ['p1', 'p2', 'p3'].map((name) =>
        service.using(name, async () => {
          await sleep(20);
          return service.current()!.name;
        }),
      ),
    );
    expect(names).toEqual(['p1', 'p2', 'p3']);
  });

  it('tryUsing does not wait: executed false while held by another flow of the same application', async () => {
    const { service } = await start();
    let release!: () => void;
    const holding = service.using('busy', () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(50);
    const started = Date.now();
    expect(await service.tryUsing('busy', () => 'never')).toEqual({ executed: false });
    expect(Date.now() - started).toBeLessThan(500);
    release();
    await holding;
    expect(await service.tryUsing('busy', () => 'now')).toEqual({ executed: true, result: 'now' });
  });

  it("'skip' (default on methods) returns undefined and logs at log level with the holder", async () => {
    const lines: LogLine[] = [];
    const { jobs } = await start({ logger: recordingLogger(lines) });
    const [first, second] = await Promise.all([jobs.skipWhenHeld(200), jobs.skipWhenHeld(0)]);
    expect([first, second].sort()).toEqual(['ran', undefined]);
    expect(jobs.runs).toBe(1);
    expect(lines).toContainEqual({ level: 'debug', message: expect.stringMatching(/^Skipped Jobs\.skipWhenHeld: lock "jobs:skip" is held by \S+ pid \d+ \(manager [0-9a-f]{8}, fencing token \d+\)/) });
    expect(lines.filter((l) => l.level === 'debug').map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/"jobs:skip": attempt by instance/),
        expect.stringMatching(/"jobs:skip": acquired, fencing token \d+, after \d+ ms/),
        expect.stringMatching(/"jobs:skip": released, fencing token \d+, held \d+ ms/),
      ]),
    );
  });

  it("'throw' rejects with S3LockedException (423, lock name and holder)", async () => {
    const { jobs } = await start();
    const first = jobs.throwWhenHeld(200);
    await sleep(50);
    const error = await jobs.throwWhenHeld(0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3LockedException);
    const locked = error as S3LockedException;
    expect(locked.getStatus()).toBe(423);
    expect(locked.lockName).toBe('jobs:throw');
    expect(locked.holder?.ownerId).toMatch(/[0-9a-f-]{36}/);
    expect(locked.getResponse()).toMatchObject({ statusCode: 423, error: 'Locked', lockName: 'jobs:throw' });
    // The holder seen is passed on whole: its token, and a retry hint from its lease's expiry.
    expect(locked.holder?.fencingToken).toBeGreaterThan(0);
    expect(locked.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(locked.retryAfterSeconds).toBeLessThanOrEqual(Math.ceil(3_000 / 1000) + 1);
    await expect(first).resolves.toBe('ran');
  });

  it("'wait' times out with S3LockedException carrying the wait and the engine's error", async () => {
    const { jobs } = await start();
    const first = jobs.waitBriefly(1_000);
    await sleep(50);
    const error = (await jobs.waitBriefly(0).catch((e: unknown) => e)) as S3LockedException;
    expect(error).toBeInstanceOf(S3LockedException);
    expect(error.waitedMs).toBeGreaterThanOrEqual(250);
    expect(error.cause).toBeInstanceOf(S3LockTimeoutError);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await first;
    await expect(jobs.waitBriefly(0)).resolves.toBe('ran');
  });

  it('a synchronous method returns a Promise; errors propagate and release the lock', async () => {
    const { jobs, service } = await start();
    await expect(jobs.sync(21)).resolves.toBe(42);
    await expect(jobs.fails()).rejects.toThrow('boom');
    expect((await service.inspect('jobs:fails')).held).toBe(false);
  });

  it('a name function of the arguments: one lock per key; an invalid name rejects', async () => {
    const { jobs } = await start();
    await expect(jobs.byKey('k1')).resolves.toBe('k1');
    await expect(jobs.byKey('')).rejects.toThrow(/@WithS3Lock\(\) on Jobs\.byKey: a lock name must not be empty/);
    await expect(jobs.byKey('bad\u0000name')).rejects.toBeInstanceOf(S3LockInvalidOptionsError);
  });

  it('a returned stream keeps the lock until it ends', async () => {
    const { jobs, service } = await start();
    const source = new PassThrough();
    await expect(jobs.stream(source)).resolves.toBe(source);
    expect((await service.inspect('jobs:stream')).held).toBe(true);
    source.resume();
    source.end('done');
    await waitFor(async () => !(await service.inspect('jobs:stream')).held);
  });

  it('a route returning a StreamableFile holds the lock until the body is sent', async () => {
    const { service, url } = await start({}, true);
    const response = await fetch(`${url}/file`);
    expect(response.status).toBe(200);
    expect((await service.inspect('route:file')).held).toBe(true);
    expect((await fetch(`${url}/file`)).status).toBe(423);
    StreamController.source!.end('payload');
    expect(await response.text()).toBe('start-payload');
    await waitFor(async () => !(await service.inspect('route:file')).held);
  });

  it('a lost lease aborts the signal the method reads, logged at warn', async () => {
    const lines: LogLine[] = [];
    const { jobs } = await start({ logger: recordingLogger(lines) });
    const running = jobs.untilLost();
    await sleep(100);
    // every write fails from now on: renewals cannot succeed, the local deadline passes
    store.faults.inject({ match: { operation: 'PutObject' }, times: Infinity, fault: { kind: 'error', status: 403, code: 'AccessDenied' } });
    const reason = (await running) as S3LockLostError;
    store.faults.clear();
    expect(reason).toBeInstanceOf(S3LockLostError);
    expect(reason.reason).toBe('deadline-passed');
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/"jobs:until-lost": S3 store failed during renew of lock "jobs:until-lost" \(PutObject, bucket/), expect.stringMatching(/"jobs:until-lost": .+; so the lease was lost \(fencing token \d+, deadline-passed\)/)]));
  }, 15_000);

  it('start-up: one log line with bucket, prefix, protocol and probe result; a warning when no SIGTERM handler is installed, none once one is', async () => {
    const sigterm = process.listeners('SIGTERM');
    for (const l of sigterm) process.removeListener('SIGTERM', l);
    try {
      const bare: LogLine[] = [];
      await start({ logger: recordingLogger(bare) });
      expect(bare.filter((l) => l.level !== 'debug' && l.level !== 'verbose')).toEqual([
        { level: 'warn', message: expect.stringContaining('call app.enableShutdownHooks() before app.listen()') },
        { level: 'log', message: 'Lock store ready: bucket "s3-lock-test", prefix "locks/", protocol create-only (probe passed at start-up)' },
      ]);
      const handler = (): void => undefined;
      process.on('SIGTERM', handler);
      try {
        const hooked: LogLine[] = [];
        await start({ logger: recordingLogger(hooked), probeOnStartup: false });
        expect(hooked.filter((l) => l.level !== 'debug' && l.level !== 'verbose')).toEqual([
          { level: 'log', message: 'Lock store: bucket "s3-lock-test", prefix "locks/", protocol chosen and probe run at first use (probeOnStartup: false)' },
        ]);
      } finally {
        process.removeListener('SIGTERM', handler);
      }
    } finally {
      for (const l of sigterm) process.on('SIGTERM', l);
    }
  });

  it('listeners registered with on() get the events; one that throws is logged, not fatal', async () => {
    const lines: LogLine[] = [];
    const { service } = await start({ logger: recordingLogger(lines) });
    const events: string[] = [];
    const offs = [
      service.on('acquired', (e) => events.push(`acquired:${e.name}`)),
      service.on('released', (e) => events.push(`released:${e.name}:${e.heldMs >= 0}`)),
      service.on('acquired', () => {
        throw new Error('listener bug');
      }),
    ];
    await expect(service.using('events', () => 'ok')).resolves.toBe('ok');
    expect(events).toEqual(['acquired:events', 'released:events:true']);
    expect(lines).toContainEqual({ level: 'error', message: expect.stringMatching(/A "acquired" listener threw: Error: listener bug/) });
    for (const off of offs) off();
    await service.using('events', () => 'again');
    expect(events).toHaveLength(2);
  });

  it('shutdown: held locks are released and their signals abort with reason closed; minHoldMs locks too', async () => {
    const { app, jobs, service } = await start();
    const running = jobs.untilLost();
    await expect(jobs.minHold()).resolves.toBe('done');
    await sleep(50);
    expect(service.manager.heldCount).toBe(2);
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    const reason = (await running) as S3LockLostError;
    expect(reason.reason).toBe('closed');
    expect(service.manager.heldCount).toBe(0);
    // released in the store, not left to expire
    expect((await service.inspect('jobs:min-hold')).held).toBe(false);
    expect((await service.inspect('jobs:until-lost')).held).toBe(false);
    await expect(service.using('after-close', () => 1)).rejects.toBeInstanceOf(S3LockClosedError);
  });

  it('shutdown gives up after shutdownTimeoutMs when the store hangs, with a warning', async () => {
    const lines: LogLine[] = [];
    const { app, service } = await start({ logger: recordingLogger(lines), shutdownTimeoutMs: 300 });
    let release!: () => void;
    const holding = service.using('hang', () => new Promise<void>((resolve) => (release = resolve)));
    await sleep(50);
    store.faults.inject({ match: { operation: 'PutObject' }, times: 1, fault: { kind: 'delay', ms: 1_200 } });
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lines).toContainEqual({ level: 'warn', message: expect.stringMatching(/not released within shutdownTimeoutMs \(300 ms\)/) });
    release();
    await holding.catch(() => undefined);
    // let the delayed release land before the next test
    await waitFor(async () => store.requests.some((r) => r.fault === 'delay'));
  });

  it("'skip' methods called while the application shuts down are skipped, not failed", async () => {
    const lines: LogLine[] = [];
    const { app, jobs } = await start({ logger: recordingLogger(lines) });
    await app.close();
    await expect(jobs.skipWhenHeld(0)).resolves.toBeUndefined();
    expect(lines).toContainEqual({ level: 'debug', message: expect.stringMatching(/Skipped Jobs\.skipWhenHeld: the lock manager is closed/) });
    await expect(jobs.throwWhenHeld(0)).rejects.toBeInstanceOf(S3LockClosedError);
  });

  it('probeOnStartup fails the start-up on a store that ignores create-only writes', async () => {
    const broken = new InMemoryS3({ behaviour: { ignoreIfNoneMatch: true } });
    await expect(start({ store: broken, probeOnStartup: true })).rejects.toThrow(/If-None-Match/);
  });
});

async function waitFor(predicate: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}
