import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultProxy, keyOf, moveDate, parseRequest, type FaultProfile, type ScheduleProfile } from './fault-proxy';
import { Random } from './random';

const QUIET: FaultProfile = {
  latencyMs: [0, 0],
  jitterMeanMs: 0,
  spikeProbability: 0,
  spikeMs: [0, 0],
  slowProbability: 0,
  slowMs: [0, 0],
  resetProbability: 0,
  dropProbability: 0,
  burstEveryMs: [3_600_000, 3_600_000],
  burstMs: [0, 0],
  burstProbability: 0,
};

describe('parseRequest', () => {
  it('waits for the whole head and body, and rewrites the request to Connection: close', () => {
    const head = 'PUT /b/k HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n';
    expect(parseRequest(Buffer.from(head.slice(0, 20)))).toBeUndefined();
    expect(parseRequest(Buffer.from(head + 'abc'))).toBeUndefined();
    const parsed = parseRequest(Buffer.from(head + 'abcde'))!;
    expect(parsed.method).toBe('PUT');
    const raw = parsed.raw.toString('latin1');
    expect(raw).toContain('Connection: close\r\n\r\nabcde');
    expect(raw).not.toContain('keep-alive');
  });

  it('reads chunked bodies to their last chunk', () => {
    const head = 'PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(parseRequest(Buffer.from(head + '3\r\nabc\r\n'))).toBeUndefined();
    const parsed = parseRequest(Buffer.from(head + '3\r\nabc\r\n0\r\n\r\n'))!;
    expect(parsed.raw.toString('latin1').endsWith('3\r\nabc\r\n0\r\n\r\n')).toBe(true);
  });

  it('refuses pipelined requests and malformed heads', () => {
    expect(() => parseRequest(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n'))).toThrow(/pipelined/);
    expect(() => parseRequest(Buffer.from('GET / HTTP/1.1\r\nnot a header\r\n\r\n'))).toThrow(/bad header/);
  });
});

describe('keyOf and moveDate', () => {
  it('finds the object key of a path-style request, or the prefix of a listing', () => {
    expect(keyOf({ target: '/bucket/locks/resource-0/lock?versionId=x' })).toBe('locks/resource-0/lock');
    expect(keyOf({ target: '/bucket/locks/a%20b/000' })).toBe('locks/a b/000');
    expect(keyOf({ target: '/bucket?versions&prefix=locks%2Fresource-0%2Flock' })).toBe('locks/resource-0/lock');
    expect(keyOf({ target: '/bucket?list-type=2&prefix=locks%2Fr%2F&max-keys=1' })).toBe('locks/r/');
  });

  it('moves the Date header of an answer and keeps the rest', () => {
    const answer = Buffer.from('HTTP/1.1 200 OK\r\nx-a: 1\r\nDate: Wed, 02 Dec 2026 01:00:00 GMT\r\n\r\nbody');
    expect(moveDate(answer, 5_000).toString()).toBe('HTTP/1.1 200 OK\r\nx-a: 1\r\nDate: Wed, 02 Dec 2026 01:00:05 GMT\r\n\r\nbody');
  });
});

describe('FaultProxy', () => {
  let upstream: Server;
  let seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; at: number }>;
  let proxy: FaultProxy | undefined;

  beforeEach(async () => {
    seen = [];
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const start = async (profile: FaultProfile | undefined, schedules?: ScheduleProfile): Promise<FaultProxy> => {
    proxy = await FaultProxy.start({ upstreamHost: '127.0.0.1', upstreamPort: (upstream.address() as AddressInfo).port, profile, random: new Random(1), schedules });
    return proxy;
  };

  /** A request as a worker sends it: its User-Agent names it, a claim carries x-amz-meta-lock-kind: acquire. */
  const sendAs = (
    p: FaultProxy,
    method: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; ms: number; date?: string } | { error: string; ms: number }> => {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const req = request(`${p.endpoint}${path}`, { method, agent: false, timeout: 5_000, headers: { 'user-agent': 'aws-sdk-js/3 verify-worker-2', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - t0, date: res.headers.date }));
      });
      req.on('error', (e) => resolve({ error: e.message, ms: Date.now() - t0 }));
      req.end(method === 'PUT' ? 'data' : undefined);
    });
  };

  const send = (p: FaultProxy, method = 'PUT', timeoutMs = 5_000): Promise<{ status: number; body: string; ms: number } | { error: string; ms: number }> => {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const req = request(`${p.endpoint}/bucket/key`, { method, agent: false, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, ms: Date.now() - t0 }));
        res.on('error', (e) => resolve({ error: e.message, ms: Date.now() - t0 }));
      });
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', (e) => resolve({ error: e.message, ms: Date.now() - t0 }));
      req.end(method === 'PUT' ? 'data' : undefined);
    });
  };

  it('forwards requests unchanged but for Connection: close when there is no profile', async () => {
    const p = await start(undefined);
    expect(await send(p)).toMatchObject({ status: 200, body: 'hello' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.connection).toBe('close');
    expect(p.faultCounts()).toMatchObject({ requests: 1, reset: 0, drop: 0 });
  });

  it('resets the connection before forwarding', async () => {
    const p = await start({ ...QUIET, resetProbability: 1 });
    expect(await send(p)).toHaveProperty('error');
    expect(seen).toHaveLength(0);
    expect(p.faultCounts().reset).toBe(1);
  });

  it('drops the answer of a request the store has applied', async () => {
    const p = await start({ ...QUIET, dropProbability: 1 });
    expect(await send(p)).toHaveProperty('error');
    expect(seen).toHaveLength(1);
    expect(p.faultCounts().drop).toBe(1);
  });

  it('answers 503 SlowDown during a burst without forwarding (no body for HEAD)', async () => {
    const p = await start({ ...QUIET, burstProbability: 1 });
    p.startBurst(10_000);
    const put = await send(p);
    expect(put).toMatchObject({ status: 503 });
    expect((put as { body: string }).body).toContain('<Code>SlowDown</Code>');
    expect(await send(p, 'HEAD')).toMatchObject({ status: 503, body: '' });
    expect(seen).toHaveLength(0);
    expect(p.faultCounts().slowdown).toBe(2);
  });

  it('delivers a spiked request to the store after the client gave up', async () => {
    const p = await start({ ...QUIET, spikeProbability: 1, spikeMs: [400, 400] });
    const t0 = Date.now();
    expect(await send(p, 'PUT', 100)).toMatchObject({ error: 'client timeout' });
    expect(seen).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 600));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.at - t0).toBeGreaterThanOrEqual(390);
    expect(p.faultCounts().spike).toBe(1);
  });

  it('holds a slow answer before relaying it', async () => {
    const p = await start({ ...QUIET, slowProbability: 1, slowMs: [300, 300] });
    const r = await send(p);
    expect(r).toMatchObject({ status: 200, body: 'hello' });
    expect(r.ms).toBeGreaterThanOrEqual(290);
  });

  it('injects nothing while disabled', async () => {
    const p = await start({ ...QUIET, resetProbability: 1 });
    p.setEnabled(false);
    expect(await send(p)).toMatchObject({ status: 200 });
    expect(p.faultCounts().reset).toBe(0);
  });

  describe('schedules', () => {
    const claim = { 'x-amz-meta-lock-kind': 'acquire' };

    it('late-grant (versioned): drops the claim answer, then holds the re-read and the delete of that lock', async () => {
      const p = await start(QUIET, { lateGrant: { probability: 1, readHoldMs: 300, followHoldMs: 500, episodeMs: 10_000, protocol: 'versioned' } });
      expect(await sendAs(p, 'PUT', '/b/locks/r0/lock', claim)).toHaveProperty('error');
      expect(await sendAs(p, 'PUT', '/b/locks/r0/lock', claim)).toMatchObject({ status: 200 }); // the SDK's retry: a duplicate
      expect(await sendAs(p, 'GET', '/b/locks/r1/lock')).toMatchObject({ status: 200 }); // another lock: not held
      const reread = await sendAs(p, 'GET', '/b?versions&prefix=locks%2Fr0%2Flock');
      expect(reread.ms).toBeGreaterThanOrEqual(290);
      expect((await sendAs(p, 'HEAD', '/b/locks/r0/lock?versionId=1')).ms).toBeLessThan(250);
      expect((await sendAs(p, 'DELETE', '/b/locks/r0/lock?versionId=2')).ms).toBeGreaterThanOrEqual(490);
      expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(2);
      expect(p.faultCounts()['late-grant']).toBe(1);
    });

    it('late-grant (create-only): holds the retry of the claim, then the read-back', async () => {
      const p = await start(QUIET, { lateGrant: { probability: 1, readHoldMs: 300, followHoldMs: 400, episodeMs: 10_000, protocol: 'create-only' } });
      expect(await sendAs(p, 'PUT', '/b/locks/r0/999999999999998', claim)).toHaveProperty('error');
      expect((await sendAs(p, 'PUT', '/b/locks/r0/999999999999998', claim)).ms).toBeGreaterThanOrEqual(290);
      expect((await sendAs(p, 'HEAD', '/b/locks/r0/999999999999998')).ms).toBeGreaterThanOrEqual(390);
      expect((await sendAs(p, 'HEAD', '/b/locks/r0/999999999999998')).ms).toBeLessThan(250); // episode over
    });

    it('claim-hold: the claim reaches the store, and its answer waits for the callback', async () => {
      const calls: Array<{ worker: number | undefined; key: string; storedBefore: number }> = [];
      const p = await start(QUIET, {
        claimHold: {
          probability: 1,
          maxHoldMs: 2_000,
          onClaim: async (c) => {
            calls.push({ ...c, storedBefore: seen.length });
            await new Promise((r) => setTimeout(r, 300));
          },
        },
      });
      const r = await sendAs(p, 'PUT', '/b/locks/r0/lock', claim);
      expect(r).toMatchObject({ status: 200 });
      expect(r.ms).toBeGreaterThanOrEqual(290);
      expect(calls).toEqual([{ worker: 2, key: 'locks/r0/lock', storedBefore: 1 }]);
      expect((await sendAs(p, 'PUT', '/b/locks/r0/lock', { 'x-amz-meta-lock-kind': 'renew' })).ms).toBeLessThan(250);
    });

    it('skewed-date: moves the Date of answers', async () => {
      const p = await start(QUIET, { skewedDate: { probability: 1, offsetMs: 3_600_000 } });
      const r = (await sendAs(p, 'GET', '/b/k')) as { date?: string };
      expect(Date.parse(r.date!) - Date.now()).toBeGreaterThan(3_500_000);
      expect(p.faultCounts()['skewed-date']).toBe(1);
    });

    it('holdWhile: requests wait until the work is done', async () => {
      const p = await start(QUIET);
      let done = false;
      const work = p.holdWhile(new Promise<void>((r) => setTimeout(r, 300)).then(() => (done = true)));
      const r = await sendAs(p, 'GET', '/b/k');
      expect(done).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(290);
      await work;
    });
  });
});
