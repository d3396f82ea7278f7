/**
 * SIP over TCP (RFC 3261 §18): a listening server plus outbound client connections.
 *
 * Connections are kept in one table keyed by the remote address, whichever side opened them, so a
 * response (§18.2.2) or a later request to the same peer reuses the connection. Bytes go through a
 * StreamFramer (Content-Length framing, §18.3); a fatal framing error closes the connection after
 * any 400 queued by the sink has been written. Connections idle for `idleTimeoutMs` are closed.
 * Accepting is capped in total (`maxConnections`) and can be refused per source (`admitConnection`,
 * given how many connections that source already holds), so one host cannot take every socket.
 */
import net from 'node:net';
import type { Clock, TimerHandle } from './clock.js';
import type { SipAddress } from './message.js';
import { sourceKey } from './source-guard.js';
import { StreamFramer } from './stream-framer.js';
import { TransportError, type SendCallback, type TransportSink } from './transport.js';

export interface TcpTransportOptions {
  host: string;
  port: number;
  sink: TransportSink;
  clock: Clock;
  /** Close connections with no traffic for this long (default 120 s). */
  idleTimeoutMs?: number;
  maxMessageBytes?: number;
  /** Refuse connections beyond this many (flood protection, default 10 000). */
  maxConnections?: number;
  /**
   * Asked before accepting a connection from `host`, which already has `openFromSource` open
   * (counted per source key: an IPv4 address, an IPv6 /64); false closes it at once.
   */
  admitConnection?: (host: string, openFromSource: number) => boolean;
}

interface TcpConnection {
  readonly key: string;
  readonly socket: net.Socket;
  readonly framer: StreamFramer;
  readonly peer: SipAddress;
  lastActivity: number;
}

const PONG = Buffer.from('\r\n');
const connectionKey = (host: string, port: number): string => `${host}|${port}`;

export class TcpTransport {
  private server: net.Server | null = null;
  private readonly connections = new Map<string, TcpConnection>();
  /** Open sockets per source key, whichever side opened them. */
  private readonly perSource = new Map<string, number>();
  private sweepTimer: TimerHandle | null = null;
  private boundPort = 0;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: TcpTransportOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  hasConnection(host: string, port: number): boolean {
    return this.connections.has(connectionKey(host, port));
  }

  /** Open connections from `host`'s source (its IPv6 /64 for IPv6). */
  connectionsFrom(host: string): number {
    return this.perSource.get(sourceKey(host)) ?? 0;
  }

  /** Closes at once every connection whose peer matches (e.g. a source just banned); returns how many. */
  closeWhere(match: (peer: SipAddress) => boolean): number {
    let n = 0;
    for (const c of [...this.connections.values()]) {
      if (!match(c.peer)) continue;
      this.connections.delete(c.key);
      c.socket.destroy();
      n++;
    }
    return n;
  }

  start(port = this.opts.port): Promise<void> {
    const server = net.createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.opts.host }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.sink.onTransportError?.(err, null));
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
        this.server = server;
        this.scheduleSweep();
        resolve();
      });
    });
  }

  /** Writes on the existing connection to host:port, opening one if there is none. */
  send(buf: Buffer, host: string, port: number, cb: SendCallback): void {
    let conn = this.connections.get(connectionKey(host, port));
    if (!conn) {
      if (!this.server) {
        queueMicrotask(() => cb(new TransportError('SIP_TRANSPORT_CLOSED', 'TCP transport is not started')));
        return;
      }
      conn = this.track(net.connect({ host, port }), { transport: 'tcp', host, port });
    }
    conn.lastActivity = this.opts.clock.now();
    // Writes before 'connect' are buffered by net.Socket; a failed connect fails them via cb.
    conn.socket.write(buf, (err) => cb(err ?? null));
  }

  stop(): Promise<void> {
    if (this.sweepTimer) this.opts.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.perSource.clear();
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const max = this.opts.maxConnections ?? 10_000;
    const host = socket.remoteAddress;
    if (this.connections.size >= max || !host || !socket.remotePort) {
      socket.destroy();
      return;
    }
    if (this.opts.admitConnection && !this.opts.admitConnection(host, this.connectionsFrom(host))) {
      socket.destroy();
      return;
    }
    this.track(socket, { transport: 'tcp', host: socket.remoteAddress, port: socket.remotePort });
  }

  private track(socket: net.Socket, peer: SipAddress): TcpConnection {
    const key = connectionKey(peer.host, peer.port);
    const conn: TcpConnection = {
      key,
      socket,
      peer,
      framer: new StreamFramer({ maxMessageBytes: this.opts.maxMessageBytes }),
      lastActivity: this.opts.clock.now(),
    };
    this.connections.set(key, conn);
    const source = sourceKey(peer.host);
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk));
    socket.on('error', (err) => this.opts.sink.onTransportError?.(err, peer));
    socket.on('close', () => {
      if (this.connections.get(key) === conn) this.connections.delete(key);
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
    });
    return conn;
  }

  private receive(conn: TcpConnection, chunk: Buffer): void {
    conn.lastActivity = this.opts.clock.now();
    // RFC 5626 §3.5.1: a CRLFCRLF "ping" between messages is answered with a CRLF "pong".
    if (chunk.length === 4 && chunk.readUInt32BE(0) === 0x0d0a0d0a && conn.framer.bufferedBytes === 0) {
      conn.socket.write(PONG);
      return;
    }
    let fatal = false;
    for (const ev of conn.framer.push(chunk)) {
      if (ev.type === 'message') this.opts.sink.onMessage(ev.message, conn.peer);
      else {
        this.opts.sink.onParseError(ev.error, ev.request, conn.peer);
        if (ev.fatal) {
          fatal = true;
          break; // the stream is out of sync: nothing after this point can be framed
        }
      }
    }
    if (fatal) this.close(conn);
  }

  /** Graceful close: pending writes (e.g. a 400) are flushed before FIN. */
  private close(conn: TcpConnection): void {
    if (this.connections.get(conn.key) === conn) this.connections.delete(conn.key);
    conn.socket.removeAllListeners('data');
    conn.socket.end();
  }

  private scheduleSweep(): void {
    const every = Math.max(1000, Math.floor(this.idleTimeoutMs / 4));
    this.sweepTimer = this.opts.clock.setTimeout(() => {
      const now = this.opts.clock.now();
      for (const c of [...this.connections.values()]) if (now - c.lastActivity >= this.idleTimeoutMs) this.close(c);
      if (this.server) this.scheduleSweep();
    }, every);
  }
}
