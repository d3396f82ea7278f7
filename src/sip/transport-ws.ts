/**
 * SIP over WebSocket and secure WebSocket (RFC 7118) for browser softphones (JsSIP, SIP.js).
 *
 * An HTTP(S) server accepts WebSocket upgrades that offer the `sip` subprotocol (§4.1; anything
 * else gets 400, plain HTTP gets 426). Each WebSocket message, text or binary, carries exactly one
 * SIP message (§5.1), so it is parsed like a UDP datagram, without stream framing. We never dial
 * out: a WS client is reachable only over the connection it opened, found by its remote address
 * or by an alias (its `.invalid` Contact, §5; see transport-aliases.ts); a send without one fails
 * with SIP_TRANSPORT_CLOSED. Sockets are admitted (total cap, per-source `admitConnection`) when
 * the TCP connection arrives, before any TLS or HTTP work. Connections are pinged every
 * `pingIntervalMs` (browsers answer pings themselves) and closed when silent for two intervals;
 * a message over `maxMessageBytes` closes the connection with 1009 (RFC 6455 §7.4.1).
 */
import http from 'node:http';
import https from 'node:https';
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Clock, TimerHandle } from './clock.js';
import type { SipAddress } from './message.js';
import { parseDatagram } from './parser.js';
import { sourceKey } from './source-guard.js';
import { ConnectionAliases } from './transport-aliases.js';
import { TransportError, type SendCallback, type StreamTransport, type TransportSink } from './transport.js';

export interface WsTransportOptions {
  host: string;
  port: number;
  sink: TransportSink;
  clock: Clock;
  /** Serve WSS with this certificate (the transport is then named `wss`). */
  secure?: { key: string; cert: string };
  /** Largest SIP message in one WebSocket message (default 64 KiB). */
  maxMessageBytes?: number;
  /** Open sockets in total (default 10 000). */
  maxConnections?: number;
  /** Asked when a TCP connection arrives from `host`, which already holds `openFromSource`. */
  admitConnection?: (host: string, openFromSource: number) => boolean;
  /** Ping period; a connection silent for two periods (no message, no pong) is closed. Default 30 s. */
  pingIntervalMs?: number;
}

interface WsConnection {
  readonly key: string;
  readonly ws: WebSocket;
  readonly peer: SipAddress;
  lastActivity: number;
}

const connectionKey = (host: string, port: number): string => `${host}|${port}`;

