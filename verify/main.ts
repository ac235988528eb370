/**
 * `npm run verify`: runs the lock against a store through a fault-injecting proxy with several
 * worker processes, SIGSTOP pauses and skewed clocks, then checks the history they logged.
 * Exit code 0 when every protocol run passed, 1 on any violation, crash or skipped protocol,
 * 2 when the harness itself failed. See docs/verification.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { loadHistory } from './checker';
import { parseOptions } from './options';
import { Random } from './random';
import { formatSummary, summaryRow, type Summary } from './report';
import { runProtocol, type ProtocolRun } from './runner';
import { openStore } from './store';
import { renderTimeline } from './timeline-svg';

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const random = new Random(options.seed);
  const store = await openStore(options.store);
  const runs: ProtocolRun[] = [];
  try {
    for (const protocol of options.protocols) {
      const result = await runProtocol(options, store, protocol, join(out, protocol), random.fork());
      runs.push(result);
      if (result.run && result.check) {
        const svg = renderTimeline(loadHistory(result.dir), result.check);
        writeFileSync(join(result.dir, 'timeline.svg'), svg);
        if (options.svg) {
          const target = options.protocols.length > 1 ? options.svg.replace(new RegExp(`${extname(options.svg).replace('.', '\\.')}$`), `-${protocol}${extname(options.svg) || '.svg'}`) : options.svg;
          mkdirSync(dirname(resolve(target)), { recursive: true });
          writeFileSync(target, svg);
        }
      }
    }
  } finally {
    await store.close();
  }
  const rows = runs.map(summaryRow);
  const summary: Summary = { store: options.store, endpoint: store.endpoint, options: { ...options, out }, ok: rows.every((r) => r.status === 'PASS'), runs: rows };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(formatSummary(summary) + `\n\nsummary: ${join(out, 'summary.json')}\n`);
  return summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`verify: harness failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
