import { Module, type DynamicModule } from '@nestjs/common';
import { S3LockModule } from '../nest/s3-lock.module';
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
 * injection and inspection:
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [S3LockTestingModule.forRoot({ ttlMs: 3000 }), AppModule],
 * }).compile();
 * const store = moduleRef.get(InMemoryS3);
 * store.faults.inject({ match: { operation: 'PutObject' }, fault: { kind: 'error', status: 503, code: 'SlowDown' } });
 * ```
 *
 * Global by default, like `S3LockModule`; logging is off unless `logger` is given.
 */
@Module({})
export class S3LockTestingModule {
  static forRoot(options: S3LockTestingModuleOptions = {}): DynamicModule {
    const { store = new InMemoryS3(), bucket = 's3-lock-test', isGlobal = true, ...rest } = options;
    if (!store.buckets.has(bucket)) store.createBucket(bucket);
    const lockModule = S3LockModule.forRoot({ logger: false, ...rest, bucket, client: createInMemoryS3Client(store), isGlobal });
    return {
      module: S3LockTestingModule,
      global: isGlobal,
      imports: [lockModule],
      providers: [{ provide: InMemoryS3, useValue: store }],
      exports: [InMemoryS3, lockModule],
    };
  }
}
