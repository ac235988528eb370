/**
 * Every lock event and every job run, as one JSON line on stdout:
 *
 *   {"instance":"A","event":"acquired","lock":"tick-job","token":12,"owner":"…","waitedMs":3,"mono":81234.5,"wall":"2025-…Z"}
 *   {"instance":"A","event":"run.start","job":"tick","lock":"tick-job","token":12,"second":1764240000,"mono":…,"wall":…}
 *
 * `mono` is process.hrtime in ms: a machine-wide monotonic clock on Linux, macOS and Windows, so
 * lines of several processes on one machine can be put in order (scripts/demo does); `wall` is the
 * wall clock. Lock events come from `S3LockService.on()`; `owner` is the lock instance id (one per
 * acquisition), `holder` (on `notAcquired`) the id of the instance that held the lock.
 */
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { S3LockService, type S3LockContext } from '../src';
import { SAMPLE_CONFIG, type SampleConfig } from './config';

/** The jobs that run under a lock. */
export type JobName = 'tick' | 'report' | 'worker';

/** Monotonic time in ms (process.hrtime), comparable between processes of one machine. */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

@Injectable()
export class EventLog implements OnModuleInit {
  private readonly instance: string;

  constructor(
    @Inject(SAMPLE_CONFIG) config: SampleConfig,
    private readonly locks: S3LockService,
  ) {
    this.instance = config.instance;
  }

  onModuleInit(): void {
    const { locks } = this;
    const manager = locks.manager.id; // names this instance in the 423 bodies of the others (http.exposeHolder)
    locks.on('attempt', (e) => this.write('attempt', { lock: e.name, owner: e.ownerId, manager }));
    locks.on('acquired', (e) => this.write('acquired', { lock: e.name, token: e.fencingToken, owner: e.ownerId, waitedMs: e.waitedMs }));
    locks.on('notAcquired', (e) => this.write('notAcquired', { lock: e.name, owner: e.ownerId, holder: e.holderId, holderToken: e.holder?.fencingToken }));
    locks.on('renewed', (e) => this.write('renewed', { lock: e.name, token: e.fencingToken, owner: e.ownerId }));
    locks.on('released', (e) => this.write('released', { lock: e.name, token: e.fencingToken, owner: e.ownerId, heldMs: e.heldMs }));
    locks.on('lost', (e) => this.write('lost', { lock: e.name, token: e.fencingToken, owner: e.ownerId, reason: e.reason, error: e.error.message }));
    locks.on('storeError', (e) => this.write('storeError', { lock: e.name, operation: e.operation, error: e.error.message }));
  }

  /** Prints one event line. */
  write(event: string, fields: Record<string, unknown> = {}): void {
    const line = { instance: this.instance, event, ...fields, mono: monoMs(), wall: new Date().toISOString() };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }

  /**
   * Prints `run.start` for a job running under `lock` and returns the function that prints its
   * `run.end` (call it when the work is over, before the lock is released).
   */
  runStart(job: JobName, lock: S3LockContext, fields: Record<string, unknown> = {}): (endFields?: Record<string, unknown>) => void {
    const started = monoMs();
    this.write('run.start', { job, lock: lock.name, token: lock.fencingToken, ...fields });
    let ended = false;
    return (endFields = {}) => {
      if (ended) return;
      ended = true;
      this.write('run.end', { job, lock: lock.name, token: lock.fencingToken, tookMs: Math.round(monoMs() - started), ...fields, ...endFields });
    };
  }
}
