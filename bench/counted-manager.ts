/**
 * A lock manager whose S3 client counts its requests and can be cut off from the store. Imports
 * only the engine's core, so child processes start fast.
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3LockManager } from '../src/core/lock-manager';
import type { S3LockManagerOptions } from '../src/core/lock-options';
import { RequestCounter } from './request-counter';

export type BenchProtocol = 'create-only' | 'versioned';
export const BENCH_PROTOCOLS: readonly BenchProtocol[] = ['create-only', 'versioned'];

/** A manager with a client of its own whose requests are counted: one "process" as the store sees it. */
export interface CountedManager {
  readonly manager: S3LockManager;
  readonly client: S3Client;
  readonly counter: RequestCounter;
  /** While true, every request fails at once as if the network were gone (nothing reaches the store). */
  partitioned: boolean;
  /** Messages of the manager's storeError events. */
  readonly storeErrors: string[];
}

/** Wraps `client` in a counter and a partition switch and builds a manager on it. */
export function newCountedManager(client: S3Client, options: Omit<S3LockManagerOptions, 'client'>): CountedManager {
  const counter = new RequestCounter(client);
  const storeErrors: string[] = [];
  const manager = new S3LockManager({ ...options, client });
  const counted: CountedManager = { manager, client, counter, partitioned: false, storeErrors };
  client.middlewareStack.add(
    (next) => async (args) => {
      if (counted.partitioned) throw Object.assign(new Error('bench: network partition'), { name: 'NetworkingError' });
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: `benchPartition${randomBytes(4).toString('hex')}` },
  );
  manager.on('storeError', (e) => storeErrors.push(`${e.operation}: ${e.error.message}`));
  return counted;
}
