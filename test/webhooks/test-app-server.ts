/**
 * A tiny application server on 127.0.0.1 for webhook tests: routes by path, records every request
 * (method, full URL, headers, decoded parameters) and lets tests wait for the n-th request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Full URL as the app would reconstruct it: http://127.0.0.1:port + request target. */
  url: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Form body (POST) or query (GET) parameters. */
  params: Record<string, string>;
}

export type Route = (req: RecordedRequest, res: ServerResponse) => void;

export class TestAppServer {
  readonly requests: RecordedRequest[] = [];
  private server: Server | null = null;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  base = '';

  /** `host`: the loopback address to listen on (127.0.0.2 plays "another host" in egress tests). */
  constructor(
    private readonly routes: Record<string, Route>,
    private readonly host = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const target = new URL(req.url ?? '/', this.base);
        const params = Object.fromEntries(req.method === 'POST' ? new URLSearchParams(body) : target.searchParams);
        const recorded: RecordedRequest = { method: req.method ?? '', url: this.base + (req.url ?? '/'), path: target.pathname, headers: req.headers, body, params };
        this.requests.push(recorded);
        for (const w of this.waiters.filter((x) => this.requests.length >= x.n)) w.resolve();
        this.waiters = this.waiters.filter((x) => this.requests.length < x.n);
        const route = this.routes[target.pathname] ?? Object.entries(this.routes).find(([p]) => p.endsWith('*') && target.pathname.startsWith(p.slice(0, -1)))?.[1];
        if (route) route(recorded, res);
        else res.writeHead(404).end('not found');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, this.host, resolve));
    this.base = `http://${this.host}:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves once at least n requests have arrived. */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export const xml = (res: ServerResponse, body: string, type = 'text/xml'): void => {
  res.writeHead(200, { 'Content-Type': type }).end(body);
};
