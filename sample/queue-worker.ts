/**
 * A queue worker that must never run on two instances at once: every instance runs the same loop,
 * and `processBatch()` waits for the lock `queue-worker` (`onLocked: 'wait'`), so the instances
 * take turns, one batch each. Each processed item is recorded in the {@link FencedLedger} with the
 * lease's fencing token. If the holder dies (SIGKILL, crash, lost machine), its lease expires after
 * the TTL and a waiting instance takes over with a higher token; the dead holder could not write
 * any more even if it came back, because the ledger has seen the higher token.
 */
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { currentS3Lock, S3LockClosedError, WithS3Lock } from '../src';
import { SAMPLE_CONFIG, sleep, type SampleConfig } from './config';
import { EventLog } from './event-log';
import { FencedLedger, FencedOffError } from './fenced-ledger';

export const WORKER_LOCK = 'queue-worker';

@Injectable()
export class QueueWorker implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly stopped = new AbortController();

  constructor(
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
    private readonly ledger: FencedLedger,
    private readonly log: EventLog,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops the loop. Not awaited here: a call waiting for the lock only ends when the lock module
   * closes (its own shutdown hook rejects the waiters and aborts the signals of held locks).
   */
  beforeApplicationShutdown(): void {
    this.running = false;
    this.stopped.abort();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.processBatch();
      } catch (error) {
        if (!this.running || error instanceof S3LockClosedError) break; // shutting down
        // S3LockedException: waited waitMs in vain; anything else: a store error. Try again.
        this.log.write('worker.error', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
      await sleep(this.config.workerPauseMs, this.stopped.signal).catch(() => undefined);
    }
  }

  /** One batch of queue items under the lock; waits up to a minute for it. */
  @WithS3Lock(WORKER_LOCK, { onLocked: 'wait', waitMs: 60_000 })
  async processBatch(): Promise<void> {
    const lock = currentS3Lock()!;
    const end = this.log.runStart('worker', lock);
    let items = 0;
    let outcome = 'done';
    try {
      for (let i = 0; i < this.config.workerBatchItems && this.running; i++) {
        await sleep(this.config.workerItemMs, lock.signal); // the item's work
        const entry = await this.ledger.append(lock.fencingToken, lock.signal);
        items++;
        this.log.write('ledger.write', { lock: lock.name, token: lock.fencingToken, version: entry.version });
      }
      if (!this.running) outcome = 'stopped';
    } catch (error) {
      if (error instanceof FencedOffError) {
        outcome = 'fenced-off';
        this.log.write('ledger.refused', { lock: lock.name, token: error.token, newestToken: error.newestToken });
      } else if (lock.signal.aborted) {
        outcome = this.running ? 'lock-lost' : 'stopped'; // stop at once: the next holder goes on
      } else {
        throw error;
      }
    } finally {
      end({ items, outcome });
    }
  }
}
