/**
 * A Media Streams app for tests: a real WebSocket server on loopback that records every frame
 * Patchbay sends (text parsed as JSON, binary kept as bytes, with arrival times) and answers the
 * way a test scripts it (echo, marks, clears, closing). `hang` mode accepts the TCP connection and
 * the upgrade request but never answers it, like an app server that is stuck.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';

export interface AgentFrame {
  at: number;
  text: string | null;
  json: any;
  binary: Buffer | null;
}

export class AgentConnection {
  readonly frames: AgentFrame[] = [];
  closed = false;
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
    onFrame: (conn: AgentConnection, frame: AgentFrame) => void,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame: AgentFrame = isBinary
        ? { at: performance.now(), text: null, json: null, binary: Buffer.from(data) }
        : { at: performance.now(), text: data.toString('utf8'), json: JSON.parse(data.toString('utf8')), binary: null };
      this.frames.push(frame);
      onFrame(this, frame);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.wake();
    });
  }

  events(name: string): any[] {
    return this.frames.filter((f) => f.json?.event === name).map((f) => f.json);
  }

  send(message: object | Buffer): void {
    this.ws.send(Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** Resolves when `pred` holds (re-checked on every frame); rejects after `timeoutMs`. */
  async until(pred: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`stream agent: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export class StreamAgent {
  readonly connections: AgentConnection[] = [];
  readonly upgrades: IncomingMessage[] = [];
  mode: 'accept' | 'hang' = 'accept';
  /** Called for every frame of every connection (default: nothing). */
  onFrame: (conn: AgentConnection, frame: AgentFrame) => void = () => undefined;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = createServer((_req, res) => res.writeHead(426).end());
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades.push(req);
      if (this.mode === 'hang') return;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections.push(new AgentConnection(ws, req, (c, f) => this.onFrame(c, f)));
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return this;
  }

  url(path = '/stream'): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The n-th connection (0-based), waiting for it. */
  async connection(n: number, timeoutMs = 10000): Promise<AgentConnection> {
    const deadline = performance.now() + timeoutMs;
    while (this.connections.length <= n) {
      if (performance.now() > deadline) throw new Error(`stream agent: no connection #${n + 1}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.connections[n]!;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Echoes each caller audio frame straight back, as an echo bot would (Twilio format). */
export function echoTwilioMedia(conn: AgentConnection, frame: AgentFrame): void {
  if (frame.json?.event === 'media' && frame.json.media.track === 'inbound') {
    conn.send({ event: 'media', streamSid: frame.json.streamSid, media: { payload: frame.json.media.payload } });
  }
}
