import { Module, type DynamicModule } from '@nestjs/common';
import { S3_LOCK_OPTIONS_SOURCE } from '../nest/s3-lock.constants';
import { S3LockModule } from '../nest/s3-lock.module';
import type { S3LockOptionsSource } from '../nest/s3-lock.options-source';
import type { S3LockModuleExtras, S3LockModuleOptions } from '../nest/s3-lock-module-options.interface';
import { InMemoryS3 } from './in-memory-s3';
import { createInMemoryS3Client } from './in-memory-s3-handler';

/** Options of {@link S3LockTestingModule.forRoot}: the module's options, all optional. */
export interface S3LockTestingModuleOptions extends Partial<Omit<S3LockModuleOptions, 'client'>>, S3LockModuleExtras {
  /**
   * The store to use; pass one to share it between several test applications (two "nodes").
   * @default a fresh InMemoryS3
   */
  store?: InMemoryS3;
  /**
   * Bucket holding the locks; created in the store if missing.
   * @default 's3-lock-test'
   */
  bucket?: string;
}

/**
 * `S3LockModule` wired to an in-memory S3 store (no network, AWS's conditional-write semantics),
 * for applications' own tests. The store is provided under the `InMemoryS3` token, for fault
 * injection and inspection. The standard Nest swap replaces the application's lock module,
 * however AppModule configures it (`forRoot()` or `forRootAsync()`); the replaced module's options
 * and factories are never used, so no request reaches the real store:
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
 *   .overrideModule(S3LockModule)
 *   .useModule(S3LockTestingModule.forRoot({ ttlMs: 3000 }))
 *   .compile();
 * const store = moduleRef.get(InMemoryS3);
 * store.faults.inject({ match: { operation: 'PutObject' }, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
 * ```
 *
 * A test of feature modules that do not import `S3LockModule` themselves can import it directly:
 * `Test.createTestingModule({ imports: [S3LockTestingModule.forRoot(), FeatureModule] })`.
 * Global by default, like `S3LockModule`; logging is off unless `logger` is given.
 */
@Module({})
export class S3LockTestingModule {
  static forRoot(options: S3LockTestingModuleOptions = {}): DynamicModule {
    const { store = new InMemoryS3(), bucket = 's3-lock-test', isGlobal = true, ...rest } = options;
    if (!store.buckets.has(bucket)) store.createBucket(bucket);
    const lockOptions: S3LockModuleOptions = { logger: false, ...rest, bucket, client: createInMemoryS3Client(store) };
    // The lock module itself (its class, with its providers), given these options and the store:
    // what `overrideModule(S3LockModule)` puts in the place of the application's module.
    return {
      module: S3LockModule,
      global: isGlobal,
      providers: [
        { provide: S3_LOCK_OPTIONS_SOURCE, useValue: (() => lockOptions) satisfies S3LockOptionsSource },
        { provide: InMemoryS3, useValue: store },
      ],
      exports: [InMemoryS3],
    };
  }
}
