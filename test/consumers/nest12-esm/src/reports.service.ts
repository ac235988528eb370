import { Injectable } from '@nestjs/common';
import { S3LockService } from 'nestjs-s3-lock';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Report {
  id: string;
  fencingToken: number;
}

@Injectable()
export class ReportsService {
  constructor(private readonly locks: S3LockService) {}

  // The work a lock protects. Stop when `signal` aborts (the lease was lost or the app is
  // shutting down); pass `fencingToken` on to the storage you write to, so it can refuse a writer
  // that lost the lock.
  async build(id: string, lock: { fencingToken: number; signal: AbortSignal }): Promise<Report> {
    await sleep(2_000, undefined, { signal: lock.signal });
    return { id, fencingToken: lock.fencingToken };
  }

  async cleanup(): Promise<void> {
    await sleep(100);
  }

  // Without the decorator: using() waits up to waitMs for the lock, renews it while fn runs and
  // releases it in finally; tryUsing() does not wait.
  async rebuildIndex(): Promise<string> {
    const run = await this.locks.tryUsing('rebuild-index', ({ fencingToken }) => `rebuilt under token ${fencingToken}`);
    return run.executed ? run.result : 'someone else is rebuilding';
  }
}
