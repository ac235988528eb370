import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { S3LockModuleExtras, S3LockModuleOptions } from './s3-lock-module-options.interface';

/**
 * `forRoot()` / `forRootAsync()` of {@link S3LockModule}, global unless `isGlobal: false`.
 * `forRootAsync({ useClass })` / `useExisting` take a class with `createS3LockOptions()`.
 */
export const {
  ConfigurableModuleClass: S3LockConfigurableModule,
  MODULE_OPTIONS_TOKEN: S3_LOCK_MODULE_OPTIONS,
  OPTIONS_TYPE: S3_LOCK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: S3_LOCK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<S3LockModuleOptions>({ moduleName: 'S3Lock' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createS3LockOptions')
  .setExtras<S3LockModuleExtras>({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal ?? true }))
  .build();

/** `forRoot()` argument: the options plus `isGlobal`. */
export type S3LockModuleForRootOptions = typeof S3_LOCK_OPTIONS_TYPE;
/** `forRootAsync()` argument: `imports`, `useFactory` + `inject`, `useClass` or `useExisting`, plus `isGlobal`. */
export type S3LockModuleAsyncOptions = typeof S3_LOCK_ASYNC_OPTIONS_TYPE;

/** What `forRootAsync({ useClass })` / `useExisting` classes implement. */
export interface S3LockOptionsFactory {
  createS3LockOptions(): Promise<S3LockModuleOptions> | S3LockModuleOptions;
}
