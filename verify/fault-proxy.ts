/**
 * A fault-injecting TCP proxy for HTTP/1.1 between lock clients and an S3 store. It reads each
 * request completely (head plus a Content-Length or chunked body), then decides its fate:
 *
 *  - latency      every request waits a base latency plus exponential jitter before it is forwarded
 *  - spike        the request is held longer than the TTL, then forwarded anyway: a write the client
 *                 has given up on (request timeout) reaches the store late
 *  - slow         the response is held for a while (below the client's request timeout) before it is relayed
 *  - reset        the client connection is reset before anything is forwarded
 *  - drop         the request is forwarded; when the store starts answering, the client connection
 *                 is reset instead of relaying the answer (the write happened, the client cannot know)
 *  - slowdown     during bursts, requests are answered 503 SlowDown by the proxy (not forwarded)
 *
 * and, when the run's fault schedules ask for them (`ScheduleProfile`), acts on the lock protocol's
 * requests (a claim is a PUT with `x-amz-meta-lock-kind: acquire`; the worker is known from the
 * `verify-worker-<index>` part of its User-Agent):
 *
 *  - late-grant   a claim's answer is dropped after the store applied it (the SDK retries: a duplicate
 *                 claim, or a 412), then the same worker's next read of that lock and its next delete
 *                 (create-only: the retry's 412 and the read-back) are held, so that the grant comes
 *                 after the lease's deadline
 *  - claim-hold   a claim's answer is held while a callback runs (the operator's forceRelease), so
 *                 the force release lands between the claim and the claimant's re-read
 *  - skewed-date  the Date header of some answers is moved (a load balancer with one skewed node)
 *  - hold         while the runner re-creates a bucket, new requests wait (`holdWhile`)
 *
 * One request per connection: requests are forwarded with `Connection: close` and the client
 * connection ends with the response. Clients should not use keep-alive (the verification workers
 * use `http.Agent({ keepAlive: false })`); a second request on one connection is refused.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Random } from './random';

export type FaultKind = 'latency' | 'spike' | 'slow' | 'reset' | 'drop' | 'slowdown' | 'late-grant' | 'claim-hold' | 'skewed-date';
export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'spike', 'slow', 'reset', 'drop', 'slowdown', 'late-grant', 'claim-hold', 'skewed-date'];

/** A claim PUT seen by the proxy. */
export interface ClaimInfo {
  /** Worker index from the User-Agent, when known. */
  readonly worker: number | undefined;
  /** The object key (decoded), e.g. `locks/resource-0/lock`. */
  readonly key: string;
}

/** Faults aimed at the lock protocol's requests (see the module comment). */
export interface ScheduleProfile {
  /** Late grants after lost responses. */
  readonly lateGrant?: {
    /** Probability that a claim starts an episode (at most one episode per worker at a time). */
    readonly probability: number;
    /** Hold of the worker's first read of the lock after the claim (create-only: of the SDK's retry of the claim), ms. */
    readonly readHoldMs: number;
    /** Hold of its next delete (create-only: of its read-back), ms. */
    readonly followHoldMs: number;
    /** Episodes end after this long, whatever happened. */
    readonly episodeMs: number;
    /** At most this many episodes in all (default unlimited). */
    readonly maxEpisodes?: number;
    readonly protocol: 'create-only' | 'versioned';
  };
  /** A claim's answer held until `onClaim` resolves, at most `maxHoldMs`. */
  readonly claimHold?: {
    readonly probability: number;
    readonly maxHoldMs: number;
    readonly onClaim: (claim: ClaimInfo) => Promise<void>;
  };
  /** Answers whose Date header is moved by `offsetMs`. */
  readonly skewedDate?: { readonly probability: number; readonly offsetMs: number };
}

