import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { S3LockContext } from '../core/lock-types';
import { getS3LockMetadata } from './s3-lock.decorator';
import { nonStaticLeaderMessage, nonStaticProviderMessage } from './s3-lock.messages';
import { registerInstance } from './s3-lock.registry';
import { S3LockService } from './s3-lock.service';
import { getWhileLeaderMetadata, leaderName } from './s3-lock.while-leader';

/**
 * Finds the providers and controllers with `@WithS3Lock()` or `@WhileLeader()` methods at
 * `onModuleInit`:
 * - binds each instance with `@WithS3Lock()` methods to this application's {@link S3LockService},
 *   so that several applications in one process (tests, workers) each lock with their own manager;
 * - hands each `@WhileLeader()` method to the service, which campaigns for it from the bootstrap
 *   until the shutdown (the name function, if any, is called here, so a bad name fails the start).
 */
@Injectable()
export class S3LockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly service: S3LockService,
  ) {}

  onModuleInit(): void {
    const campaigning = new Map<object, Set<string>>();
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance: unknown = wrapper.instance;
      if (instance === null || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype);
      const member = (name: string): unknown => (instance as Record<string, unknown>)[name];
      const decorated = methods.some((name) => getS3LockMetadata(member(name)) !== undefined);
      const leading = methods.filter((name) => getWhileLeaderMetadata(member(name)) !== undefined);
      if (!decorated && leading.length === 0) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        const logger = this.service.moduleOptions.logger;
        if (decorated) logger?.debug?.(nonStaticProviderMessage(wrapper.name));
        if (leading.length > 0) logger?.warn(nonStaticLeaderMessage(wrapper.name));
        continue;
      }
      if (decorated) registerInstance(instance, this.service);
      // one campaign per instance and method, however many modules list the provider
      const seen = campaigning.get(instance) ?? new Set<string>();
      campaigning.set(instance, seen);
      for (const methodName of leading) {
        if (seen.has(methodName)) continue;
        seen.add(methodName);
        const method = member(methodName) as (context: S3LockContext) => unknown;
        const metadata = getWhileLeaderMetadata(method)!;
        if (metadata.options.enabled === false) continue;
        const name = leaderName(metadata, instance);
        this.service.campaignAtBootstrap({
          where: metadata.where,
          name,
          options: metadata.options,
          telemetryName: metadata.options.telemetryName ?? (typeof metadata.name === 'string' ? metadata.name : metadata.where),
          run: (context) => method.call(instance, context),
        });
      }
    }
  }
}
