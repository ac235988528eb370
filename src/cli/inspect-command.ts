import type { SurveyRecord } from '../core/lock-survey';
import { json, table, time, type CliStreams } from './cli-output';
import { LOCK_COLUMNS, lockCells, lockRow, type LockRow } from './lock-row';
import { surveyOf, type StoreFlags } from './store-options';

export interface InspectFlags extends StoreFlags {
  readonly records: string;
}

/** `inspect NAME --json`: the lock's row plus its recent records (newest first), or `state: 'free'` on an undeclared prefix. */
export interface InspectResult extends LockRow {
  readonly records: ReadonlyArray<Omit<SurveyRecord, 'writtenAt'> & { readonly writtenAt: string }>;
}

/** `inspect NAME`: one lock's state and its last records; exit 0. */
export async function inspectCommand(name: string, flags: InspectFlags, io: CliStreams): Promise<number> {
  const limit = Number(flags.records);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RangeError(`--records must be an integer from 1 to 1000, got ${JSON.stringify(flags.records)}`);
  const survey = surveyOf(flags);
  try {
    const state = await survey.state(name);
    if (!state) {
      const why = `s3://${flags.bucket}/${flags.prefix} has no protocol declaration: no lock was ever taken under this prefix`;
      if (flags.json) io.out(json({ name, state: 'free', held: false, fencingToken: null, protocol: null, holder: null, expiresAt: null, records: [], note: why }));
      else io.out(`${name}: free (${why})\n`);
      return 0;
    }
    const records = await survey.history(name, limit);
    const row = lockRow(state);
    if (flags.json) {
      const result: InspectResult = { ...row, records: records.map((r) => ({ ...r, writtenAt: r.writtenAt.toISOString() })) };
      io.out(json(result));
      return 0;
    }
    io.out(table(LOCK_COLUMNS, [lockCells(row)]));
    io.out(`\nlease ${row.holder?.leaseId ?? '-'}, manager ${row.holder?.managerId ?? '-'}, last write ${time(state.lastWriteAt)}, store time ${time(state.serverTime)}\n`);
    io.out(`\nrecent records (newest first, ${records.length} still in the store):\n`);
    io.out(
      table(
        ['WRITTEN', 'KIND', 'TOKEN', 'HOLDER', 'MANAGER', 'TTL'],
        records.map((r) => [time(r.writtenAt), r.forced ? `${r.kind} (forced)` : r.kind, String(r.fencingToken), `${r.host ?? '?'}:${r.pid ?? '?'}`, r.managerId?.slice(0, 8) ?? '-', `${r.ttlMs / 1000} s`]),
      ),
    );
    return 0;
  } finally {
    survey.close();
  }
}
