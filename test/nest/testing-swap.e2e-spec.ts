/**
 * The standard Nest testing swap: an application whose AppModule imports
 * `S3LockModule.forRoot()` or `.forRootAsync()`, tested with
 *
 *   Test.createTestingModule({ imports: [AppModule] })
 *     .overrideModule(S3LockModule).useModule(S3LockTestingModule.forRoot())
 *
 * The real configuration points at an endpoint nothing listens on (127.0.0.1:9), through a client
 * that records every request it is asked to send, and its factories record whether they ran. After
 * the swap the locks live in the in-memory store the testing module provides: not one request
 * reaches the configured client and no options factory of the real module runs.
 * The other documented ways (importing S3LockTestingModule.forRoot() beside a feature module, two
 * applications sharing one store) keep working. No store is involved: the same checks run in every
 * store project.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Controller, Injectable, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { currentS3Lock, S3LockModule, S3LockService, WithS3Lock, type S3LockModuleOptions, type S3LockOptionsFactory } from '../../src';
import { InMemoryS3, S3LockTestingModule } from '../../src/testing';
import { sleep } from './support/nest-app';

const UNREACHABLE = 'http://127.0.0.1:9';

/** What the real configuration did: requests its client was asked to send, factories that ran. */
interface Trace {
  readonly requests: string[];
  readonly factories: string[];
}