export interface FaultProfile {
  /** Base latency added to every request, uniform in [min, max] ms. */
  readonly latencyMs: readonly [number, number];
  /** Mean of the exponential jitter added on top, ms. */
  readonly jitterMeanMs: number;
  /** Probability that a request is held for `spikeMs` before it is forwarded. */
  readonly spikeProbability: number;
  readonly spikeMs: readonly [number, number];
  /** Probability that a response is held for `slowMs` before it is relayed. */
  readonly slowProbability: number;
  readonly slowMs: readonly [number, number];
  /** Probability that a connection is reset before the request is forwarded. */
  readonly resetProbability: number;
  /** Probability that the response is dropped after the request reached the store. */
  readonly dropProbability: number;
  /** Time between the starts of two 503 SlowDown bursts, ms. */
  readonly burstEveryMs: readonly [number, number];
  /** Length of a burst, ms. */
  readonly burstMs: readonly [number, number];
  /** Probability that a request during a burst is answered 503. */
  readonly burstProbability: number;
}

/** The profile of `npm run verify` for a TTL (spikes are longer than the TTL). */
export function defaultFaultProfile(ttlMs: number): FaultProfile {
  return {
    latencyMs: [1, 8],
    jitterMeanMs: 12,
    spikeProbability: 0.004,
    spikeMs: [Math.round(ttlMs * 1.1), Math.round(ttlMs * 1.6)],
    slowProbability: 0.01,
    slowMs: [Math.round(ttlMs * 0.15), Math.round(ttlMs * 0.6)],
    resetProbability: 0.01,
    dropProbability: 0.01,
    burstEveryMs: [8_000, 16_000],
    burstMs: [300, 1_500],
    burstProbability: 0.7,
  };
}

export interface FaultProxyOptions {
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** No faults at all when undefined (a plain forwarding proxy). */
  readonly profile: FaultProfile | undefined;
  readonly random: Random;
  /** Port to listen on (default any). */
  readonly port?: number;
  /** Faults aimed at the lock protocol (on only while the proxy is enabled). */
  readonly schedules?: ScheduleProfile;
  /** Told about every request: when it was forwarded (or answered by the proxy) and what came back. */
  readonly requestLog?: (entry: ProxiedRequestLog) => void;
}

/** One request as the proxy handled it (times: `process.hrtime` in ms, as the workers log). */
export interface ProxiedRequestLog {
  readonly worker: number | undefined;
  readonly method: string;
  readonly target: string;
  /** The lock record a PUT carried (kind, lease, token, nonce), and whether it was conditional. */
  readonly put?: { kind?: string; lease?: string; token?: string; nonce?: string; cause?: string; generation?: string; base?: string; ifNoneMatch: boolean };
  /** The proxy answered itself (`slowdown`, `reset`), or what it did to a forwarded request. */
  readonly fault?: string;
  readonly forwardedAt?: number;
  readonly answeredAt?: number;
  /** HTTP status of the store's answer (0: none). */
  readonly status?: number;
  /** The Date header the client got. */
  readonly date?: string;
  /** The lock record (`x-amz-meta-lock-*`) a GET / HEAD answer carried. */
  readonly record?: Record<string, string>;
}

/** A late-grant episode of one worker. */
interface Episode {
  readonly lockDir: string;
  readonly until: number;
  /** Reads of the lock seen so far in the episode. */
  reads: number;
  /** The delete (or second read) was held: the episode is over. */
  done: boolean;
}

const MAX_HEAD_BYTES = 64 * 1024;
const IDLE_TIMEOUT_MS = 60_000;

/** A parsed request, with its raw bytes rewritten to `Connection: close`. */
interface ProxiedRequest {
  readonly method: string;
  /** The request target (path and query). */
  readonly target: string;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: Buffer;
}

/** How the answer of a forwarded request is relayed. */
interface Relay {
  /** Reset the client connection when the store starts answering. */
  readonly drop: boolean;
  /** Hold the answer this long. */
  readonly slowMs: number;
  /** Hold the answer until this settles (in addition to slowMs). */
  readonly holdUntil?: Promise<void>;
  /** Move the answer's Date header by this much. */
  readonly dateOffsetMs?: number;
}

