/**
 * The fault schedules of `npm run verify` beyond the network faults, pauses and skewed clocks (see
 * docs/verification.md). Each can be turned off with `--schedules`; all are on by default.
 */
import type { ScheduleProfile } from './fault-proxy';

export type ScheduleName = 'late-grant' | 'force-release' | 'record-loss' | 'foreign-keys' | 'skewed-date';

export const SCHEDULE_NAMES: readonly ScheduleName[] = ['late-grant', 'force-release', 'record-loss', 'foreign-keys', 'skewed-date'];

/** `all`, `none`, or a comma-separated list of schedule names. */
export function parseSchedules(value: string): ScheduleName[] {
  if (value === 'all') return [...SCHEDULE_NAMES];
  if (value === 'none') return [];
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!(SCHEDULE_NAMES as readonly string[]).includes(n)) throw new Error(`--schedules: unknown schedule "${n}" (known: ${SCHEDULE_NAMES.join(', ')}, or all, none)`);
  }
  return SCHEDULE_NAMES.filter((n) => names.includes(n));
}

/** Rates and sizes of the schedules for a TTL. */
export interface ScheduleRates {
  /** Probability that a claim PUT starts a late-grant episode. */
  readonly lateGrantProbability: number;
  /** late-grant: hold of the re-read (create-only: of the retry's 412), ms. */
  readonly lateGrantReadHoldMs: number;
  /** late-grant: hold of the delete of the duplicate (create-only: of the read-back), ms. */
  readonly lateGrantFollowHoldMs: number;
  /** Time between two random force releases, ms. */
  readonly forceReleaseEveryMs: readonly [number, number];
  /** Probability that a claim PUT is held for a force release of its lock. */
  readonly claimHoldProbability: number;
  readonly claimHoldMaxMs: number;
  /** First record loss, and time between two, ms. */
  readonly firstLossMs: readonly [number, number];
  readonly lossEveryMs: readonly [number, number];
  /** How long the bucket stays deleted, ms. */
  readonly bucketGoneMs: readonly [number, number];
  /** Names the foreign manager (nested prefix) holds, and stray keys per lock name. */
  readonly foreignNames: number;
  readonly strayKeysPerName: number;
  /** Probability that a worker's acquisition uses a fresh (cold) lock manager. */
  readonly coldProbability: number;
  /** Share of answers dated by the skewed node, and its offset. */
  readonly skewedDateProbability: number;
  readonly skewedDateOffsetMs: number;
}

/**
 * For a 3 s TTL: a claim's lost answer, then a re-read of 1 s and a delete of 1.8 s (the
 * reproduction of the issue), below the 2 s request timeout; a force release every 4-8 s and at 3 %
 * of the claims; a record loss 8-12 s after the start and then every 12-20 s (wipes and bucket
 * re-creations in turn); 1,100 foreign names; 5 % of the answers from a node 5 s ahead.
 */
export function scheduleRates(ttlMs: number, requestTimeoutMs: number, foreignNames = 1_100): ScheduleRates {
  return {
    lateGrantProbability: 0.05,
    lateGrantReadHoldMs: Math.round(ttlMs / 3),
    lateGrantFollowHoldMs: Math.min(Math.round(ttlMs * 0.6), requestTimeoutMs - 200),
    forceReleaseEveryMs: [4_000, 8_000],
    claimHoldProbability: 0.03,
    claimHoldMaxMs: Math.min(Math.round(ttlMs * 0.4), requestTimeoutMs - 500),
    firstLossMs: [8_000, 12_000],
    lossEveryMs: [12_000, 20_000],
    bucketGoneMs: [Math.round(ttlMs / 3), ttlMs],
    foreignNames,
    strayKeysPerName: 10,
    coldProbability: 0.1,
    skewedDateProbability: 0.05,
    skewedDateOffsetMs: 5_000,
  };
}

/** The proxy's part of the schedules. */
export function proxySchedules(
  on: readonly ScheduleName[],
  rates: ScheduleRates,
  protocol: 'create-only' | 'versioned',
  ttlMs: number,
  onClaim: NonNullable<ScheduleProfile['claimHold']>['onClaim'],
): ScheduleProfile {
  return {
    ...(on.includes('late-grant')
      ? {
          lateGrant: {
            probability: rates.lateGrantProbability,
            readHoldMs: rates.lateGrantReadHoldMs,
            followHoldMs: rates.lateGrantFollowHoldMs,
            episodeMs: 2 * ttlMs,
            protocol,
          },
        }
      : {}),
    ...(on.includes('force-release') ? { claimHold: { probability: rates.claimHoldProbability, maxHoldMs: rates.claimHoldMaxMs, onClaim } } : {}),
    ...(on.includes('skewed-date') ? { skewedDate: { probability: rates.skewedDateProbability, offsetMs: rates.skewedDateOffsetMs } } : {}),
  };
}
