/**
 * S3LockModule wiring: forRoot, forRootAsync (useFactory + imports/inject, useClass, useExisting),
 * isGlobal, validation at start-up, and the S3 client's lifecycle at shutdown (an injected client
 * survives, a client built from a config is destroyed). Runs against every store.
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  S3LockInvalidOptionsError,
  S3LockManager,
  S3LockModule,
  S3LockService,
  type S3LockModuleOptions,
  type S3LockOptionsFactory,
} from '../../src';
import { STORE_REGION, storeTarget, type StoreTarget } from '../support/store-target';
import { startLockApp, TEST_TTL_MS } from './support/nest-app';

const LOCK_CONFIG = Symbol('LOCK_CONFIG');

/** Something an application would configure the module from (a ConfigService stand-in). */
@Injectable()
class LockConfig {
  constructor(@Inject(LOCK_CONFIG) readonly options: S3LockModuleOptions) {}
}

/** A feature module that does not import S3LockModule. */
@Injectable()
class FeatureService {
  constructor(readonly locks: S3LockService) {}
}
@Module({ providers: [FeatureService], exports: [FeatureService] })
class FeatureModule {}

describe('S3LockModule', () => {
  let target: StoreTarget;
  let bucket: string;

  beforeAll(async () => {
    target = await storeTarget();
    bucket = await target.createBucket();
  });

  afterAll(async () => {
    await target?.close();
  });

  const options = (extra: Partial<S3LockModuleOptions> = {}): S3LockModuleOptions => ({
    client: target.createClient(),
    bucket,
    ttlMs: TEST_TTL_MS,
    logger: false,
    ...extra,
  });

  /** Builds the config module of one test (values are only known once the target is up). */
  function configModule(value: S3LockModuleOptions) {
    @Module({ providers: [{ provide: LOCK_CONFIG, useValue: value }, LockConfig], exports: [LockConfig] })
    class ConfigModule {}
    return ConfigModule;
  }

  async function usesTheBucket(service: S3LockService, name: string): Promise<void> {
    const token = await service.using(name, async (ctx) => {
      expect((await service.inspect(name)).held).toBe(true);
      return ctx.fencingToken;
    });
    expect(token).toBeGreaterThan(0);
    expect((await service.inspect(name)).held).toBe(false);
  }

  it('forRoot: provides S3LockService and the engine, global by default', async () => {
    const app = await startLockApp({ lock: options(), imports: [FeatureModule] });
    try {
      const service = app.get(S3LockService);
      expect(service.manager).toBe(app.get(S3LockManager));
      expect(app.get(FeatureService).locks).toBe(service); // FeatureModule did not import S3LockModule
      await usesTheBucket(service, 'module:for-root');
      expect(service.manager.options).toMatchObject({ bucket, ttlMs: TEST_TTL_MS, prefix: 'locks/' });
    } finally {
      await app.close();
    }
  });

  it('forRootAsync with useFactory, imports and inject', async () => {
    const ConfigModule = configModule(options({ prefix: 'async-factory/' }));
    const app = await startLockApp({
      imports: [
        S3LockModule.forRootAsync({
          imports: [ConfigModule],
          inject: [LockConfig],
          useFactory: async (config: LockConfig) => config.options,
        }),
        FeatureModule,
      ],
    });
    try {
      const service = app.get(FeatureService).locks;
      expect(service.manager.options.prefix).toBe('async-factory/');
      await usesTheBucket(service, 'module:use-factory');
    } finally {
      await app.close();
    }
  });

  it('forRootAsync with useClass', async () => {
    const value = options({ prefix: 'async-class/' });
    @Injectable()
    class LockOptionsFromClass implements S3LockOptionsFactory {
      createS3LockOptions(): S3LockModuleOptions {
        return value;
      }
    }
    const app = await startLockApp({ imports: [S3LockModule.forRootAsync({ useClass: LockOptionsFromClass })] });
    try {
      const service = app.get(S3LockService);
      expect(service.manager.options.prefix).toBe('async-class/');
      await usesTheBucket(service, 'module:use-class');
    } finally {
      await app.close();
    }
  });

  it('forRootAsync with useExisting', async () => {
    const value = options({ prefix: 'async-existing/' });
    @Injectable()
    class ExistingLockOptions implements S3LockOptionsFactory {
      createS3LockOptions(): Promise<S3LockModuleOptions> {
        return Promise.resolve(value);
      }
    }
    @Module({ providers: [ExistingLockOptions], exports: [ExistingLockOptions] })
    class OptionsModule {}
    const app = await startLockApp({ imports: [S3LockModule.forRootAsync({ imports: [OptionsModule], useExisting: ExistingLockOptions })] });
    try {
      const service = app.get(S3LockService);
      expect(service.manager.options.prefix).toBe('async-existing/');
      await usesTheBucket(service, 'module:use-existing');
    } finally {
      await app.close();
    }
  });

  it('isGlobal: false keeps the module local (a module that does not import it cannot inject the service)', async () => {
    await expect(
      Test.createTestingModule({ imports: [S3LockModule.forRoot({ ...options(), isGlobal: false }), FeatureModule] }).compile(),
    ).rejects.toThrow(/S3LockService/);
    // importing it where it is used works
    @Module({ imports: [S3LockModule.forRoot({ ...options(), isGlobal: false })], providers: [FeatureService], exports: [FeatureService] })
    class LocalFeatureModule {}
    const app = await startLockApp({ imports: [LocalFeatureModule] });
    try {
      await usesTheBucket(app.get(FeatureService).locks, 'module:local');
    } finally {
      await app.close();
    }
  });

  it('one lock module per application: a second forRoot with other options, or the bare class, fails the start-up', async () => {
    @Module({ imports: [S3LockModule.forRoot({ ...options(), prefix: 'second/', isGlobal: false })] })
    class SecondLockModule {}
    await expect(startLockApp({ lock: options(), imports: [SecondLockModule] })).rejects.toThrow(
      /S3LockModule\.forRoot\(\) \/ forRootAsync\(\) is imported 2 times in this application/,
    );
    // the same import shared by two modules is one module
    const shared = S3LockModule.forRoot({ ...options(), isGlobal: false });
    @Module({ imports: [shared], providers: [FeatureService], exports: [FeatureService] })
    class FeatureA {}
    @Module({ imports: [shared], exports: [shared] })
    class FeatureB {}
    const app = await startLockApp({ imports: [FeatureA, FeatureB] });
    try {
      await usesTheBucket(app.get(FeatureService).locks, 'module:shared-import');
    } finally {
      await app.close();
    }
    const bare = startLockApp({ imports: [S3LockModule] });
    await expect(bare).rejects.toThrow(S3LockInvalidOptionsError);
    await expect(bare).rejects.toThrow(/imported without options: import S3LockModule\.forRoot/);
  });

  it('invalid options fail the start-up with S3LockInvalidOptionsError (engine and module parts)', async () => {
    const start = (extra: Partial<S3LockModuleOptions>) => startLockApp({ lock: options(extra) });
    await expect(start({ bucket: 'Not A Bucket' })).rejects.toThrow(S3LockInvalidOptionsError);
    await expect(start({ ttlMs: 10 })).rejects.toThrow(/ttlMs/);
    await expect(start({ defaults: { onLockedRoute: 'later' as never } })).rejects.toThrow(/defaults\.onLockedRoute/);
    await expect(start({ shutdownTimeoutMs: 0 })).rejects.toThrow(/shutdownTimeoutMs/);
    await expect(
      startLockApp({ imports: [S3LockModule.forRootAsync({ useFactory: () => undefined as unknown as S3LockModuleOptions })] }),
    ).rejects.toThrow(/options must be an object/);
  });

  it('an S3Client the application passed in survives shutdown', async () => {
    const client: S3Client = target.createClient();
    const destroy = jest.spyOn(client, 'destroy');
    const app = await startLockApp({ lock: options({ client }) });
    await usesTheBucket(app.get(S3LockService), 'module:injected-client');
    await app.close();
    expect(destroy).not.toHaveBeenCalled();
    // still usable after the application closed
    await expect(client.send(new HeadBucketCommand({ Bucket: bucket }))).resolves.toBeDefined();
  });

  it('a client built from an S3ClientConfig is destroyed at shutdown', async () => {
    const app = await startLockApp({
      lock: options({
        client: { endpoint: target.endpoint, region: STORE_REGION, forcePathStyle: true, credentials: { ...target.credentials } },
      }),
    });
    const manager = app.get(S3LockManager);
    const destroy = jest.spyOn(manager.client, 'destroy');
    await usesTheBucket(app.get(S3LockService), 'module:built-client');
    await app.close();
    expect(destroy).toHaveBeenCalledTimes(1);
  });

  it('probeOnStartup: the store probe runs when the application starts', async () => {
    const client = target.createClient();
    const send = jest.spyOn(client, 'send');
    const app = await startLockApp({ lock: options({ client, probeOnStartup: true }) });
    try {
      expect(send).toHaveBeenCalled(); // before any lock was taken
    } finally {
      await app.close();
    }
    await expect(startLockApp({ lock: options({ bucket: `${bucket}-missing`, probeOnStartup: true }) })).rejects.toThrow();
  });
});
