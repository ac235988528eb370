import { CreateOnlyGuard } from './create-only-guard';
import { CreateOnlyProtocol } from './create-only-protocol';
import { DeclarationCheck } from './declaration-check';
import { S3LockStoreError, type S3LockUnsupportedStoreError } from './errors';
import type { ResolvedManagerOptions } from './lock-options';
import type { LockProtocol } from './lock-protocol';
import { isDeclaredProtocol, mismatch, readDeclaration, writeDeclaration, type DeclaredProtocol, type ProtocolDeclaration } from './protocol-declaration';
import type { S3Gateway } from './s3-gateway';
import type { MonotonicClock } from './server-clock';
import { CREATE_ONLY_ADVICE, probeCreateOnly, refuse, type ProbeVerdict } from './store-probe';
import { AUTO_ADVICE, probeVersioned, VERSIONED_ADVICE } from './versioned-probe';
import { VersionedProtocol } from './versioned-protocol';

/** What the protocols are built from. */
export interface ProtocolDeps {
  readonly gateway: S3Gateway;
  readonly options: ResolvedManagerOptions;
  readonly mono: MonotonicClock;
  readonly pid: number;
  /** The manager's id, written into its records. */
  readonly managerId?: string;
  /** Told when a running create-only protocol finds the store no longer honours create-only writes. */
  readonly refused?: (error: S3LockUnsupportedStoreError) => void;
  /** Told when a declaration check started in the background (after a detected loss) could not be made. */
  readonly storeError?: (name: string, operation: string, error: unknown) => void;
}

/** Rounds of read / probe / declare before giving up on a declaration that keeps changing. */
const MAX_ROUNDS = 3;

/** What one selection learned from its probes. */
type Passed = Map<DeclaredProtocol, Extract<ProbeVerdict, { ok: true }>>;

/**
 * Chooses the protocol of this bucket and prefix, runs the probe it needs, and builds it; throws
 * {@link S3LockUnsupportedStoreError} when the store fails the probe, or its subclass
 * {@link S3LockProtocolMismatchError} when the prefix is declared for another protocol.
 *
 * 1. Read the declaration `<prefix>.protocol` (one HEAD).
 * 2. Declared: a manager configured for the other protocol is refused; `auto` follows the
 *    declaration. The declared protocol's probe must pass (a store that changed since is refused).
 * 3. Not declared: probe as configured (`auto` tries create-only first, then versioned), then
 *    create the declaration with `If-None-Match: *`. If another manager declared first, go to 1.
 */
export async function selectProtocol(deps: ProtocolDeps): Promise<LockProtocol> {
  const { gateway, options } = deps;
  const passed: Passed = new Map();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const declaration = await readDeclaration(gateway, options.prefix, 'get');
    if (declaration) return adopt(deps, declaration, passed);
    const chosen = await probeAsConfigured(deps, passed);
    const outcome = await writeDeclaration(gateway, options.prefix, chosen, options.host, deps.pid);
    if (outcome.kind === 'created') {
      if (chosen === 'create-only') await confirmCreateOnly(deps, passed, outcome.versionId);
      return build(deps, chosen, passed);
    }
    // 412: someone declared first; unknown outcome: read it back. Either way, read again.
  }
  throw new S3LockStoreError(undefined, 'protocol declaration', undefined, new Error(`the declaration of prefix "${options.prefix}" could not be settled in ${MAX_ROUNDS} rounds`), gateway.context());
}

async function adopt(deps: ProtocolDeps, declaration: ProtocolDeclaration, passed: Passed): Promise<LockProtocol> {
  const { gateway, options } = deps;
  const declared = declaration.protocol;
  if (!isDeclaredProtocol(declared) || (options.protocol !== 'auto' && options.protocol !== declared)) {
    throw mismatch(gateway, options.prefix, options.protocol, declaration);
  }
  if (!passed.has(declared)) {
    const verdict = declared === 'versioned' ? await probeVersioned(gateway, options.prefix) : await probeCreateOnly(gateway, options.prefix);
    if (!verdict.ok) {
      const why = `this prefix is declared '${declared}' (since ${declaration.declaredAt.toISOString()}), but ${verdict.detail}`;
      const advice = declared === 'create-only' ? DECLARED_CREATE_ONLY_ADVICE : VERSIONED_ADVICE;
      refuse(gateway, options.prefix, options.protocol, { ...verdict, detail: why }, advice);
    }
    passed.set(declared, verdict);
  }
  return build(deps, declared, passed);
}

