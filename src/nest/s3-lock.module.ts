import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule, ModulesContainer } from '@nestjs/core';
import { S3LockManager } from '../core/lock-manager';
import type { S3LockModuleOptions } from './s3-lock-module-options.interface';
import { resolveModuleOptions, type ResolvedModuleOptions } from './s3-lock-module-options';
import { S3_LOCK_OPTIONS_SOURCE, S3_LOCK_SETTINGS } from './s3-lock.constants';
import { S3LockErrorInterceptor } from './s3-lock.error-interceptor';
import { S3LockExplorer } from './s3-lock.explorer';
import { S3LockHealthIndicator } from './s3-lock.health';
import {
  S3LockConfigurableModule,
  S3_LOCK_MODULE_OPTIONS,
  type S3LockModuleAsyncOptions,
  type S3LockModuleForRootOptions,
} from './s3-lock.module-definition';
import { readOptions, rootModuleOf, type S3LockOptionsSource } from './s3-lock.options-source';
import { S3LockService } from './s3-lock.service';

/** The lock module's providers; the options come from {@link S3_LOCK_OPTIONS_SOURCE}. */
const providers: Provider[] = [
  {
    provide: S3_LOCK_MODULE_OPTIONS,
    useFactory: (source: S3LockOptionsSource | undefined, modules: ModulesContainer): Promise<S3LockModuleOptions> => readOptions(source, modules, S3LockModule),
    inject: [{ token: S3_LOCK_OPTIONS_SOURCE, optional: true }, ModulesContainer],
  },
  {
    provide: S3_LOCK_SETTINGS,
    useFactory: (options: S3LockModuleOptions): ResolvedModuleOptions => resolveModuleOptions(options),
    inject: [S3_LOCK_MODULE_OPTIONS],
  },
  {
    provide: S3LockManager,
    useFactory: (settings: ResolvedModuleOptions): S3LockManager => new S3LockManager(settings.manager),
    inject: [S3_LOCK_SETTINGS],
  },
  S3LockService,
  S3LockExplorer,
  S3LockHealthIndicator,
  // Lock errors in any handler answer 423 / 503 / 400 (http.mapErrors).
  { provide: APP_INTERCEPTOR, useClass: S3LockErrorInterceptor },
];

/**
 * Distributed locks on S3 for a NestJS application.
 *
 * ```ts
 * @Module({
 *   imports: [
 *     S3LockModule.forRoot({ client: s3, bucket: 'my-locks' }),
 *     // or: S3LockModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ ... }) })
 *   ],
 * })
 * export class AppModule {}
 * ```
 *
 * Provides (and exports) {@link S3LockService}, the engine's `S3LockManager` and
 * {@link S3LockHealthIndicator}; `@WithS3Lock()` methods anywhere in the application use it, and
 * the `@WhileLeader()` methods of its singleton providers campaign from the bootstrap (after the
 * store probe) until the shutdown. Global unless `isGlobal: false`; import it once per
 * application. Options are validated at start-up (`S3LockInvalidOptionsError`). At shutdown every
 * campaign resigns first (terms' signals abort with reason `resigned`), then held locks are
 * released (their signals abort with reason `closed`), all within `shutdownTimeoutMs`, and a
 * client built from a config is destroyed; an `S3Client` the application passed in is left alone.
 *
 * In tests, `Test.createTestingModule({ imports: [AppModule] }).overrideModule(S3LockModule)
 * .useModule(S3LockTestingModule.forRoot())` replaces it with the in-memory store: the options (and
 * any `useFactory` / `useClass` of `forRootAsync`) of the replaced module are never read.
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [S3LockService, S3LockManager, S3LockHealthIndicator],
})
export class S3LockModule extends S3LockConfigurableModule {
  /** The module with static options. */
  static override forRoot(options: S3LockModuleForRootOptions): DynamicModule {
    return rootModuleOf(super.forRoot(options), S3LockModule);
  }

  /** The module with options from `useFactory` (+ `inject`, `imports`), `useClass` or `useExisting`. */
  static override forRootAsync(options: S3LockModuleAsyncOptions): DynamicModule {
    return rootModuleOf(super.forRootAsync(options), S3LockModule);
  }
}
