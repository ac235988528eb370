import { CreateOnlyProtocol } from './create-only-protocol';
import type { ResolvedManagerOptions } from './lock-options';
import type { LockProtocol } from './lock-protocol';
import type { S3Gateway } from './s3-gateway';
import type { MonotonicClock } from './server-clock';
import { CREATE_ONLY_ADVICE, probeCreateOnly, refuse } from './store-probe';
import { AUTO_ADVICE, probeVersioned, VERSIONED_ADVICE } from './versioned-probe';
import { VersionedProtocol } from './versioned-protocol';

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
 * `auto` tries create-only first (cheaper, and fencing tokens that never reset), then versioned.
 */
export async function selectProtocol(deps: ProtocolDeps): Promise<LockProtocol> {
  const { gateway, options } = deps;
  const mode = options.protocol;
  if (mode === 'versioned') {
    const verdict = await probeVersioned(gateway, options.prefix);
    if (!verdict.ok) refuse(gateway, options.prefix, mode, verdict, VERSIONED_ADVICE);
    return versioned(deps);
  }
  const verdict = await probeCreateOnly(gateway, options.prefix);
  if (verdict.ok) return createOnly(deps);
  if (mode === 'create-only') refuse(gateway, options.prefix, mode, verdict, CREATE_ONLY_ADVICE);
  const fallback = await probeVersioned(gateway, options.prefix);
  if (fallback.ok) return versioned(deps);
  const detail = `create-only: ${verdict.detail}; versioned: ${fallback.detail}`;
  refuse(gateway, options.prefix, mode, { ok: false, primitive: verdict.primitive, detail }, AUTO_ADVICE);
}

function versioned(deps: ProtocolDeps): LockProtocol {
  const { options } = deps;
  return new VersionedProtocol(
    deps.gateway,
    { prefix: options.prefix, host: options.host, pid: deps.pid, serverClockToleranceMs: options.serverClockToleranceMs },
    deps.mono,
  );
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
