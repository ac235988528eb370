import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultProxy, parseRequest, type FaultProfile } from './fault-proxy';
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

  const start = async (profile: FaultProfile | undefined): Promise<FaultProxy> => {
    proxy = await FaultProxy.start({ upstreamHost: '127.0.0.1', upstreamPort: (upstream.address() as AddressInfo).port, profile, random: new Random(1) });
    return proxy;
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
});
