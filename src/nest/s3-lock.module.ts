import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { S3LockManager } from '../core/lock-manager';
import type { S3LockModuleOptions } from './s3-lock-module-options.interface';
import { resolveModuleOptions, type ResolvedModuleOptions } from './s3-lock-module-options';
import { S3_LOCK_SETTINGS } from './s3-lock.constants';
import { S3LockExplorer } from './s3-lock.explorer';
import { S3LockHealthIndicator } from './s3-lock.health';
import { S3LockConfigurableModule, S3_LOCK_MODULE_OPTIONS } from './s3-lock.module-definition';
import { S3LockService } from './s3-lock.service';

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
 * {@link S3LockHealthIndicator}; `@WithS3Lock()` methods anywhere in the application use it. Global
 * unless `isGlobal: false`. Options are validated at start-up (`S3LockInvalidOptionsError`). At
 * shutdown held locks are released (their signals abort with reason `closed`) within
 * `shutdownTimeoutMs`, and a client built from a config is destroyed; an `S3Client` the
 * application passed in is left alone.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
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
  ],
  exports: [S3LockService, S3LockManager, S3LockHealthIndicator],
})
export class S3LockModule extends S3LockConfigurableModule {}
