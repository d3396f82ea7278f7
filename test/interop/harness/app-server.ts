/**
 * A Twilio-style test application on loopback: serves documents by path and records every
 * request (method, path, headers, form params) so tests can assert what Patchbay sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  url: string;
  headers: IncomingMessage['headers'];
  params: Record<string, string>;
  at: number;
}

export type RouteHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

export function twiml(body: string): RouteHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
  };
}

export function json(value: unknown): RouteHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
}

export class AppServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, RouteHandler>();
  private server: Server | null = null;
  port = 0;

  route(path: string, handler: RouteHandler): this {
    this.routes.set(path, handler);
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.port}`);
    const params: Record<string, string> = {};
    const body = Buffer.concat(chunks).toString('utf8');
    const source = req.method === 'GET' ? url.searchParams : new URLSearchParams(body);
    for (const [k, v] of source) params[k] = v;
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, url: url.toString(), headers: req.headers, params, at: Date.now() };
    this.requests.push(recorded);
    const handler = this.routes.get(url.pathname);
    if (!handler) {
      res.writeHead(404).end('not found');
      return;
    }
    await handler(recorded, res);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** Resolves when `predicate` (sync or async) holds, polling; rejects after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
