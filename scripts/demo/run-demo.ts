/**
 * `npm run demo`: three instances of the sample app (sample/) share one bucket for about 30 s.
 *
 *   1. starts the in-memory S3 store (unless S3_ENDPOINT is set) and instances A, B and C;
 *   2. sends POST /reports/42 to every instance at once: one answers 200 with its fencing token,
 *      the others 423 Locked;
 *   3. SIGKILLs the instance that runs the queue worker, in the middle of a batch: its lock stays
 *      in the store until the TTL runs out, then another instance takes over with a higher token;
 *   4. more requests, then SIGTERM to the survivors (they release their locks on the way out);
 *   5. prints the timeline and a summary: each cron tick ran once, no two runs under one lock at
 *      the same time, tokens increased, the takeover. Exit code 1 when a check fails.
 *
 * Environment: DEMO_SECONDS (30), DEMO_TTL_MS (5000), S3_ENDPOINT / S3_BUCKET / S3_ACCESS_KEY_ID /
 * S3_SECRET_ACCESS_KEY (a store of your own; the bucket is created if missing),
 * DEMO_SUMMARY_FILE (write the summary as JSON), DEMO_EVENTS_FILE (every event line, JSON lines).
 * Exit codes: 0 all checks passed, 1 a check failed, 2 the demo could not run, 130 / 143 interrupted
 * (SIGINT / SIGTERM: the instances are stopped first).
 */
import { writeFileSync } from 'node:fs';
import { startInMemoryS3Server, type InMemoryS3Server } from '../../src/testing';
import { join } from 'node:path';
import { analyze, heldAt, TICK_LOCK, WORKER_LOCK, type RequestResult, type Takeover } from './analysis';
import { buildSample, removeBuild } from './build-sample';
import { InstanceProcess, monoMs, ROOT, type DemoEvent } from './instance-process';
import { describeRound, describeTakeover, formatSummary, formatTimeline, seconds } from './report';

const INSTANCES = ['A', 'B', 'C'];
const DEFAULT_BUCKET = 'nestjs-s3-lock-demo';
const STARTUP_TIMEOUT_MS = 120_000;

const USAGE = `npm run demo            three instances of sample/ for about 30 s, then a timeline and a summary

Environment:
  DEMO_SECONDS=30         how long the three instances run (from the moment all three are up)
  DEMO_TTL_MS=5000        lock TTL: how long the killed instance's lock blocks the others
  S3_ENDPOINT=http://...  use this store instead of starting the in-memory one
  S3_BUCKET=${DEFAULT_BUCKET}   S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (default testaccesskey / testsecretkey)
  DEMO_SUMMARY_FILE=path  also write the summary as JSON
  DEMO_EVENTS_FILE=path   also write every event line the instances printed (JSON lines)
Exit code: 0 every check passed, 1 a check failed (duplicate tick, overlap, tokens, no takeover), 2 could not run.`;

class Interrupted extends Error {}

interface Settings {
  readonly seconds: number;
  readonly ttlMs: number;
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly summaryFile: string | undefined;
  readonly eventsFile: string | undefined;
}

