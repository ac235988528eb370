import { CreateOnlyProtocol } from './create-only-protocol';
import { S3LockUnsupportedStoreError } from './errors';
import type { ResolvedManagerOptions } from './lock-options';
import type { LockProtocol } from './lock-protocol';
import type { S3Gateway } from './s3-gateway';
import type { MonotonicClock } from './server-clock';
import { CREATE_ONLY_ADVICE, probeCreateOnly, refuse } from './store-probe';

/** What the protocols are built from. */
export interface ProtocolDeps {
  readonly gateway: S3Gateway;
  readonly options: ResolvedManagerOptions;
  readonly mono: MonotonicClock;
  readonly pid: number;
}

/**
 * Runs the probe the chosen protocol needs in the configured bucket and prefix and builds the
 * protocol, or throws {@link S3LockUnsupportedStoreError} naming the primitive that failed.
 */
export async function selectProtocol(deps: ProtocolDeps): Promise<LockProtocol> {
  const { gateway, options } = deps;
  const mode = options.protocol;
  if (mode === 'versioned') {
    throw new S3LockUnsupportedStoreError(gateway.bucket, options.prefix, mode, 'versioning', 'the versioned protocol is not available in this build');
  }
  const verdict = await probeCreateOnly(gateway, options.prefix);
  if (!verdict.ok) refuse(gateway, options.prefix, mode, verdict, CREATE_ONLY_ADVICE);
  return createOnly(deps);
}

function createOnly(deps: ProtocolDeps): LockProtocol {
  const { options } = deps;
  return new CreateOnlyProtocol(
    deps.gateway,
    {
      prefix: options.prefix,
      host: options.host,
      pid: deps.pid,
      serverClockToleranceMs: options.serverClockToleranceMs,
      gcHorizonMs: options.gcHorizonMs,
      gcIntervalMs: options.gcIntervalMs,
    },
    deps.mono,
  );
}
