/**
 * The protected resource of a verification run: a small HTTP server that enforces fencing.
 * `POST /write?name=N&token=T&pid=P` is accepted unless T is lower than the highest token it has
 * accepted for N; the answer is JSON `{ "accepted": boolean, "highest": number }` (200 or 409).
 * A paused or otherwise stale holder that writes after a newer holder did is rejected here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResourceStats } from './history';

export interface FencedWrite {
  readonly name: string;
  readonly token: number;
  readonly pid: number;
  readonly at: number;
  readonly accepted: boolean;
}

/** The fencing rule, without the HTTP server. */
export class FencedRegister {
  private readonly names = new Map<string, { accepted: number; rejected: number; highest: number }>();

  /** Accepts `token` for `name` unless a higher one was accepted before. */
  write(name: string, token: number): { accepted: boolean; highest: number } {
    let entry = this.names.get(name);
    if (!entry) this.names.set(name, (entry = { accepted: 0, rejected: 0, highest: -Infinity }));
    if (token < entry.highest) {
      entry.rejected++;
      return { accepted: false, highest: entry.highest };
    }
    entry.accepted++;
    entry.highest = token;
    return { accepted: true, highest: token };
  }

  stats(): ResourceStats {
    let accepted = 0;
    let rejected = 0;
    const byName: Record<string, { accepted: number; rejected: number; highest: number }> = {};
    for (const [name, e] of this.names) {
      accepted += e.accepted;
      rejected += e.rejected;
      byName[name] = { ...e };
    }
    return { accepted, rejected, byName };
  }
}

export class FencingResource {
  readonly register = new FencedRegister();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FencingResource> {
    const server = createServer();
    server.keepAliveTimeout = 30_000;
    const resource = new FencingResource(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => resource.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return resource;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://resource');
    const name = url.searchParams.get('name');
    const rawToken = url.searchParams.get('token');
    const token = Number(rawToken);
    if (req.method !== 'POST' || url.pathname !== '/write' || !name || !rawToken || !Number.isFinite(token)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('POST /write?name=N&token=T\n');
      return;
    }
    const result = this.register.write(name, token);
    res.writeHead(result.accepted ? 200 : 409, { 'content-type': 'application/json' }).end(JSON.stringify(result));
  }
}