/** An S3Client on an endpoint nothing listens on; every command it is asked to send is recorded. */
function recordingClient(trace: Trace): S3Client {
  const client = new S3Client({
    endpoint: UNREACHABLE,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'real', secretAccessKey: 'real' },
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      trace.requests.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
  return client;
}

/** The real configuration: probes at start-up, so building it at all would send requests. */
function realOptions(trace: Trace): S3LockModuleOptions {
  return { client: recordingClient(trace), bucket: 'production-locks', probeOnStartup: true, logger: false };
}

/** A ConfigService stand-in the async variants inject. */
@Injectable()
class AppConfig {
  static trace: Trace;
  lockOptions(): S3LockModuleOptions {
    AppConfig.trace.factories.push('AppConfig.lockOptions');
    return realOptions(AppConfig.trace);
  }
}
@Module({ providers: [AppConfig], exports: [AppConfig] })
class AppConfigModule {}

@Injectable()
class LockOptionsFromClass implements S3LockOptionsFactory {
  createS3LockOptions(): S3LockModuleOptions {
    AppConfig.trace.factories.push('createS3LockOptions');
    return realOptions(AppConfig.trace);
  }
}

@Injectable()
class Nightly {
  runs = 0;
  @WithS3Lock('nightly')
  async cleanup(): Promise<number | undefined> {
    this.runs += 1;
    await sleep(100);
    return currentS3Lock()?.fencingToken;
  }
}

@Controller('reports')
class ReportsController {
  @Post('build')
  @WithS3Lock('report')
  async build(): Promise<{ fencingToken: number | undefined }> {
    await sleep(300);
    return { fencingToken: currentS3Lock()?.fencingToken };
  }
}

type Variant = 'forRoot' | 'forRootAsync useFactory' | 'forRootAsync useClass';

function appModuleFor(variant: Variant, trace: Trace) {
  AppConfig.trace = trace;
  const lockModule =
    variant === 'forRoot'
      ? S3LockModule.forRoot(realOptions(trace))
      : variant === 'forRootAsync useFactory'
        ? S3LockModule.forRootAsync({
            imports: [AppConfigModule],
            inject: [AppConfig],
            useFactory: (config: AppConfig) => {
              trace.factories.push('useFactory');
              return config.lockOptions();
            },
          })
        : S3LockModule.forRootAsync({ useClass: LockOptionsFromClass });
  @Module({ imports: [lockModule], controllers: [ReportsController], providers: [Nightly] })
  class AppModule {}
  return AppModule;
}

describe('testing swap: overrideModule(S3LockModule).useModule(S3LockTestingModule.forRoot())', () => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.allSettled(apps.splice(0).map((app) => app.close()));
  });

  async function start(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>, store?: InMemoryS3) {
    const moduleRef = await Test.createTestingModule({ imports })
      .overrideModule(S3LockModule)
      .useModule(S3LockTestingModule.forRoot({ ttlMs: 3_000, store }))
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(app.getHttpServer() as { address(): AddressInfo }).address().port}`;
    return { moduleRef, app, url };
  }

  for (const variant of ['forRoot', 'forRootAsync useFactory', 'forRootAsync useClass'] as const) {
    it(`${variant}: the store is InMemoryS3, locks live in it, the real client and factories stay untouched`, async () => {
      const trace: Trace = { requests: [], factories: [] };
      const { moduleRef, url } = await start([appModuleFor(variant, trace)]);

      const store = moduleRef.get(InMemoryS3);
      expect(store).toBeInstanceOf(InMemoryS3);
      const service = moduleRef.get(S3LockService);
      const token = await service.using('swap:using', async (ctx) => {
        expect((await service.inspect('swap:using')).held).toBe(true);
        return ctx.fencingToken;
      });
      expect(token).toBeGreaterThan(0);
      expect(store.requests.length).toBeGreaterThan(0);
      expect(store.requests.every((r) => r.bucket === 's3-lock-test')).toBe(true);

      // the decorator on a provider method and on a route lock in the same store
      const nightly = moduleRef.get(Nightly);
      const [first, second] = await Promise.all([nightly.cleanup(), nightly.cleanup()]);
      expect([first, second].filter((t) => t !== undefined)).toHaveLength(1);
      expect(nightly.runs).toBe(1);
      const [a, b] = await Promise.all([fetch(`${url}/reports/build`, { method: 'POST' }), fetch(`${url}/reports/build`, { method: 'POST' })]);
      expect([a.status, b.status].sort()).toEqual([201, 423]);
      expect(store.requests.some((r) => r.key?.includes('report'))).toBe(true);

      expect(trace.requests).toEqual([]);
      expect(trace.factories).toEqual([]);
    });
  }

  it('two applications swapped onto one shared store contend like two nodes', async () => {
    const trace: Trace = { requests: [], factories: [] };
    const shared = new InMemoryS3();
    const AppModule = appModuleFor('forRootAsync useFactory', trace);
    const one = await start([AppModule], shared);
    const two = await start([AppModule], shared);
    expect(one.moduleRef.get(InMemoryS3)).toBe(shared);
    expect(two.moduleRef.get(InMemoryS3)).toBe(shared);
    const [a, b] = await Promise.all([fetch(`${one.url}/reports/build`, { method: 'POST' }), fetch(`${two.url}/reports/build`, { method: 'POST' })]);
    expect([a.status, b.status].sort()).toEqual([201, 423]);
    expect(trace).toEqual({ requests: [], factories: [] });
  });

  it('without the swap the same AppModule uses the real configuration (the test above can fail)', async () => {
    const trace: Trace = { requests: [], factories: [] };
    await expect(Test.createTestingModule({ imports: [appModuleFor('forRootAsync useFactory', trace)] }).compile().then(async (m) => {
      const app = m.createNestApplication({ logger: false });
      apps.push(app);
      await app.init();
    })).rejects.toThrow();
    expect(trace.factories).toEqual(['useFactory', 'AppConfig.lockOptions']);
    expect(trace.requests.length).toBeGreaterThan(0);
  });

  it('importing S3LockTestingModule.forRoot() beside a feature module still works', async () => {
    @Module({ providers: [Nightly], exports: [Nightly] })
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({ imports: [S3LockTestingModule.forRoot({ ttlMs: 3_000 }), FeatureModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    const store = moduleRef.get(InMemoryS3);
    expect(store).toBeInstanceOf(InMemoryS3);
    const nightly = moduleRef.get(Nightly);
    expect(await nightly.cleanup()).toBeGreaterThan(0);
    expect(store.requests.length).toBeGreaterThan(0);
  });

  it('S3LockTestingModule.forRoot() imported beside an AppModule that configures the real module: a start-up error that names the swap', async () => {
    const trace: Trace = { requests: [], factories: [] };
    const compiled = Test.createTestingModule({ imports: [S3LockTestingModule.forRoot(), appModuleFor('forRootAsync useFactory', trace)] }).compile();
    await expect(compiled).rejects.toThrow(/overrideModule\(S3LockModule\)\.useModule\(S3LockTestingModule\.forRoot\(\)\)/);
    expect(trace).toEqual({ requests: [], factories: [] });
  });
});
