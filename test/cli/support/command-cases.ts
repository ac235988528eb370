import { runBin, runJson } from './cli-process';
import { freshBucket, startHolder, type CliStore } from './cli-stores';

interface LsRow {
  name: string;
  state: string;
  held: boolean;
  fencingToken: number | null;
  protocol: string;
  holder: { host: string | null; pid: number | null; managerId: string | null } | null;
  expiresAt: string | null;
}

interface DoctorJson {
  auto: string | null;
  reason: string;
  versioning: string | null;
  probes: Record<string, { ok: boolean; detail?: string }>;
  actions: Array<{ action: string; call: string; outcome: string }>;
  latencyMs: Record<string, number>;
  clockOffset: { minMs: number; maxMs: number } | null;
  scratchLeft: string[];
}

/**
 * Every command against `store` with both protocols, through the installed bin: doctor on a plain
 * and a versioned bucket, ls / inspect while another process holds a lock, release --force ending
 * it (the holder's signal aborts), and the JSON of each.
 */
export function commandCases(open: () => Promise<CliStore>): void {
  let store: CliStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.close();
  });

  const cli = (args: string[]) => runBin([...args, ...store.flags], store.env);
  const cliJson = <T>(args: string[]) => runJson<T>([...args, ...store.flags], store.env);

  it('doctor on a plain bucket: create-only usable, every action allowed, exit 0, and no scratch key left', async () => {
    const bucket = await freshBucket(store, false);
    const { code, json } = await cliJson<DoctorJson>(['doctor', '--bucket', bucket]);
    expect(json.auto).toBe('create-only');
    expect(code).toBe(0);
    expect(json.probes['create-only']!.ok).toBe(true);
    expect(json.probes.versioned!.ok).toBe(false);
    expect(json.actions.filter((a) => a.outcome !== 'allowed')).toEqual([]);
    expect(json.latencyMs.PUT).toBeGreaterThan(0);
    expect(json.clockOffset).not.toBeNull();
    expect(json.scratchLeft).toEqual([]);
    const ls = await cliJson<LsRow[]>(['ls', '--bucket', bucket, '--prefix', '']);
    expect(ls.json).toEqual([]); // nothing under the bucket's root: the scratch prefix is gone
    const human = await cli(['doctor', '--bucket', bucket, '--workload', '60 locks/min, 3 instances']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/usable: create-only/);
    expect(human.stdout).toMatch(/estimated requests per 30-day month for 60 locks\/min, 3 instances/);
  });

  it('doctor on a versioned bucket names the protocol auto picks there', async () => {
    const bucket = await freshBucket(store, true);
    const { code, json } = await cliJson<DoctorJson>(['doctor', '--bucket', bucket]);
    expect(code).toBe(0);
    expect(json.versioning).toBe('Enabled');
    expect(json.probes.versioned!.ok).toBe(true);
    // Ceph RGW ignores If-None-Match in versioned buckets; moto and the in-memory store honour it
    expect(json.auto).toBe(store.name === 'rgw' ? 'versioned' : 'create-only');
    expect(json.probes['create-only']!.ok).toBe(store.name !== 'rgw');
    expect(json.scratchLeft).toEqual([]);
  });

  describe.each(['create-only', 'versioned'] as const)('%s', (protocol) => {
    it('ls and inspect show a lock another process holds; release --force ends it and the holder is told', async () => {
      const bucket = await freshBucket(store, protocol === 'versioned');
      const holder = await startHolder(store, { bucket, protocol, names: ['jobs/nightly', 'report'] });
      try {
        const token = holder.tokens.get('jobs/nightly')!;
        const ls = await cliJson<LsRow[]>(['ls', '--bucket', bucket]);
        expect(ls.code).toBe(0);
        expect(ls.json.map((r) => r.name)).toEqual(['jobs/nightly', 'report']);
        const row = ls.json[0]!;
        expect(row).toMatchObject({ name: 'jobs/nightly', state: 'held', held: true, fencingToken: token, protocol });
        expect(row.holder).toMatchObject({ pid: holder.child.pid });
        expect(Date.parse(row.expiresAt!)).toBeGreaterThan(Date.now() - 5_000);

        const human = await cli(['ls', '--bucket', bucket]);
        expect(human.stdout).toMatch(/^NAME\s+STATE\s+HOLDER/m);
        expect(human.stdout).toMatch(new RegExp(`jobs/nightly\\s+held\\s+\\S+:${holder.child.pid}\\s`));

        const inspect = await cliJson<LsRow & { records: Array<{ kind: string; fencingToken: number }> }>(['inspect', 'jobs/nightly', '--bucket', bucket]);
        expect(inspect.code).toBe(0);
        expect(inspect.json).toMatchObject({ name: 'jobs/nightly', state: 'held', fencingToken: token, protocol });
        expect(inspect.json.records.length).toBeGreaterThan(0);
        expect(inspect.json.records.every((r) => r.fencingToken === token)).toBe(true);
        expect(inspect.json.records.map((r) => r.kind)).toContain(protocol === 'versioned' ? 'acquire' : inspect.json.records.at(-1)!.kind);

        // release without a terminal and without --yes refuses, and ends nothing
        const refused = await cli(['release', '--force', 'report', '--bucket', bucket]);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/--yes/);

        const released = await cli(['release', '--force', '--yes', 'report', '--bucket', bucket]);
        expect(released.stderr).toBe('');
        expect(released.code).toBe(0);
        expect(released.stdout).toContain(`pid ${holder.child.pid}, fencing token ${holder.tokens.get('report')}`);
        expect(await holder.line(/^LOST report /, 15_000)).toBe('LOST report taken-over');

        const again = await cliJson<{ released: boolean }>(['release', '--force', '--yes', 'report', '--bucket', bucket]);
        expect(again.code).toBe(1);
        expect(again.json.released).toBe(false);

        const held = await cliJson<LsRow[]>(['ls', '--held', '--bucket', bucket]);
        expect(held.json.map((r) => r.name)).toEqual(['jobs/nightly']);
        const all = await cliJson<LsRow[]>(['ls', '--bucket', bucket]);
        expect(all.json.find((r) => r.name === 'report')).toMatchObject({ state: 'free', held: false, holder: null });
        expect(holder.lines.filter((l) => l.startsWith('LOST jobs/nightly'))).toEqual([]);
      } finally {
        await holder.stop();
      }
    });
  });

  it('a missing bucket is a typed error naming the bucket, exit 2, and --json prints the error as JSON', async () => {
    const r = await cli(['ls', '--bucket', 'no-such-bucket-for-the-cli']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-such-bucket-for-the-cli/);
    expect(r.stdout).toBe('');
    const j = await cliJson<{ error: { name: string; bucket: string } }>(['doctor', '--bucket', 'no-such-bucket-for-the-cli']);
    expect(j.code).toBe(2);
    expect(j.json.error).toMatchObject({ name: 'S3LockBucketMissingError', bucket: 'no-such-bucket-for-the-cli' });
  });
}
