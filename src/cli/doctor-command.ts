import { v4 as uuidv4 } from 'uuid';
import { S3LockError } from '../core/errors';
import { LockSurvey } from '../core/lock-survey';
import { isDeclaredProtocol, type DeclaredProtocol } from '../core/protocol-declaration';
import { probeCreateOnly, type ProbeVerdict } from '../core/store-probe';
import { probeVersioned } from '../core/versioned-probe';
import { json, table, type CliStreams } from './cli-output';
import { checkActions, checkLifecycle, removeScratch, type ActionCheck, type ClockOffset, type LifecycleCheck, type Latency } from './store-checks';
import { clientConfig, type StoreFlags } from './store-options';
import { checkWorkload, monthlyRequests, parseWorkload, REQUEST_TYPES, type RequestCounts, type Workload } from './workload-estimate';

export interface DoctorFlags extends StoreFlags {
  readonly workload?: string;
  readonly locksPerMin?: string;
  readonly instances?: string;
  readonly hold: string;
  readonly ttl: string;
}

type ProbeReport = { readonly ok: true; readonly versionIds?: boolean } | { readonly ok: false; readonly detail: string };

/** `doctor --json`. */
export interface DoctorReport {
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string | undefined;
  /** `Enabled`, `Suspended` or null (never enabled); null too when it could not be read. */
  readonly versioning: string | null;
  /** The prefix's declaration, if a manager already used it. */
  readonly declared: { readonly protocol: string; readonly host: string | null; readonly at: string } | null;
  readonly probes: { readonly 'create-only': ProbeReport; readonly versioned: ProbeReport };
  readonly actions: readonly ActionCheck[];
  readonly lifecycle: LifecycleCheck;
  readonly clockOffset: ClockOffset | null;
  /** Median round trip per request type, ms. */
  readonly latencyMs: Latency;
  /** What `protocol: 'auto'` would use here, or null when no protocol is safe. */
  readonly auto: DeclaredProtocol | null;
  readonly reason: string;
  readonly warnings: readonly string[];
  readonly scratchLeft: readonly string[];
  readonly workload?: { readonly input: Workload; readonly requestsPerMonth: Partial<Record<DeclaredProtocol, RequestCounts>> };
}

/**
 * `doctor`: everything a deploy needs to know about a bucket, from a scratch prefix it removes
 * afterwards (`<prefix>.doctor-<uuid>/`; no lock name can use it). Exit 0 when a protocol is
 * usable, 1 when none is.
 */
