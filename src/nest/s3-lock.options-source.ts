import { Module, type DynamicModule, type FactoryProvider, type Provider } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import { S3LockInvalidOptionsError } from '../core/errors';
import type { S3LockModuleOptions } from './s3-lock-module-options.interface';
import { S3_LOCK_OPTIONS_SOURCE } from './s3-lock.constants';
import { S3_LOCK_MODULE_OPTIONS } from './s3-lock.module-definition';
import { duplicateLockModuleMessage, duplicateTestingModuleMessage, lockModuleWithoutOptionsMessage, testingBesideRealModuleMessage } from './s3-lock.messages';

/** What {@link S3_LOCK_OPTIONS_SOURCE} provides: the module options, read when they are needed. */
export type S3LockOptionsSource = () => S3LockModuleOptions | Promise<S3LockModuleOptions>;

/**
 * Holds the options of one `S3LockModule.forRoot()` / `forRootAsync()` call as a deferred
 * {@link S3LockOptionsSource}, with the call's `imports` and the providers its factory injects.
 * Global, so the lock module (imported beside it) reads the source whatever `isGlobal` says.
 */
@Module({})
export class S3LockOptionsModule {}

/**
 * What `S3LockModule.forRoot()` / `forRootAsync()` return: imports the options and the bare
 * `S3LockModule` class, and re-exports the latter. Because the lock's providers are reached only
 * through that class, `Test.createTestingModule(...).overrideModule(S3LockModule)` replaces all of
 * them, and the options factory of the replaced module never runs.
 */
@Module({})
export class S3LockRootModule {}

/** Turns the options provider a ConfigurableModuleBuilder made into a deferred source. */
function deferred(provider: Provider): Provider {
  if (typeof provider !== 'object' || provider === null || !('provide' in provider) || provider.provide !== S3_LOCK_MODULE_OPTIONS) return provider;
  if ('useValue' in provider) {
    const value = provider.useValue as S3LockModuleOptions;
    return { provide: S3_LOCK_OPTIONS_SOURCE, useValue: (() => value) satisfies S3LockOptionsSource };
  }
  if ('useFactory' in provider) {
    const { useFactory, inject } = provider as FactoryProvider<S3LockModuleOptions>;
    return {
      provide: S3_LOCK_OPTIONS_SOURCE,
      useFactory: (...dependencies: unknown[]): S3LockOptionsSource => () => useFactory(...dependencies),
      inject: inject ?? [],
    };
  }
  throw new Error(`nestjs-s3-lock: unexpected options provider shape from ConfigurableModuleBuilder (${Object.keys(provider).join(', ')})`);
}

/**
 * Rebuilds a module definition made by the ConfigurableModuleBuilder (whose providers include the
 * options) as `S3LockRootModule` importing an `S3LockOptionsModule` and `lockModule`.
 */
export function rootModuleOf(definition: DynamicModule, lockModule: DynamicModule['module']): DynamicModule {
  const options: DynamicModule = {
    module: S3LockOptionsModule,
    global: true,
    imports: definition.imports ?? [],
    providers: (definition.providers ?? []).map(deferred),
    exports: [S3_LOCK_OPTIONS_SOURCE],
  };
  return {
    module: S3LockRootModule,
    global: definition.global ?? true,
    imports: [options, lockModule],
    exports: [lockModule],
  };
}

/**
 * Reads the options from `source` after checking that this application holds one lock module:
 * one `forRoot()` / `forRootAsync()`, and not beside `S3LockTestingModule.forRoot()` (a test
 * swaps the module with `overrideModule`). Throws {@link S3LockInvalidOptionsError}.
 */
export async function readOptions(source: S3LockOptionsSource | undefined, modules: ModulesContainer, lockModule: DynamicModule['module']): Promise<S3LockModuleOptions> {
  const all = [...modules.values()];
  const optionModules = all.filter((m) => m.metatype === S3LockOptionsModule).length;
  const lockModules = all.filter((m) => m.metatype === lockModule).length;
  if (optionModules > 1) throw new S3LockInvalidOptionsError('S3LockModule', duplicateLockModuleMessage(optionModules));
  if (lockModules > 1) {
    throw new S3LockInvalidOptionsError('S3LockModule', optionModules > 0 ? testingBesideRealModuleMessage : duplicateTestingModuleMessage(lockModules));
  }
  if (!source) throw new S3LockInvalidOptionsError('S3LockModule', lockModuleWithoutOptionsMessage);
  return source();
}
