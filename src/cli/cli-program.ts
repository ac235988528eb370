import { Command, CommanderError, Option } from 'commander';
import { S3LockError } from '../core/errors';
import { json, processStreams, type CliStreams } from './cli-output';
import { doctorCommand, type DoctorFlags } from './doctor-command';
import { inspectCommand, type InspectFlags } from './inspect-command';
import { lsCommand, type LsFlags } from './ls-command';
import { memoryS3Command, type MemoryS3Flags } from './memory-s3-command';
import { releaseCommand, terminalConfirm, type Confirm, type ReleaseFlags } from './release-command';
import { withStoreFlags } from './store-options';
import { watchCommand, type WatchFlags } from './watch-command';

/** Exit codes: 0 done, 1 the answer is "no" (doctor: no usable protocol; release: already free), 2 an error. */
export const EXIT_ERROR = 2;

export interface CliContext {
  readonly io: CliStreams;
  /** Confirmation for `release --force`; default the terminal's, if there is one. */
  readonly confirm?: Confirm | undefined;
}

/** The `nestjs-s3-lock` command line; resolves to the exit code. Errors are printed, never thrown. */
export async function runCli(argv: readonly string[], context: CliContext = { io: processStreams, confirm: terminalConfirm() }): Promise<number> {
  const { io } = context;
  let code = 0;
  // known before parsing, so that a usage error is answered in JSON too
  const wantsJson = argv.includes('--json');
  const program = new Command('nestjs-s3-lock')
    .description('Operate nestjs-s3-lock locks in a bucket: check a store, list, inspect, force-release and watch locks, run an in-memory S3.')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const run = <F>(fn: (flags: F) => Promise<number>) => async (flags: F) => {
    code = await fn(flags);
  };

  withStoreFlags(program.command('doctor'))
    .description('check a bucket before deploying: both probes, versioning, lifecycle rules, permissions, clock, latency; which protocol auto picks')
    .addOption(new Option('--workload <text>', 'estimate requests per month, e.g. "120 locks/min, 3 instances"'))
    .addOption(new Option('--locks-per-min <n>', 'the workload\'s acquisitions per minute (instead of --workload)'))
    .addOption(new Option('--instances <m>', 'instances that try each acquisition (instead of --workload)'))
    .addOption(new Option('--hold <seconds>', 'how long a lock is held, for the estimate').default('10'))
    .addOption(new Option('--ttl <seconds>', 'the lease TTL, for the estimate').default('30'))
    .action(run<DoctorFlags>((flags) => doctorCommand(flags, io)));

  withStoreFlags(program.command('ls'))
    .description('every lock under the prefix: state, holder, held since, expiry, fencing token')
    .addOption(new Option('--held', 'only held locks'))
    .action(run<LsFlags>((flags) => lsCommand(flags, io)));

  withStoreFlags(program.command('inspect').argument('<name>', 'the lock name'))
    .description("one lock's state and its recent records")
    .addOption(new Option('--records <n>', 'how many recent records to show').default('10'))
    .action(async (name: string, flags: InspectFlags) => run<InspectFlags>((f) => inspectCommand(name, f, io))(flags));

  withStoreFlags(program.command('release').argument('<name>', 'the lock name'))
    .description("end the lease that holds NAME (forceRelease()); its holder's signal aborts at its next renewal")
    .addOption(new Option('--force', 'required: this breaks mutual exclusion until the holder notices'))
    .addOption(new Option('-y, --yes', 'do not ask for confirmation (needed without a terminal)'))
    .action(async (name: string, flags: ReleaseFlags) => run<ReleaseFlags>((f) => releaseCommand(name, f, io, context.confirm))(flags));

  withStoreFlags(program.command('watch').argument('[name]', 'one lock (default: every lock under the prefix)'))
    .description('a live view of held locks, hand-offs, takeovers and lost leases; Ctrl-C quits')
    .addOption(new Option('--interval <ms>', 'refresh interval').default('1000'))
    .action(async (name: string | undefined, flags: WatchFlags) => run<WatchFlags>((f) => watchCommand(name, f, io))(flags));

  program
    .command('memory-s3')
    .description('an in-memory S3 server for local development (path-style, any credentials); Ctrl-C stops it')
    .addOption(new Option('--port <n>', 'TCP port (0: any free one)').default('4599'))
    .addOption(new Option('--host <h>', 'interface').default('127.0.0.1'))
    .addOption(new Option('--bucket <name...>', 'buckets to create').default([]))
    .addOption(new Option('--versioned-bucket <name...>', 'versioned buckets to create').default([]))
    .addOption(new Option('--ignore-if-none-match', 'ignore If-None-Match, like the stores the probe refuses (for testing doctor)'))
    .action(run<MemoryS3Flags>((flags) => memoryS3Command(flags, io)));

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      if (wantsJson) io.out(json({ error: { name: 'UsageError', code: error.code, message: error.message.replace(/^error: /, '') } }));
      return EXIT_ERROR;
    }
    const e = error instanceof Error ? error : new Error(String(error));
    io.err(`nestjs-s3-lock: ${e.message}\n`);
    if (wantsJson) io.out(json({ error: errorJson(e) }));
    return EXIT_ERROR;
  }
}

function errorJson(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  if (e instanceof S3LockError) {
    for (const k of ['lockName', 'operation', 'bucket', 'prefix', 'endpoint', 's3Operation', 'storeStatusCode', 'storeErrorCode', 'advice'] as const) {
      const v = (e as unknown as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = v;
    }
  }
  return out;
}