function settingsFromEnv(env: NodeJS.ProcessEnv): Settings {
  const number = (name: string, fallback: number, min: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got '${raw}'`);
    return value;
  };
  return {
    seconds: number('DEMO_SECONDS', 30, 8),
    ttlMs: Math.round(number('DEMO_TTL_MS', 5_000, 2_000)),
    endpoint: env.S3_ENDPOINT?.trim() || undefined,
    bucket: env.S3_BUCKET?.trim() || DEFAULT_BUCKET,
    accessKeyId: env.S3_ACCESS_KEY_ID?.trim() || 'testaccesskey',
    secretAccessKey: env.S3_SECRET_ACCESS_KEY?.trim() || 'testsecretkey',
    summaryFile: env.DEMO_SUMMARY_FILE?.trim() || undefined,
    eventsFile: env.DEMO_EVENTS_FILE?.trim() || undefined,
  };
}

class Demo {
  readonly events: DemoEvent[] = [];
  readonly requests: RequestResult[] = [];
  /** Lock instance id (one per acquisition attempt) -> demo instance. */
  readonly owners = new Map<string, string>();
  readonly instances: InstanceProcess[] = [];
  readonly t0 = monoMs();
  private readonly interrupt = new AbortController();
  private takeover: { victim: string; locks: Map<string, number>; resolve: (t: Takeover) => void } | undefined;
  private rounds = 0;
  /** A few lock metrics scraped before the instances stop (printed after the summary). */
  private metrics: string | undefined;
  private buildDir: string | undefined;

  constructor(readonly settings: Settings) {}

  /** Ctrl-C / SIGTERM: stop the scenario (the instances are stopped by `run`'s finally). */
  stop(): void {
    this.interrupt.abort();
  }

  get interrupted(): boolean {
    return this.interrupt.signal.aborted;
  }

  say(text: string): void {
    process.stdout.write(`[${((monoMs() - this.t0) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
  }

  async run(): Promise<number> {
    const { settings } = this;
    let server: InMemoryS3Server | undefined;
    let storeLabel: string;
    let endpoint = settings.endpoint;
    if (endpoint === undefined) {
      server = await startInMemoryS3Server({ port: 0 });
      endpoint = server.endpoint;
      storeLabel = `in-memory S3 at ${endpoint}`;
    } else {
      storeLabel = `${endpoint} (S3_ENDPOINT)`;
    }
    try {
      process.stdout.write(
        [
          `nestjs-s3-lock demo: instances ${INSTANCES.join(', ')} of the sample app (sample/) share one bucket for ${settings.seconds} s`,
          `  store   ${storeLabel}${server ? ' (started by the demo; set S3_ENDPOINT to use another store)' : ''}`,
          `  bucket  ${settings.bucket}, lock TTL ${seconds(settings.ttlMs)}`,
          `  jobs    cron '${TICK_LOCK}' every second on every instance (one runs it, the others skip),`,
          `          queue worker '${WORKER_LOCK}' (instances take turns, items go to a fenced ledger),`,
          `          POST /reports/:id under the lock 'report:<id>' (423 Locked while another instance builds it)`,
          '',
        ].join('\n'),
      );
      return await this.scenario(endpoint, server ? 'in-memory S3 (started by the demo)' : storeLabel);
    } finally {
      await this.stopAll();
      await server?.close();
      this.cleanUp();
    }
  }

  private async scenario(endpoint: string, storeLabel: string): Promise<number> {
    const { settings } = this;
    const env = {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: settings.bucket,
      S3_ACCESS_KEY_ID: settings.accessKeyId,
      S3_SECRET_ACCESS_KEY: settings.secretAccessKey,
      HOST: '127.0.0.1',
      PORT: '0',
      LOCK_TTL_MS: String(settings.ttlMs),
    };
    const entry = this.build();
    this.say(`starting ${INSTANCES.join(', ')}: node ${entry.endsWith('.ts') ? '-r ts-node/register/transpile-only sample/main.ts' : 'sample/main.ts (transpiled once for the three)'}`);
    for (const name of INSTANCES) {
      this.instances.push(new InstanceProcess({ name, entry, env, onEvent: (e) => this.onEvent(e), onLog: (i, line) => this.say(`${i} | ${line}`) }));
    }
    const ready = await this.waitForStartup();
    if (!ready) return 2;
    const readyAt = monoMs();
    this.say(`up: ${this.instances.map((i) => `${i.name} on :${i.port} (pid ${i.pid})`).join(', ')}${await this.protocol()}`);

    const W = settings.seconds * 1000;
    const at = (ms: number): Promise<void> => this.sleep(readyAt + ms - monoMs());

    await at(Math.max(1_500, 0.1 * W));
    await this.round(this.running().map((i) => [i, '42']));

    await at(Math.max(3_500, 0.3 * W));
    const kill = await this.killWorkerHolder();
    const takeover = kill ? this.waitForTakeover(kill.killedAt) : Promise.resolve(undefined);

    if (kill) await this.sleep(kill.killedAt + 1_500 - monoMs());
    const survivors = this.running();
    if (survivors.length > 0) await this.round([...survivors.map((i): [InstanceProcess, string] => [i, '42']), [survivors[0]!, '7']]);

    await at(0.8 * W);
    await this.round(this.running().map((i) => [i, '42']));

    const taken = await takeover;
    await at(Math.max(W, taken ? taken.acquiredAt - readyAt + 2_000 : 0));

    this.metrics = await this.scrapeMetrics();
    await this.stopAll();
    return this.finish(storeLabel);
  }

  private finish(storeLabel: string): number {
    const summary = analyze({ events: this.events, requests: this.requests, instances: this.instances });
    const deaths = new Map<string, number>();
    for (const i of this.instances) {
      const died = i.killedAt ?? i.exitedAt;
      if (died !== undefined) deaths.set(i.name, died);
    }
    const sorted = [...this.events].sort((a, b) => a.mono - b.mono);
    process.stdout.write('\nTimeline (seconds since the demo started; #n = fencing token)\n\n');
    process.stdout.write(`${formatTimeline({ t0: this.t0, instances: INSTANCES, events: sorted, requests: this.requests, takeovers: summary.takeovers, owners: this.owners, deaths })}\n\n`);
    process.stdout.write(`${formatSummary(summary, { store: storeLabel, ttlMs: this.settings.ttlMs, t0: this.t0 })}\n`);
    if (this.metrics) process.stdout.write(`\n${this.metrics}\n`);
    const { summaryFile, eventsFile } = this.settings;
    if (summaryFile) {
      const requests = this.requests.map((r) => ({ ...r, holder: r.holderOwner ? this.owners.get(r.holderOwner) : undefined }));
      writeFileSync(summaryFile, `${JSON.stringify({ ...summary, requests: { ...summary.requests, list: requests }, bucket: this.settings.bucket, ttlMs: this.settings.ttlMs }, null, 2)}\n`);
    }
    if (eventsFile) writeFileSync(eventsFile, sorted.map((e) => JSON.stringify(e)).join('\n') + '\n');
    return summary.ok ? 0 : 1;
  }

  /** The entry point: sample/ transpiled once (sample/main.ts through ts-node if that fails). */
  private build(): string {
    try {
      const { dir, main } = buildSample(ROOT);
      this.buildDir = dir;
      return main;
    } catch (error) {
      this.say(`could not transpile sample/ (${error instanceof Error ? error.message : String(error)}): running it through ts-node`);
      return join(ROOT, 'sample', 'main.ts');
    }
  }

  /** Removes the transpiled sample. */
  cleanUp(): void {
    if (this.buildDir) removeBuild(this.buildDir);
    this.buildDir = undefined;
  }

  private onEvent(e: DemoEvent): void {
    this.events.push(e);
    if ((e.event === 'acquired' || e.event === 'attempt') && typeof e.owner === 'string') this.owners.set(e.owner, e.instance);
    if (e.event === 'attempt' && typeof e.manager === 'string') this.owners.set(e.manager, e.instance);
    const t = this.takeover;
    if (t && e.event === 'acquired' && e.instance !== t.victim && typeof e.lock === 'string' && typeof e.token === 'number' && t.locks.has(e.lock)) {
      const tokenBefore = t.locks.get(e.lock)!;
      t.locks.delete(e.lock);
      const killed = this.instances.find((i) => i.name === t.victim)!.killedAt!;
      const takeover: Takeover = { lock: e.lock, from: t.victim, to: e.instance, killedAt: killed, acquiredAt: e.mono, afterMs: e.mono - killed, tokenBefore, tokenAfter: e.token };
      this.say(describeTakeover(takeover));
      if (e.lock === WORKER_LOCK) t.resolve(takeover);
    }
    if (e.event === 'exit') {
      const instance = this.instances.find((i) => i.name === e.instance);
      if (instance && instance.killedAt === undefined && !instance.stopRequested && !this.interrupted) {
        this.say(`${e.instance} exited on its own (${e.signal ? String(e.signal) : `code ${String(e.code)}`})${instance.stderr ? `:\n${indent(instance.stderr)}` : ''}`);
      }
    }
  }

  private async waitForStartup(): Promise<boolean> {
    const deadline = monoMs() + STARTUP_TIMEOUT_MS;
    while (this.instances.some((i) => i.port === undefined)) {
      const dead = this.instances.find((i) => !i.running);
      if (dead) {
        this.say(`${dead.name} did not start (${dead.exitSignal ?? `exit code ${String(dead.exitCode)}`})${dead.stderr ? `:\n${indent(dead.stderr)}` : ''}`);
        return false;
      }
      if (monoMs() > deadline) {
        this.say(`the instances did not start within ${STARTUP_TIMEOUT_MS / 1000} s`);
        return false;
      }
      await this.sleep(100);
    }
    return true;
  }

  /** `, store protocol create-only` from GET /health on the first instance. */
  private async protocol(): Promise<string> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.instances[0]!.port}/health`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as { locks?: { protocol?: string } };
      return body.locks?.protocol ? `; lock protocol ${body.locks.protocol}` : '';
    } catch {
      return '';
    }
  }

  private running(): InstanceProcess[] {
    return this.instances.filter((i) => i.running && i.killedAt === undefined);
  }

  /** Sends the requests at once and prints the answers. */
  private async round(targets: readonly [InstanceProcess, string][]): Promise<void> {
    const round = ++this.rounds;
    const results = await Promise.all(targets.map(([instance, report]) => this.post(round, instance, report)));
    this.requests.push(...results);
    this.say(describeRound(results, this.owners));
  }

  private async post(round: number, instance: InstanceProcess, report: string): Promise<RequestResult> {
    const sentAt = monoMs();
    const base = { round, instance: instance.name, report, sentAt };
    try {
      const response = await fetch(`http://127.0.0.1:${instance.port}/reports/${report}`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
      const body = (await response.json().catch(() => undefined)) as { fencingToken?: number; holder?: { managerId?: string } } | undefined;
      return { ...base, status: response.status, token: body?.fencingToken, holderOwner: body?.holder?.managerId, doneAt: monoMs() };
    } catch (error) {
      return { ...base, status: 0, error: error instanceof Error ? error.message : String(error), doneAt: monoMs() };
    }
  }

  /**
   * SIGKILLs the instance running a queue-worker batch: once it wrote an item to the ledger, at a
   * moment when it holds no other lock and this second's cron tick already ran elsewhere (so the
   * tick is not stuck behind the dead instance too). Falls back to any worker holder after 20 s.
   */
  private async killWorkerHolder(): Promise<{ victim: InstanceProcess; killedAt: number } | undefined> {
    const deadline = monoMs() + 20_000;
    for (;;) {
      const now = monoMs();
      const lastTick = [...this.events].reverse().find((e) => e.event === 'acquired' && e.lock === TICK_LOCK);
      for (const instance of this.running()) {
        const held = heldAt(this.events, instance.name, now);
        const worker = held.find((h) => h.lock === WORKER_LOCK);
        if (!worker) continue;
        const wrote = this.events.some((e) => e.instance === instance.name && e.event === 'ledger.write' && e.token === worker.token);
        const tickElsewhere = lastTick !== undefined && lastTick.instance !== instance.name && now - lastTick.mono < 600;
        if ((wrote && held.length === 1 && tickElsewhere) || now > deadline) {
          this.takeover = { victim: instance.name, locks: new Map(held.map((h) => [h.lock, h.token])), resolve: () => undefined };
          const killedAt = instance.kill();
          this.say(`SIGKILL ${instance.name} (pid ${instance.pid}) in the middle of a queue-worker batch: it holds ${held.map((h) => `'${h.lock}' #${h.token}`).join(' and ')}`);
          this.say(`  the others wait for its lease to expire (TTL ${seconds(this.settings.ttlMs)}; no shutdown hook ran, nothing was released)`);
          return { victim: instance, killedAt };
        }
      }
      if (now > deadline) {
        this.say(`no instance held '${WORKER_LOCK}' within 20 s: nobody killed`);
        return undefined;
      }
      await this.sleep(25);
    }
  }

  /** Resolves with the takeover of the worker lock (undefined after 4 TTLs + 10 s). */
  private waitForTakeover(killedAt: number): Promise<Takeover | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), Math.max(0, killedAt + 4 * this.settings.ttlMs + 10_000 - monoMs()));
      this.interrupt.signal.addEventListener('abort', () => resolve(undefined), { once: true });
      this.takeover!.resolve = (t) => {
        clearTimeout(timer);
        resolve(t);
      };
    });
  }

  /** A few lock metrics from GET /metrics of the first instance still running (OpenTelemetry, Prometheus format). */
  private async scrapeMetrics(): Promise<string | undefined> {
    const instance = this.running()[0];
    if (!instance) return undefined;
    try {
      const response = await fetch(`http://127.0.0.1:${instance.port}/metrics`, { signal: AbortSignal.timeout(5_000) });
      const lines = (await response.text()).split('\n').filter((l) => l.startsWith('s3lock_'));
      const series = lines.filter((l) => !l.startsWith('#'));
      const shown = /^s3lock_(acquire_duration(_seconds)?_count|leases_held|leases_lost(_total)?|renewals(_total)?)\{/;
      const pick = [...series.filter((l) => shown.test(l)), ...series.filter((l) => /^s3lock_store_requests(_total)?\{.*PutObject/.test(l)).slice(0, 3)];
      const short = (l: string): string => l.replace(/,?otel_scope_name="nestjs-s3-lock"/, '').replace(/s3lock_bucket="[^"]*",?/, '');
      return [`OpenTelemetry metrics of instance ${instance.name} (GET /metrics, Prometheus format; ${series.length} lock series, some shown, bucket label left out):`, ...pick.map((l) => `  ${short(l)}`)].join('\n');
    } catch (error) {
      return `GET /metrics of instance ${instance.name} failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /** SIGTERM to every running instance; waits until they exited. */
  private async stopAll(): Promise<void> {
    const running = this.instances.filter((i) => i.running && !i.stopRequested);
    if (running.length === 0) return;
    this.say(`stopping ${running.map((i) => i.name).join(', ')} (SIGTERM: their shutdown hooks release the locks they hold)`);
    for (const i of running) this.events.push({ instance: i.name, event: 'stop', mono: monoMs() });
    await Promise.all(running.map((i) => i.stop()));
  }

  /** Kills every instance at once (the process is exiting). */
  killAll(): void {
    for (const i of this.instances) if (i.running) i.child.kill('SIGKILL');
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.interrupt.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Interrupted());
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new Interrupted());
      };
      const timer = setTimeout(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let settings: Settings;
  try {
    settings = settingsFromEnv(process.env);
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    return 2;
  }
  const demo = new Demo(settings);
  let signals = 0;
  let interruptCode = 130;
  const onSignal = (signal: NodeJS.Signals): void => {
    interruptCode = signal === 'SIGTERM' ? 143 : 130;
    if (++signals > 1) {
      demo.killAll();
      process.exit(interruptCode);
    }
    process.stdout.write(`\n${signal}: stopping the instances (again to kill them at once)\n`);
    demo.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    demo.killAll();
    demo.cleanUp();
  });
  try {
    return await demo.run();
  } catch (error) {
    if (error instanceof Interrupted || demo.interrupted) return interruptCode;
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 2;
  }
}

main().then(
  (code) => process.exit(code),
  () => process.exit(2),
);