/** Today's selection for a prefix nobody declared yet: the configured protocol's probe, or `auto`'s. */
async function probeAsConfigured(deps: ProtocolDeps, passed: Passed): Promise<DeclaredProtocol> {
  const { gateway, options } = deps;
  const mode = options.protocol;
  if (mode === 'versioned') {
    const verdict = await probeVersioned(gateway, options.prefix);
    if (!verdict.ok) refuse(gateway, options.prefix, mode, verdict, VERSIONED_ADVICE);
    passed.set('versioned', verdict);
    return 'versioned';
  }
  const verdict = await probeCreateOnly(gateway, options.prefix);
  if (verdict.ok) {
    passed.set('create-only', verdict);
    return 'create-only';
  }
  if (mode === 'create-only') refuse(gateway, options.prefix, mode, verdict, CREATE_ONLY_ADVICE);
  const fallback = await probeVersioned(gateway, options.prefix);
  if (fallback.ok) {
    passed.set('versioned', fallback);
    return 'versioned';
  }
  const detail = `create-only: ${verdict.detail}; versioned: ${fallback.detail}`;
  refuse(gateway, options.prefix, mode, { ok: false, primitive: verdict.primitive, detail }, AUTO_ADVICE);
}

/**
 * The declaration write is the first create-only write after the probe: if it carries a version id
 * where the probe's writes carried none, versioning was enabled in between (on RGW, conditional
 * creates are then ignored, and this create proves nothing): probe again before running.
 */
async function confirmCreateOnly(deps: ProtocolDeps, passed: Passed, versionId: string | undefined): Promise<void> {
  const probed = passed.get('create-only');
  if (probed?.versionIds === true || versionId === undefined || versionId === 'null') return;
  const { gateway, options } = deps;
  const verdict = await probeCreateOnly(gateway, options.prefix);
  if (!verdict.ok) {
    const detail = `versioning was enabled on the bucket while this manager declared the prefix 'create-only', and ${verdict.detail}`;
    refuse(gateway, options.prefix, options.protocol, { ...verdict, detail }, DECLARED_CREATE_ONLY_ADVICE);
  }
  passed.set('create-only', verdict);
}

/** Advice when a prefix declared create-only fails the create-only probe now. */
const DECLARED_CREATE_ONLY_ADVICE =
  'The store stopped honouring conditional creates since the prefix was declared (Ceph RGW does once versioning is enabled on the bucket). ' +
  "Suspend versioning on the bucket if that was the change, or move the fleet to a new prefix (or bucket) with protocol 'versioned' or 'auto'. " +
  'Processes still running on this prefix refuse new locks at their next write.';

/**
 * The declared protocol built without a probe, for reading only (inspect): an operator's view of a
 * prefix must not write to it. A manager never runs on it.
 */
export function buildProtocol(deps: ProtocolDeps, protocol: DeclaredProtocol): LockProtocol {
  return build(deps, protocol, new Map());
}

function build(deps: ProtocolDeps, protocol: DeclaredProtocol, passed: Passed): LockProtocol {
  const check = declarationCheck(deps, protocol);
  return protocol === 'versioned' ? versioned(deps, check) : createOnly(deps, passed.get('create-only')?.versionIds === true, check);
}

/** The running manager's re-check of the declaration, for where a loss of records can show. */
function declarationCheck(deps: ProtocolDeps, protocol: DeclaredProtocol): DeclarationCheck {
  const { options } = deps;
  return new DeclarationCheck(
    deps.gateway,
    { prefix: options.prefix, protocol, configured: options.protocol, host: options.host, pid: deps.pid },
    deps.mono,
    (error) => deps.refused?.(error),
    (name, operation, error) => deps.storeError?.(name, operation, error),
  );
}

function versioned(deps: ProtocolDeps, check: DeclarationCheck): LockProtocol {
  const { options } = deps;
  return new VersionedProtocol(
    deps.gateway,
    { prefix: options.prefix, host: options.host, pid: deps.pid, managerId: deps.managerId, serverClockToleranceMs: options.serverClockToleranceMs },
    deps.mono,
    check,
  );
}

function createOnly(deps: ProtocolDeps, versionedAtProbe: boolean, check: DeclarationCheck): LockProtocol {
  const { gateway, options } = deps;
  const guard = new CreateOnlyGuard(
    versionedAtProbe,
    async () => {
      const verdict = await probeCreateOnly(gateway, options.prefix);
      if (!verdict.ok) {
        const detail = `the bucket's writes started returning version ids (versioning was enabled), and ${verdict.detail}`;
        refuse(gateway, options.prefix, options.protocol, { ...verdict, detail }, DECLARED_CREATE_ONLY_ADVICE);
      }
    },
    (error) => deps.refused?.(error),
  );
  return new CreateOnlyProtocol(
    gateway,
    {
      prefix: options.prefix,
      host: options.host,
      pid: deps.pid,
      managerId: deps.managerId,
      serverClockToleranceMs: options.serverClockToleranceMs,
      gcHorizonMs: options.gcHorizonMs,
      gcIntervalMs: options.gcIntervalMs,
      forcedSettleMs: options.requestTimeoutMs + FORCED_SETTLE_EXTRA_MS,
    },
    deps.mono,
    guard,
    check,
  );
}

/**
 * A force release's record is held this much longer than the request timeout of its second write
 * (the generation PUT): by then that write has landed or failed.
 */
const FORCED_SETTLE_EXTRA_MS = 1_000;
