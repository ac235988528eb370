import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { getS3LockMetadata } from './s3-lock.decorator';
import { nonStaticProviderMessage } from './s3-lock.messages';
import { registerInstance } from './s3-lock.registry';
import { S3LockService } from './s3-lock.service';

/**
 * Finds the providers and controllers with `@WithS3Lock()` methods at `onModuleInit` and binds
 * each instance to this application's {@link S3LockService}, so that several applications in one
 * process (tests, workers) each lock with their own manager.
 */
@Injectable()
export class S3LockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly service: S3LockService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance: unknown = wrapper.instance;
      if (instance === null || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      const decorated = this.scanner.getAllMethodNames(prototype).some((name) => getS3LockMetadata((instance as Record<string, unknown>)[name]) !== undefined);
      if (!decorated) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        this.service.moduleOptions.logger?.debug?.(nonStaticProviderMessage(wrapper.name));
        continue;
      }
      registerInstance(instance, this.service);
    }
  }
}
