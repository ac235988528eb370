import { createInterface } from 'node:readline/promises';
import { S3LockInvalidOptionsError } from '../core/errors';
import { S3LockManager } from '../core/lock-manager';
import { json, type CliStreams } from './cli-output';
import { lockRow } from './lock-row';
import { clientConfig, surveyOf, type StoreFlags } from './store-options';

export interface ReleaseFlags extends StoreFlags {
  readonly force?: boolean;
  readonly yes?: boolean;
}

/** Asks a yes/no question on the terminal; resolves to true for "y" or "yes". */
export type Confirm = (question: string) => Promise<boolean>;

/** Confirmation on the process's terminal, or undefined when stdin or stderr is not one. */
export function terminalConfirm(): Confirm | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
}

/**
 * `release --force NAME`: the engine's `forceRelease()`. Exit 0 when it ended a lease, 1 when the
 * lock was already free (or the operator said no).
 */
export async function releaseCommand(name: string, flags: ReleaseFlags, io: CliStreams, confirm: Confirm | undefined): Promise<number> {
  if (!flags.force) {
    throw new S3LockInvalidOptionsError('force', 'release needs --force: it ends another process\'s lease and breaks mutual exclusion until that holder\'s next renewal (about TTL/3)', name);
  }
  if (!flags.yes && !confirm) {
    throw new S3LockInvalidOptionsError('yes', 'release --force asks for confirmation on a terminal; without one, pass --yes', name);
  }
  const client = clientConfig(flags);
  const survey = surveyOf(flags);
  let protocol;
  let row;
  try {
    protocol = await survey.protocol();
    const before = protocol && (await survey.state(name));
    row = before && lockRow(before);
    if (!protocol || !row || row.state === 'free') {
      report(io, flags, name, false, null, row?.fencingToken ?? null, 'already free');
      return 1;
    }
    if (!flags.yes) {
      const who = row.holder ? `${row.holder.host ?? '?'} pid ${row.holder.pid ?? '?'}` : 'unknown holder';
      const ok = await confirm!(`Force-release "${name}" (${row.state}, ${who}, fencing token ${row.fencingToken})? Its holder keeps running until its next renewal. [y/N] `);
      if (!ok) {
        report(io, flags, name, false, null, row.fencingToken, 'not released (declined)');
        return 1;
      }
      // the lease may have changed hands while the operator read the question: end only the one confirmed
      const now = await survey.state(name);
      const current = now && lockRow(now);
      if (!current || current.state === 'free' || current.holder?.leaseId !== row.holder?.leaseId) {
        const what = !current || current.state === 'free' ? 'it was released meanwhile' : `it changed hands meanwhile (now fencing token ${current.fencingToken}); run the command again`;
        report(io, flags, name, false, null, current?.fencingToken ?? null, `not released: ${what}`);
        return 1;
      }
    }
  } finally {
    survey.close();
  }
  const manager = new S3LockManager({ client, bucket: flags.bucket, prefix: flags.prefix, protocol });
  try {
    const ended = await manager.forceRelease(name);
    report(io, flags, name, ended, ended ? row.holder : null, row.fencingToken, ended ? `ended the lease of ${row.holder?.host ?? '?'} pid ${row.holder?.pid ?? '?'}, fencing token ${row.fencingToken}` : 'already free');
    return ended ? 0 : 1;
  } finally {
    await manager.close();
  }
}

function report(io: CliStreams, flags: StoreFlags, name: string, released: boolean, holder: unknown, fencingToken: number | null, what: string): void {
  if (flags.json) io.out(json({ name, released, holder, fencingToken }));
  else io.out(`${name}: ${what}\n`);
}