/** True when a message is only CR/LF/space/tab (a keep-alive, not a SIP message). */
function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 13 && c !== 10 && c !== 32 && c !== 9) return false;
  }
  return true;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export class WsTransport implements StreamTransport {
  readonly name: 'ws' | 'wss';
  private server: http.Server | https.Server | null = null;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, WsConnection>();
  private readonly aliases = new ConnectionAliases();
  /** Open TCP sockets per source key (upgraded or not). */
  private readonly perSource = new Map<string, number>();
  private sockets = 0;
  private boundPort = 0;
  private pingTimer: TimerHandle | null = null;
  private readonly pingIntervalMs: number;

  constructor(private readonly opts: WsTransportOptions) {
    this.name = opts.secure ? 'wss' : 'ws';
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes ?? 64 * 1024,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Open sockets from `host`'s source (its IPv6 /64 for IPv6). */
  connectionsFrom(host: string): number {
    return this.perSource.get(sourceKey(host)) ?? 0;
  }

  hasConnection(host: string, port: number): boolean {
    return this.find(host, port) !== undefined;
  }

  addAlias(host: string, port: number, peer: SipAddress): boolean {
    const key = connectionKey(peer.host, peer.port);
    return this.connections.has(key) && this.aliases.add(connectionKey(host, port), key);
  }

  closeWhere(match: (peer: SipAddress) => boolean): number {
    let n = 0;
    for (const c of [...this.connections.values()]) {
      if (!match(c.peer)) continue;
      this.forget(c);
      c.ws.terminate();
      n++;
    }
    return n;
  }

  start(port = this.opts.port): Promise<void> {
    const secure = this.opts.secure;
    const server = secure ? https.createServer({ key: secure.key, cert: secure.cert }) : http.createServer();
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (_req, res) => {
      // Only upgrades are served here (RFC 6455 §4.2.2 / RFC 7231 §6.5.15).
      res.writeHead(426, { upgrade: 'websocket', connection: 'Upgrade', 'content-type': 'text/plain' });
      res.end('SIP over WebSocket (RFC 7118): connect with Sec-WebSocket-Protocol: sip\n');
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.opts.host }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.sink.onTransportError?.(err, null));
        // A TLS handshake that fails is the peer's problem: reported, never thrown.
        server.on('tlsClientError', (err: Error) => this.opts.sink.onTransportError?.(err, null));
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
        this.server = server;
        this.schedulePing();
        resolve();
      });
    });
  }

  /** Sends on the client's open connection; there is no other way to reach it. */
  send(buf: Buffer, host: string, port: number, cb: SendCallback): void {
    const conn = this.find(host, port);
    if (!conn || conn.ws.readyState !== WebSocket.OPEN) {
      queueMicrotask(() => cb(new TransportError('SIP_TRANSPORT_CLOSED', `no open ${this.name.toUpperCase()} connection to ${host}:${port} (WebSocket clients are never dialled)`)));
      return;
    }
    // Text frames when the message is UTF-8 (what browsers' SIP stacks expect), binary otherwise (§5.1).
    conn.ws.send(buf, { binary: !isUtf8(buf) }, (err) => cb(err ?? null));
  }

  async stop(): Promise<void> {
    if (this.pingTimer) this.opts.clock.clearTimeout(this.pingTimer);
    this.pingTimer = null;
    for (const c of this.connections.values()) c.ws.terminate();
    this.connections.clear();
    this.aliases.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.perSource.clear();
    this.sockets = 0;
  }

  private find(host: string, port: number): WsConnection | undefined {
    const key = connectionKey(host, port);
    const direct = this.connections.get(key);
    if (direct) return direct;
    const aliased = this.aliases.resolve(key);
    return aliased === undefined ? undefined : this.connections.get(aliased);
  }

  /** Every TCP socket, before TLS and HTTP: total cap and per-source admission, counted until closed. */
  private admit(socket: Socket): void {
    const host = socket.remoteAddress;
    const max = this.opts.maxConnections ?? 10_000;
    if (!host || this.sockets >= max || (this.opts.admitConnection && !this.opts.admitConnection(host, this.connectionsFrom(host)))) {
      socket.destroy();
      return;
    }
    const source = sourceKey(host);
    this.sockets++;
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    socket.once('close', () => {
      this.sockets--;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
    });
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim().toLowerCase());
    const host = req.socket.remoteAddress;
    const port = req.socket.remotePort;
    if (!offered.includes('sip') || !host || !port) {
      // RFC 7118 §4.1: the server must not accept a connection without the "sip" subprotocol.
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.track(ws, { transport: this.name, host, port }));
  }

  private track(ws: WebSocket, peer: SipAddress): void {
    const key = connectionKey(peer.host, peer.port);
    const conn: WsConnection = { key, ws, peer, lastActivity: this.opts.clock.now() };
    this.connections.set(key, conn);
    ws.on('message', (data: RawData) => this.receive(conn, toBuffer(data)));
    ws.on('pong', () => (conn.lastActivity = this.opts.clock.now()));
    // Oversize messages arrive here as an error (ws closes with 1009 itself).
    ws.on('error', (err) => this.opts.sink.onTransportError?.(err, peer));
    ws.on('close', () => this.forget(conn));
  }

  private receive(conn: WsConnection, buf: Buffer): void {
    conn.lastActivity = this.opts.clock.now();
    if (buf.length === 0 || isBlank(buf)) return;
    const outcome = parseDatagram(buf);
    if (outcome.ok) this.opts.sink.onMessage(outcome.message, conn.peer);
    else this.opts.sink.onParseError(outcome.error, outcome.request, conn.peer);
  }

  private forget(conn: WsConnection): void {
    if (this.connections.get(conn.key) !== conn) return;
    this.connections.delete(conn.key);
    this.aliases.dropConnection(conn.key);
  }

  private schedulePing(): void {
    this.pingTimer = this.opts.clock.setTimeout(() => {
      const now = this.opts.clock.now();
      for (const c of [...this.connections.values()]) {
        if (now - c.lastActivity >= 2 * this.pingIntervalMs) {
          this.forget(c);
          c.ws.terminate();
        } else if (c.ws.readyState === WebSocket.OPEN) c.ws.ping();
      }
      if (this.server) this.schedulePing();
    }, this.pingIntervalMs);
  }
}