export async function doctorCommand(flags: DoctorFlags, io: CliStreams): Promise<number> {
  const workload = workloadOf(flags);
  const survey = new LockSurvey({ client: clientConfig(flags), bucket: flags.bucket, prefix: flags.prefix });
  const gateway = survey.gateway;
  const scratch = `${survey.options.prefix}.doctor-${uuidv4()}/`;
  let report: DoctorReport;
  try {
    let declaration;
    let declarationDenied = false;
    try {
      declaration = await survey.declaration();
    } catch (error) {
      if (!(error instanceof S3LockError) || (error as { storeStatusCode?: number }).storeStatusCode !== 403) throw error;
      declarationDenied = true;
    }
    let versioning: string | null = null;
    let versioningDenied = false;
    try {
      versioning = (await gateway.getBucketVersioning('doctor')) ?? null;
    } catch (error) {
      if (!(error instanceof S3LockError) || (error as { storeStatusCode?: number }).storeStatusCode !== 403) throw error;
      versioningDenied = true;
    }
    let scratchLeft: string[] = [];
    let checks;
    let createOnly: ProbeReport;
    let versioned: ProbeReport;
    try {
      checks = await checkActions(gateway, scratch, versioning ?? undefined);
      createOnly = await probe(() => probeCreateOnly(gateway, scratch));
      versioned = versioningDenied ? { ok: false, detail: 'GetBucketVersioning was denied' } : await probe(() => probeVersioned(gateway, scratch));
    } finally {
      scratchLeft = await removeScratch(gateway, scratch, versioning !== null || versioningDenied);
    }
    const lifecycle = await checkLifecycle(gateway, survey.options.prefix);
    const denied = checks.actions.filter((a) => a.outcome !== 'allowed');
    const deniedFor = (p: DeclaredProtocol): ActionCheck[] => denied.filter((a) => a.neededBy === 'both' || p === 'versioned');
    const usable = (p: DeclaredProtocol): boolean => (p === 'create-only' ? createOnly : versioned).ok && deniedFor(p).length === 0;
    const whyNot = (p: DeclaredProtocol): string => {
      const d = deniedFor(p);
      if (d.length > 0) return `${d.map((a) => `${a.call} ${a.outcome === 'denied' ? 'is denied' : `failed (${a.code ?? a.status ?? 'error'})`} (${a.action})`).join(', ')}`;
      const v = p === 'create-only' ? createOnly : versioned;
      return v.ok ? '' : v.detail;
    };
    let auto: DeclaredProtocol | null;
    let reason: string;
    if (declarationDenied) {
      auto = null;
      reason = `GetObject of the prefix's declaration (${survey.options.prefix}.protocol) is denied (s3:GetObject): every manager reads it first`;
    } else if (declaration) {
      const d = declaration.protocol;
      if (!isDeclaredProtocol(d)) {
        auto = null;
        reason = `the prefix's declaration names no protocol (${JSON.stringify(d)}): every manager is refused`;
      } else if (usable(d)) {
        auto = d;
        reason = `the prefix is declared '${d}' (since ${declaration.declaredAt.toISOString()}), and its probe passes: every manager follows the declaration`;
      } else {
        auto = null;
        reason = `the prefix is declared '${d}', but ${whyNot(d)}: managers are refused`;
      }
    } else if (usable('create-only')) {
      auto = 'create-only';
      reason = 'conditional creates (If-None-Match: *) are honoured: auto picks create-only';
    } else if (usable('versioned')) {
      auto = 'versioned';
      reason = `create-only is not safe here (${whyNot('create-only')}); the bucket is versioned and its probe passes: auto picks versioned`;
    } else {
      auto = null;
      reason = `no protocol is safe here: create-only: ${whyNot('create-only')}; versioned: ${whyNot('versioned')}`;
    }
    const warnings: string[] = [];
    if (lifecycle.outcome === 'rules') for (const r of lifecycle.touching) warnings.push(`lifecycle rule "${r.id}" (prefix "${r.filterPrefix}") ${r.effect}`);
    if (lifecycle.outcome === 'denied') warnings.push('GetBucketLifecycleConfiguration was denied: rules that expire lock records could not be checked');
    if (lifecycle.outcome === 'error') warnings.push(`GetBucketLifecycleConfiguration failed (${lifecycle.code ?? 'error'}): rules that expire lock records could not be checked`);
    if (versioningDenied) warnings.push('GetBucketVersioning was denied: the versioned protocol cannot run, and versioning could not be checked');
    if (checks.clock && (checks.clock.minMs > 2000 || checks.clock.maxMs < -2000)) warnings.push(`the store's clock is ${Math.round((checks.clock.minMs + checks.clock.maxMs) / 2)} ms off this machine's: leases are judged on the store's clock, so this is harmless to the locks, but logs will disagree`);
    if (scratchLeft.length > 0) warnings.push(`could not remove ${scratchLeft.length} scratch keys: ${scratchLeft.slice(0, 3).join(', ')}`);
    const protocols: DeclaredProtocol[] = auto ? [auto] : ['create-only', 'versioned'];
    report = {
      bucket: flags.bucket,
      prefix: survey.options.prefix,
      endpoint: gateway.context().endpoint,
      versioning: versioningDenied ? 'unknown (GetBucketVersioning denied)' : versioning,
      declared: declaration ? { protocol: declaration.protocol, host: declaration.host ?? null, at: declaration.declaredAt.toISOString() } : null,
      probes: { 'create-only': createOnly, versioned },
      actions: checks.actions,
      lifecycle,
      clockOffset: checks.clock ?? null,
      latencyMs: checks.latency,
      auto,
      reason,
      warnings,
      scratchLeft,
      ...(workload ? { workload: { input: workload, requestsPerMonth: Object.fromEntries(protocols.map((p) => [p, monthlyRequests(workload, p)])) } } : {}),
    };
  } finally {
    survey.close();
  }
  io.out(flags.json ? json(report) : human(report));
  return report.auto ? 0 : 1;
}

