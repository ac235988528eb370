/**
 * The stores a bench run measures, opened through the test suite's store targets
 * (test/support/store-target.ts): the in-memory store behind a loopback HTTP server, Ceph RGW,
 * moto, or any S3 endpoint given by S3_ENDPOINT.
 */
import { storeTarget, type StoreTarget } from '../test/support/store-target';

export type BenchStoreName = 'memory' | 'rgw' | 'moto' | 'endpoint';

export interface BenchStore {
  /** Label used in the report (the endpoint's host for 'endpoint'). */
  readonly label: string;
  readonly name: BenchStoreName;
  readonly target: StoreTarget | undefined;
  /** Why this store could not be measured, if it could not. */
  readonly unavailable: string | undefined;
}

/** Default endpoints of the servers started by scripts/s3/start-*.sh. */
const DEFAULT_ENDPOINTS: Record<'rgw' | 'moto', string> = { rgw: 'http://127.0.0.1:7480', moto: 'http://127.0.0.1:5055' };

export async function openStore(name: BenchStoreName): Promise<BenchStore> {
  const skipped = process.env[`BENCH_UNAVAILABLE_${name.toUpperCase()}`];
  if (skipped) return { label: name, name, target: undefined, unavailable: skipped };
  const env = targetEnv(name);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const target = await storeTarget();
    return { label: labelOf(name), name, target, unavailable: undefined };
  } catch (error) {
    return { label: labelOf(name), name, target: undefined, unavailable: firstLine(error) };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * Environment for storeTarget(). An arbitrary endpoint goes through the 'rgw' target (the one
 * that takes an endpoint and keys from the environment); only bucket names say 'rgw' then.
 */
function targetEnv(name: BenchStoreName): Record<string, string> {
  switch (name) {
    case 'memory':
      return { S3_LOCK_TARGET: 'memory' };
    case 'rgw':
    case 'moto': {
      const prefix = `S3_${name.toUpperCase()}`;
      return { S3_LOCK_TARGET: name, [`${prefix}_ENDPOINT`]: process.env[`${prefix}_ENDPOINT`] || DEFAULT_ENDPOINTS[name] };
    }
    case 'endpoint': {
      const endpoint = process.env.S3_ENDPOINT;
      if (!endpoint) throw new Error('--store endpoint needs S3_ENDPOINT (and S3_ACCESS_KEY / S3_SECRET_KEY)');
      return {
        S3_LOCK_TARGET: 'rgw',
        S3_RGW_ENDPOINT: endpoint,
        S3_RGW_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY ?? process.env.AWS_ACCESS_KEY_ID ?? 'testaccesskey',
        S3_RGW_SECRET_ACCESS_KEY: process.env.S3_SECRET_KEY ?? process.env.AWS_SECRET_ACCESS_KEY ?? 'testsecretkey',
      };
    }
  }
}

function labelOf(name: BenchStoreName): string {
  if (name !== 'endpoint') return name;
  try {
    return new URL(process.env.S3_ENDPOINT ?? '').host;
  } catch {
    return 'endpoint';
  }
}

export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}