export class FaultProxy {
  private readonly counts: Record<FaultKind | 'requests', number> = {
    requests: 0,
    latency: 0,
    spike: 0,
    slow: 0,
    reset: 0,
    drop: 0,
    slowdown: 0,
    'late-grant': 0,
    'claim-hold': 0,
    'skewed-date': 0,
  };
  private readonly episodes = new Map<number, Episode>();
  private claimHoldBusy = false;
  private gate: Promise<void> | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private burstUntil = 0;
  private burstTimer: NodeJS.Timeout | undefined;
  private enabled: boolean;

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
  ) {
    this.enabled = options.profile !== undefined;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, options);
    server.on('connection', (socket) => proxy.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    proxy.scheduleBurst();
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Faults injected so far, by kind, plus the number of requests seen. */
  faultCounts(): Record<FaultKind | 'requests', number> {
    return { ...this.counts };
  }

  /** Turns fault injection on or off (the proxy keeps forwarding). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled && this.options.profile !== undefined;
    if (!this.enabled) this.burstUntil = 0;
  }

  /** Starts a 503 burst now (bursts otherwise start on the profile's schedule). */
  startBurst(durationMs: number): void {
    if (this.enabled) this.burstUntil = Date.now() + durationMs;
  }

  /**
   * Requests that arrive until `work` settles wait for it before anything else happens to them (the
   * runner re-creating a bucket: no request may reach it before versioning is enabled again).
   */
  async holdWhile<T>(work: Promise<T>): Promise<T> {
    const gate = work.then(
      () => undefined,
      () => undefined,
    );
    this.gate = gate;
    try {
      return await work;
    } finally {
      if (this.gate === gate) this.gate = undefined;
    }
  }

  /** True while a 503 burst is on. */
  get inBurst(): boolean {
    return Date.now() < this.burstUntil;
  }

  async close(): Promise<void> {
    if (this.burstTimer) clearTimeout(this.burstTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private scheduleBurst(): void {
    const profile = this.options.profile;
    if (!profile) return;
    const r = this.options.random;
    this.burstTimer = setTimeout(() => {
      if (this.enabled) this.burstUntil = Date.now() + r.between(profile.burstMs[0], profile.burstMs[1]);
      this.scheduleBurst();
    }, r.between(profile.burstEveryMs[0], profile.burstEveryMs[1]));
    this.burstTimer.unref();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private onConnection(client: Socket): void {
    this.track(client);
    client.setTimeout(IDLE_TIMEOUT_MS, () => client.destroy());
    let buffered = Buffer.alloc(0);
    let handled = false;
    client.on('data', (chunk: Buffer) => {
      if (handled) {
        // A second request on this connection: not supported (see the module comment).
        client.destroy();
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      let request: ProxiedRequest | undefined;
      try {
        request = parseRequest(buffered);
      } catch {
        client.destroy();
        return;
      }
      if (!request) {
        if (buffered.length > MAX_HEAD_BYTES * 64) client.destroy();
        return;
      }
      handled = true;
      this.handle(client, request);
    });
  }

  private handle(client: Socket, request: ProxiedRequest): void {
    const gate = this.gate;
    if (gate) {
      void gate.then(() => this.handle(client, request));
      return;
    }
    this.counts.requests++;
    const profile = this.enabled ? this.options.profile : undefined;
    if (!profile) {
      this.forward(client, request, 0, { drop: false, slowMs: 0 });
      return;
    }
    const r = this.options.random;
    const dateOffsetMs = this.dateOffset();
    if (this.scheduled(client, request, dateOffsetMs)) return;
    if (this.inBurst && r.chance(profile.burstProbability)) {
      this.counts.slowdown++;
      this.log(request, { fault: 'slowdown' });
      this.later(r.between(1, 5), () => answerSlowDown(client, request.method));
      return;
    }
    if (r.chance(profile.resetProbability)) {
      this.counts.reset++;
      this.log(request, { fault: 'reset' });
      this.later(r.between(0, 5), () => resetSocket(client));
      return;
    }
    let delay = r.between(profile.latencyMs[0], profile.latencyMs[1]) + r.exponential(profile.jitterMeanMs);
    this.counts.latency++;
    if (r.chance(profile.spikeProbability)) {
      this.counts.spike++;
      delay += r.between(profile.spikeMs[0], profile.spikeMs[1]);
    }
    const drop = r.chance(profile.dropProbability);
    if (drop) this.counts.drop++;
    let slowMs = 0;
    if (!drop && r.chance(profile.slowProbability)) {
      this.counts.slow++;
      slowMs = r.between(profile.slowMs[0], profile.slowMs[1]);
    }
    this.forward(client, request, delay, { drop, slowMs, dateOffsetMs });
  }

  private log(request: ProxiedRequest, entry: Omit<ProxiedRequestLog, 'worker' | 'method' | 'target' | 'put'>): void {
    const sink = this.options.requestLog;
    if (!sink) return;
    const h = request.headers;
    const put =
      request.method === 'PUT'
        ? {
            kind: h['x-amz-meta-lock-kind'],
            lease: h['x-amz-meta-lock-lease'],
            token: h['x-amz-meta-lock-token'],
            nonce: h['x-amz-meta-lock-nonce'],
            cause: h['x-amz-meta-lock-cause'],
            generation: h['x-amz-meta-lock-generation'],
            base: h['x-amz-meta-lock-base'],
            ifNoneMatch: h['if-none-match'] !== undefined,
          }
        : undefined;
    sink({ worker: workerOf(request), method: request.method, target: request.target, ...(put ? { put } : {}), ...entry });
  }

  /** The Date offset of this answer (skewed-date schedule), or undefined. */
  private dateOffset(): number | undefined {
    const skew = this.options.schedules?.skewedDate;
    if (!skew || !this.options.random.chance(skew.probability)) return undefined;
    this.counts['skewed-date']++;
    return skew.offsetMs;
  }

  /** Applies the late-grant and claim-hold schedules; true when the request was handled here. */
  private scheduled(client: Socket, request: ProxiedRequest, dateOffsetMs: number | undefined): boolean {
    const schedules = this.options.schedules;
    if (!schedules) return false;
    const r = this.options.random;
    const worker = workerOf(request);
    const key = keyOf(request);
    const now = Date.now();
    const late = schedules.lateGrant;
    if (late && worker !== undefined) {
      const episode = this.episodes.get(worker);
      if (episode && (episode.done || now > episode.until)) this.episodes.delete(worker);
      else if (episode && key.startsWith(episode.lockDir)) {
        // Part of the episode: no other fault, so that the grant comes late rather than not at all.
        // versioned: the re-read (first GET/HEAD), then the delete of the duplicate claim;
        // create-only: the SDK's retry of the claim (answered 412), then the read-back.
        let slowMs = 0;
        const read = request.method === 'GET' || request.method === 'HEAD';
        if (late.protocol === 'versioned') {
          if (read && episode.reads++ === 0) slowMs = late.readHoldMs;
          else if (request.method === 'DELETE' && episode.reads > 0) {
            slowMs = late.followHoldMs;
            episode.done = true;
          }
        } else if (request.method === 'PUT' && episode.reads === 0) {
          episode.reads = 1;
          slowMs = late.readHoldMs;
        } else if (read) {
          slowMs = late.followHoldMs;
          episode.done = true;
        }
        this.forward(client, request, 1, { drop: false, slowMs, dateOffsetMs });
        return true;
      }
    }
    if (!isClaim(request)) return false;
    if (late && worker !== undefined && !this.episodes.has(worker) && this.counts['late-grant'] < (late.maxEpisodes ?? Infinity) && r.chance(late.probability)) {
      this.counts['late-grant']++;
      this.episodes.set(worker, { lockDir: key.slice(0, key.lastIndexOf('/') + 1), until: now + late.episodeMs, reads: 0, done: false });
      this.forward(client, request, 1, { drop: true, slowMs: 0 });
      return true;
    }
    const hold = schedules.claimHold;
    if (hold && !this.claimHoldBusy && r.chance(hold.probability)) {
      this.counts['claim-hold']++;
      this.claimHoldBusy = true;
      let released: () => void = () => undefined;
      const holdUntil = new Promise<void>((resolve) => (released = resolve));
      this.later(hold.maxHoldMs, () => released());
      // The callback starts once the claim reached the store (its answer is being held).
      const onStored = (): void => {
        hold
          .onClaim({ worker, key })
          .catch(() => undefined)
          .finally(() => {
            this.claimHoldBusy = false;
            released();
          });
      };
      this.forward(client, request, 1, { drop: false, slowMs: 0, holdUntil, dateOffsetMs, onStored });
      return true;
    }
    return false;
  }

  /** Forwards after `delayMs` (even if the client left meanwhile), then relays, drops or delays the answer. */
  private forward(client: Socket, request: ProxiedRequest, delayMs: number, relay: Relay & { onStored?: () => void }): void {
    const { drop, slowMs, holdUntil, dateOffsetMs, onStored } = relay;
    const held = slowMs > 0 || holdUntil !== undefined;
    const go = (): void => {
      // a request delayed (latency, spike) past the start of a hold waits for its end too
      const gate = this.gate;
      if (gate) {
        void gate.then(go);
        return;
      }
      const upstream = connect({ host: this.options.upstreamHost, port: this.options.upstreamPort });
      this.track(upstream);
      const forwardedAt = hrMs();
      let answer: ReturnType<typeof statusOf> | undefined;
      const logAnswer = (): void => {
        const faults = [drop ? 'drop' : undefined, slowMs > 0 ? `slow ${Math.round(slowMs)}` : undefined, holdUntil ? 'hold' : undefined, dateOffsetMs === undefined ? undefined : `date ${dateOffsetMs}`].filter(Boolean);
        this.log(request, { forwardedAt, answeredAt: hrMs(), status: answer?.status ?? 0, date: answer?.date, ...(answer?.record ? { record: answer.record } : {}), ...(faults.length > 0 ? { fault: faults.join(',') } : {}) });
      };
      upstream.once('close', logAnswer);
      upstream.setTimeout(IDLE_TIMEOUT_MS, () => upstream.destroy());
      upstream.write(request.raw);
      const chunks: Buffer[] = [];
      let first = true;
      // With a Date to move, the answer's head is collected first.
      let head: Buffer | undefined = dateOffsetMs === undefined ? undefined : Buffer.alloc(0);
      const emit = (chunk: Buffer): void => {
        if (held) chunks.push(chunk);
        else if (!client.destroyed) client.write(chunk);
      };
      upstream.on('data', (chunk: Buffer) => {
        if (first) {
          first = false;
          answer = statusOf(chunk, dateOffsetMs);
          onStored?.();
          if (drop) {
            // The store has answered, so it has applied the request: the client never learns.
            resetSocket(client);
            upstream.destroy();
            return;
          }
        }
        if (head !== undefined) {
          head = Buffer.concat([head, chunk]);
          if (head.indexOf('\r\n\r\n') < 0 && head.length < MAX_HEAD_BYTES) return;
          const rewritten = moveDate(head, dateOffsetMs!);
          head = undefined;
          emit(rewritten);
          return;
        }
        emit(chunk);
      });
      upstream.on('end', () => {
        if (head !== undefined && head.length > 0) emit(head);
        if (held) {
          const relayNow = (): void => {
            if (!client.destroyed) client.end(Buffer.concat(chunks));
          };
          const afterSlow = (): void => {
            if (holdUntil) void holdUntil.then(relayNow);
            else relayNow();
          };
          if (slowMs > 0) this.later(slowMs, afterSlow);
          else afterSlow();
        } else if (!client.destroyed) {
          client.end();
        }
      });
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => {
        if (first && !client.destroyed) client.destroy();
      });
    };
    if (delayMs <= 0) go();
    else this.later(delayMs, go);
  }
}

/** `process.hrtime` in ms (CLOCK_MONOTONIC, as the workers log). */
function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Status and Date (as the client gets it) of an answer's first chunk. */
function statusOf(chunk: Buffer, dateOffsetMs: number | undefined): { status: number; date: string | undefined; record?: Record<string, string> } {
  const text = chunk.subarray(0, Math.min(chunk.length, 4096)).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  const raw = /\r\ndate: ([^\r]*)/i.exec(text)?.[1];
  const date = raw === undefined || dateOffsetMs === undefined ? raw : new Date(Date.parse(raw) + dateOffsetMs).toUTCString();
  // the lock record a GET / HEAD answer carried
  const record: Record<string, string> = {};
  for (const m of text.matchAll(/\r\nx-amz-meta-lock-(kind|lease|token|cause|generation|base): ([^\r]*)/gi)) record[m[1]!.toLowerCase()] = m[2]!;
  return Object.keys(record).length > 0 ? { status, date, record } : { status, date };
}

/** The worker index in a request's User-Agent (`verify-worker-<index>`). */
function workerOf(request: ProxiedRequest): number | undefined {
  const m = /verify-worker-(\d+)/.exec(`${request.headers['user-agent'] ?? ''} ${request.headers['x-amz-user-agent'] ?? ''}`);
  return m ? Number(m[1]) : undefined;
}

/** The object key of a path-style request, or the `prefix` of a listing (decoded; bucket left out). */
export function keyOf(request: { readonly target: string }): string {
  const q = request.target.indexOf('?');
  const path = q < 0 ? request.target : request.target.slice(0, q);
  const slash = path.indexOf('/', 1);
  const key = slash < 0 ? '' : safeDecode(path.slice(slash + 1));
  if (key !== '' || q < 0) return key;
  return new URLSearchParams(request.target.slice(q + 1)).get('prefix') ?? '';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A claim: a PUT of a lock record of kind `acquire` (either protocol). */
function isClaim(request: ProxiedRequest): boolean {
  return request.method === 'PUT' && request.headers['x-amz-meta-lock-kind'] === 'acquire';
}

/** The head (and whatever followed it) with its Date header moved by `offsetMs`. */
export function moveDate(data: Buffer, offsetMs: number): Buffer {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return data;
  const head = data.subarray(0, end).toString('latin1');
  const moved = head.replace(/\r\ndate:[^\r]*/i, (line) => {
    const value = line.slice(line.indexOf(':') + 1).trim();
    const t = Date.parse(value);
    return Number.isNaN(t) ? line : `\r\nDate: ${new Date(t + offsetMs).toUTCString()}`;
  });
  return Buffer.concat([Buffer.from(moved, 'latin1'), data.subarray(end)]);
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** A minimal 503 SlowDown answer, as S3 gives it. */
function answerSlowDown(client: Socket, method: string): void {
  if (client.destroyed) return;
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>verify-${Date.now().toString(36)}</RequestId></Error>`;
  const head =
    'HTTP/1.1 503 Slow Down\r\n' +
    'Content-Type: application/xml\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Date: ${new Date().toUTCString()}\r\n` +
    'Connection: close\r\n\r\n';
  client.end(method === 'HEAD' ? head : head + body);
}

/**
 * Parses one complete HTTP/1.1 request from the start of `data`; undefined when more bytes are
 * needed. Throws on malformed input. The returned raw bytes carry `Connection: close`.
 */
export function parseRequest(data: Buffer): ProxiedRequest | undefined {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (data.length > MAX_HEAD_BYTES) throw new Error('request head too large');
    return undefined;
  }
  const lines = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const [method, target] = lines[0]!.split(' ');
  if (!method) throw new Error('no request line');
  const headers: Record<string, string> = {};
  let contentLength = 0;
  let chunked = false;
  const kept: string[] = [lines[0]!];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${line}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = Number(value);
    if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) chunked = true;
    headers[name] = value;
    if (name === 'connection' || name === 'keep-alive') continue;
    kept.push(line);
  }
  kept.push('Connection: close');
  const bodyStart = headEnd + 4;
  let bodyEnd: number;
  if (chunked) {
    const end = chunkedBodyEnd(data, bodyStart);
    if (end === undefined) return undefined;
    bodyEnd = end;
  } else {
    if (!Number.isInteger(contentLength) || contentLength < 0) throw new Error('bad content-length');
    bodyEnd = bodyStart + contentLength;
    if (data.length < bodyEnd) return undefined;
  }
  if (data.length > bodyEnd) throw new Error('pipelined requests are not supported');
  const raw = Buffer.concat([Buffer.from(kept.join('\r\n') + '\r\n\r\n', 'latin1'), data.subarray(bodyStart, bodyEnd)]);
  return { method, target: target ?? '/', headers, raw };
}

/** End offset of a chunked body starting at `start`, or undefined if incomplete. */
function chunkedBodyEnd(data: Buffer, start: number): number | undefined {
  let pos = start;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', pos);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    pos = lineEnd + 2;
    if (size === 0) {
      // trailers, then an empty line
      for (;;) {
        const end = data.indexOf('\r\n', pos);
        if (end < 0) return undefined;
        if (end === pos) return end + 2;
        pos = end + 2;
      }
    }
    if (data.length < pos + size + 2) return undefined;
    pos += size + 2;
  }
}
