/**
 * Runs the checker again over the logs of earlier runs (after a change of the checker), and
 * rewrites check.json, timeline.svg and the run's row in ../summary.json. Bounds missing from an
 * older run.json are filled in from its TTL.
 *
 *   node -r ts-node/register/transpile-only verify/recheck.ts verify-out/<run>/create-only [...]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkHistory, loadHistory } from './checker';
import { formatSummary, summaryRow, type Summary } from './report';
import { boundsFor, type VerifyOptions } from './runner';
import { renderTimeline } from './timeline-svg';

let failed = false;
for (const dir of process.argv.slice(2)) {
  const loaded = loadHistory(dir);
  const history = { ...loaded, run: { ...loaded.run, bounds: { ...boundsFor(loaded.run.ttlMs), ...loaded.run.bounds } } };
  const check = checkHistory(history);
  writeFileSync(join(dir, 'check.json'), JSON.stringify(check, null, 2) + '\n');
  writeFileSync(join(dir, 'timeline.svg'), renderTimeline(history, check));
  const { run } = history;
  const options: VerifyOptions = {
    seconds: run.seconds,
    workers: run.workers.length,
    names: run.names.length,
    loops: 0,
    store: run.store,
    protocols: [run.protocol as 'create-only' | 'versioned'],
    ttlMs: run.ttlMs,
    svg: undefined,
    faults: run.faults,
    out: dir,
    seed: 0,
    keepBucket: false,
    acquireSlackMs: undefined,
    schedules: (run.schedules ?? []) as VerifyOptions['schedules'],
    foreignNames: run.foreign?.names ?? 0,
  };
  const row = summaryRow({ protocol: options.protocols[0]!, dir, run, check });
  process.stdout.write(formatSummary({ store: run.store, endpoint: run.endpoint, options, ok: check.ok, runs: [row] }) + '\n\n');
  // keep the run's summary.json (one directory up) in step
  const summaryFile = join(dirname(dir), 'summary.json');
  if (existsSync(summaryFile)) {
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
    const runs = summary.runs.map((r) => (r.protocol === row.protocol ? { ...row, dir: r.dir } : r));
    writeFileSync(summaryFile, JSON.stringify({ ...summary, runs, ok: runs.every((r) => r.status === 'PASS') }, null, 2) + '\n');
  }
  failed ||= !check.ok;
}
process.exit(failed ? 1 : 0);
