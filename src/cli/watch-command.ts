import { sleep } from '../core/async-tools';
import { S3LockInvalidOptionsError } from '../core/errors';
import { LockSurvey } from '../core/lock-survey';
import { duration, table, time, type CliStreams } from './cli-output';
import { listLocks } from './ls-command';
import { LOCK_COLUMNS, lockCells, lockRow, type LockRow } from './lock-row';
import { surveyOf, type StoreFlags } from './store-options';
import { WatchLedger, type WatchEvent } from './watch-events';

export interface WatchFlags extends StoreFlags {
  readonly interval: string;
}

/** Escape sequences: the terminal's alternate screen and cursor (restored on exit). */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME_CLEAR = '\x1b[H\x1b[2J';
/** Events kept on screen. */
const RECENT = 12;

/**
 * `watch [NAME]`: a live view of the held locks (or of one lock), refreshed about every
 * `--interval` ms (default 1000) with the reads `inspect` makes (one LIST per 1,000 names for the
 * whole prefix), and the hand-offs, takeovers and lost leases seen since it started. Ends on
 * SIGINT / SIGTERM (or `signal`), restoring the terminal; exit 0.
 */
export async function watchCommand(name: string | undefined, flags: WatchFlags, io: CliStreams, signal?: AbortSignal): Promise<number> {
  if (flags.json) throw new S3LockInvalidOptionsError('json', 'watch is a terminal view; use ls --json or inspect --json in scripts');
  const intervalMs = Number(flags.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new RangeError(`--interval must be an integer of at least 100 (ms), got ${JSON.stringify(flags.interval)}`);
  const stop = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) return stop.abort();
    // a second Ctrl-C while a read still waits for the store: restore the terminal and go now
    process.stdout.write(LEAVE);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  const survey = surveyOf(flags);
  const ledger = new WatchLedger();
  const recent: WatchEvent[] = [];
  const started = Date.now();
  io.out(ENTER);
  try {
    while (!stop.signal.aborted) {
      const t0 = Date.now();
      let rows: LockRow[] = [];
      let problem: string | undefined;
      try {
        rows = await read(survey, name);
        for (const e of ledger.observe(rows, true)) recent.unshift(e);
        recent.splice(RECENT);
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      io.out(HOME_CLEAR + frame(flags, name, rows, ledger, recent, started, intervalMs, survey, problem));
      await sleep(Math.max(0, intervalMs - (Date.now() - t0)), stop.signal);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    io.out(LEAVE);
    survey.close();
  }
  const c = ledger.counts;
  io.err(`watched s3://${flags.bucket}/${flags.prefix} for ${duration(Date.now() - started)}: ${c.acquired} acquired, ${c.handOffs} hand-offs, ${c.takeovers} takeovers, ${c.lost} lost leases\n`);
  return 0;
}

async function read(survey: LockSurvey, name: string | undefined): Promise<LockRow[]> {
  if (name === undefined) return listLocks(survey, false);
  const state = await survey.state(name);
  return state ? [lockRow(state)] : [];
}

function frame(flags: WatchFlags, name: string | undefined, rows: readonly LockRow[], ledger: WatchLedger, recent: readonly WatchEvent[], started: number, intervalMs: number, survey: LockSurvey, problem: string | undefined): string {
  const where = `s3://${flags.bucket}/${flags.prefix}${name === undefined ? '' : ` lock "${name}"`}`;
  const shown = name === undefined ? rows.filter((r) => r.state !== 'free') : rows;
  const c = ledger.counts;
  const lines = [
    `nestjs-s3-lock watch ${where}   every ${intervalMs / 1000} s, Ctrl-C to quit`,
    `store time ${time(survey.serverNow())}, watching for ${duration(Date.now() - started)}`,
    '',
    ...(name === undefined ? [`HELD: ${rows.filter((r) => r.held).length} of ${rows.length} locks`] : []),
    shown.length === 0 ? (name === undefined ? 'no held locks' : 'never taken') : table(LOCK_COLUMNS, shown.map(lockCells)).trimEnd(),
    '',
    `since start: ${c.acquired} acquired, ${c.handOffs} hand-offs, ${c.takeovers} takeovers, ${c.lost} lost leases, ${c.released} released`,
    ...recent.map((e) => `  ${time(new Date(e.at))}  ${e.kind.padEnd(8)}  ${e.text}`),
  ];
  if (problem !== undefined) lines.push('', `READ FAILED (retrying): ${problem}`);
  return lines.join('\n') + '\n';
}
