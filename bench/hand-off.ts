/**
 * Hand-off latency: from the holder's release() to the next holder having the lock, when the
 * next holder waits in another process (it learns of the release by polling) and when it waits
 * in the same manager (the release writes the waiter's acquire record directly). The yardstick is
 * one S3 round trip: the first request of a same-process hand-off (for create-only, the PUT of the
 * waiter's acquire record) sent again directly with the SDK, on fresh keys (raw-replay.ts),
 * alternating with the hand-offs.
 */
import { randomBytes } from 'node:crypto';
import type { LockChild } from './child-process';
import type { LockColumn } from './lock-column';
import { RawReplayer, planFrom, type ReplayPlan } from './raw-replay';
import { summarize, type Summary } from './stats';
import { monoMs, repeatBounded, sleep } from './timing';

export interface HandOffResults {
  readonly otherProcess: Summary;
  readonly sameProcess: Summary;
  /** S3 requests per same-process hand-off (median). */
  readonly sameProcessRequests: number;
  /** Time spent in those requests (sum of their durations), to tell the store's share from the engine's. */
  readonly sameProcessStoreMs: Summary;
  readonly roundTrip: Summary;
}

export interface HandOffOptions {
  readonly rounds: number;
  readonly localRounds: number;
  readonly budgetMs: number;
}

/** The holder keeps the lock this long (random in the range) after the other process started waiting. */
const HOLD_MS: [number, number] = [200, 700];

export async function measureHandOff(column: LockColumn, child: LockChild, options: HandOffOptions): Promise<HandOffResults> {
  const local = await sameProcess(column, options);
  return {
    otherProcess: summarize(await otherProcess(column, child, options)),
    sameProcess: summarize(local.latency),
    sameProcessRequests: summarize(local.requests).median,
    sameProcessStoreMs: summarize(local.storeMs),
    roundTrip: summarize(local.roundTrip),
  };
}

async function otherProcess(column: LockColumn, child: LockChild, options: HandOffOptions): Promise<number[]> {
  const name = column.lockName('hand-off-process');
  const { manager } = await column.probedManager();
  const lock = manager.lock(name);
  const samples: number[] = [];
  await repeatBounded(options.rounds, options.budgetMs, async () => {
    await lock.acquire({ waitMs: 30_000 });
    child.send({ cmd: 'wait-for-hand-off', name });
    await child.next('waiting', 10_000);
    await sleep(HOLD_MS[0] + Math.random() * (HOLD_MS[1] - HOLD_MS[0]));
    const releasedAt = monoMs();
    await lock.release();
    const acquired = await child.next('acquired', 30_000);
    samples.push((acquired.at as number) - releasedAt);
    await child.next('released', 30_000);
  });
  return samples;
}

interface LocalSamples {
  latency: number[];
  requests: number[];
  storeMs: number[];
  roundTrip: number[];
}

async function sameProcess(column: LockColumn, options: HandOffOptions): Promise<LocalSamples> {
  const name = column.lockName('hand-off-local');
  const { manager, counter } = await column.probedManager();
  const locks = [manager.lock(name), manager.lock(name)] as const;
  await locks[0].acquire();
  const samples: LocalSamples = { latency: [], requests: [], storeMs: [], roundTrip: [] };
  const raw = new RawReplayer(column.store.target!.createClient(), randomBytes(4).toString('hex'));
  let roundTrip: ReplayPlan | undefined;
  const rounds = await repeatBounded(options.localRounds, options.budgetMs, async (i) => {
    const holder = locks[i % 2]!;
    const waiter = locks[(i + 1) % 2]!;
    let acquiredAt = 0;
    const waiting = waiter.acquire({ waitMs: 30_000 }).then(() => {
      acquiredAt = monoMs();
    });
    await sleep(20); // the waiter is queued behind the local holder by now
    const mark = counter.mark();
    counter.capture = i === 0;
    const releasedAt = monoMs();
    await holder.release();
    await waiting;
    samples.latency.push(acquiredAt - releasedAt);
    counter.capture = false;
    const requests = counter.since(mark);
    samples.requests.push(requests.length);
    samples.storeMs.push(requests.reduce((ms, r) => ms + (r.endMs - r.startMs), 0));
    if (i === 0) {
      roundTrip = planFrom(requests.slice(0, 1));
      await raw.run(roundTrip); // opens the raw client's connection
    } else if (roundTrip) {
      samples.roundTrip.push(await timed(() => raw.run(roundTrip!)));
    }
  });
  await locks[rounds % 2]!.release();
  return samples;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = monoMs();
  await fn();
  return monoMs() - t0;
}