async function probe(run: () => Promise<ProbeVerdict>): Promise<ProbeReport> {
  try {
    const v = await run();
    return v.ok ? { ok: true, ...(v.versionIds === undefined ? {} : { versionIds: v.versionIds }) } : { ok: false, detail: v.detail };
  } catch (error) {
    return { ok: false, detail: `the probe failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function workloadOf(flags: DoctorFlags): Workload | undefined {
  const hold = Number(flags.hold);
  const ttl = Number(flags.ttl);
  if (flags.workload !== undefined) return parseWorkload(flags.workload, hold, ttl);
  if (flags.locksPerMin === undefined && flags.instances === undefined) return undefined;
  return checkWorkload({ locksPerMinute: Number(flags.locksPerMin ?? NaN), instances: Number(flags.instances ?? 1), holdSeconds: hold, ttlSeconds: ttl });
}

function human(r: DoctorReport): string {
  const yes = (ok: boolean): string => (ok ? 'ok' : 'FAIL');
  const out: string[] = [];
  out.push(`s3://${r.bucket}/${r.prefix}${r.endpoint ? ` at ${r.endpoint}` : ''}`);
  out.push(`versioning: ${r.versioning ?? 'never enabled'}; declaration: ${r.declared ? `'${r.declared.protocol}' since ${r.declared.at}${r.declared.host ? ` by ${r.declared.host}` : ''}` : 'none yet (the first manager writes it)'}`);
  out.push('');
  const probeRow = (name: string, p: ProbeReport): string[] => [name, yes(p.ok), p.ok ? (p.versionIds ? 'writes return version ids' : '') : p.detail];
  out.push(table(['PROBE', 'RESULT', 'DETAIL'], [probeRow('create-only', r.probes['create-only']), probeRow('versioned', r.probes.versioned)]).trimEnd());
  out.push('');
  out.push(table(['S3 CALL', 'IAM ACTION', 'NEEDED BY', 'RESULT'], r.actions.map((a) => [a.call, a.action, a.neededBy, a.outcome === 'allowed' ? 'allowed' : `${a.outcome.toUpperCase()}${a.code ? ` (${a.code})` : ''}`])).trimEnd());
  out.push('');
  out.push(`latency (median of 5, ms): ${Object.entries(r.latencyMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`clock offset (store - this machine): ${r.clockOffset ? `${r.clockOffset.minMs} to ${r.clockOffset.maxMs} ms (${r.clockOffset.samples} answers)` : 'unknown (no Date headers)'}`);
  const lc = r.lifecycle;
  out.push(`lifecycle rules: ${lc.outcome === 'none' ? 'none' : lc.outcome === 'rules' ? `${lc.total}, ${lc.touching.length} touching the prefix` : `${lc.outcome} (${lc.code ?? '?'})`}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.workload) {
    const w = r.workload.input;
    out.push('');
    out.push(`estimated requests per 30-day month for ${w.locksPerMinute} locks/min, ${w.instances} instances, held ${w.holdSeconds} s, TTL ${w.ttlSeconds} s:`);
    const protocols = Object.keys(r.workload.requestsPerMonth) as DeclaredProtocol[];
    out.push(table(['REQUEST', ...protocols], [...REQUEST_TYPES.map((t) => [t, ...protocols.map((p) => r.workload!.requestsPerMonth[p]![t].toLocaleString('en-US'))]), ['total', ...protocols.map((p) => Object.values(r.workload!.requestsPerMonth[p]!).reduce((a, b) => a + b, 0).toLocaleString('en-US'))]]).trimEnd());
  }
  out.push('');
  out.push(r.auto ? `usable: ${r.auto}. ${r.reason}` : `NOT USABLE: ${r.reason}`);
  return out.join('\n') + '\n';
}
