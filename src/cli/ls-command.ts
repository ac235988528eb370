import { LockSurvey } from '../core/lock-survey';
import type { CliStreams } from './cli-output';
import { json, table } from './cli-output';
import { LOCK_COLUMNS, lockCells, lockRow, unreadableRow, type LockRow } from './lock-row';
import { surveyOf, type StoreFlags } from './store-options';

/** Reads of lock states in flight at once. */
const READS_IN_FLIGHT = 16;

export interface LsFlags extends StoreFlags {
  readonly held?: boolean;
}

/** `ls`: every lock under the prefix with its state; exit 0. */
export async function lsCommand(flags: LsFlags, io: CliStreams): Promise<number> {
  const survey = surveyOf(flags);
  try {
    const rows = await listLocks(survey, flags.held === true);
    if (flags.json) io.out(json(rows));
    else if (rows.length === 0) io.out(flags.held ? `no held locks under s3://${flags.bucket}/${flags.prefix}\n` : `no locks under s3://${flags.bucket}/${flags.prefix}\n`);
    else io.out(table(LOCK_COLUMNS, rows.map(lockCells)));
    const unreadable = rows.filter((r) => r.state === 'unreadable');
    for (const r of unreadable) io.err(`nestjs-s3-lock: "${r.name}" could not be read: ${r.error}\n`);
    return unreadable.length > 0 ? 2 : 0;
  } finally {
    survey.close();
  }
}

/** The rows of every lock under the survey's prefix (only held ones with `heldOnly`), in key order. */
export async function listLocks(survey: LockSurvey, heldOnly: boolean): Promise<LockRow[]> {
  const protocol = await survey.protocol();
  if (protocol === undefined) return [];
  const rows: LockRow[] = [];
  for await (const names of survey.names()) {
    const page = await mapLimited(names, READS_IN_FLIGHT, async (name) => {
      try {
        const state = await survey.state(name);
        return state && lockRow(state);
      } catch (error) {
        // one lock's corrupt record or failed read does not hide the others (the row says why)
        return unreadableRow(name, protocol, error);
      }
    });
    for (const r of page) if (r && (!heldOnly || r.held || r.state === 'unreadable')) rows.push(r);
  }
  return rows;
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
