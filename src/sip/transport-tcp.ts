/**
 * SIP over TCP and TLS (RFC 3261 §18, §26.2; RFC 5630 for what TLS does and does not promise): a
 * listening server plus outbound client connections. With `secure` the same class speaks TLS:
 * accepted sockets are wrapped in a server TLSSocket after the connection checks (so a refused
 * source costs no handshake), outbound connections verify the server certificate unless told
 * otherwise, and peers are named `transport: 'tls'`.
 *
 * Connections are kept in one table keyed by the remote address, whichever side opened them, so a
 * response (§18.2.2) or a later request to the same peer reuses the connection. Bytes go through a
 * StreamFramer (Content-Length framing, §18.3); a fatal framing error closes the connection after
 * any 400 queued by the sink has been written. Connections idle for `idleTimeoutMs` are closed.
 * Accepting is capped in total (`maxConnections`) and can be refused per source (`admitConnection`,
 * given how many connections that source already holds), so one host cannot take every socket.
 * A TLS connection can also be reached through aliases (its peer's Contact address): see
 * transport-aliases.ts.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Clock, TimerHandle } from './clock.js';
import type { SipAddress } from './message.js';
import { sourceKey } from './source-guard.js';
import { StreamFramer } from './stream-framer.js';
import { ConnectionAliases } from './transport-aliases.js';
import { TransportError, type SendCallback, type StreamTransport, type TransportSink } from './transport.js';

/** TLS material of a TLS transport (PEM). */
export interface TlsSecurity {
  key: string;
  cert: string;
  /** Trusted CAs for outbound connections (default: Node's bundled roots). */
  ca?: string | string[];
  /** Verify the server certificate of outbound connections (default true). */
  rejectUnauthorized?: boolean;
}

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
  /** Speak TLS (the transport is then named `tls`). */
  secure?: TlsSecurity;
}

interface TcpConnection {
  readonly key: string;
  readonly socket: net.Socket | tls.TLSSocket;
  readonly framer: StreamFramer;
  readonly peer: SipAddress;
  lastActivity: number;
  /**
   * Sends held while an outbound connection is still connecting (and, for TLS, handshaking); null
   * once it is ready. Their callbacks learn of a failed connect or handshake, which a write queued
   * inside the TLS layer would not report (RFC 3261 §17.1.4: the transaction must hear of it).
   */
  waiting: { buf: Buffer; cb: SendCallback }[] | null;
}

const PONG = Buffer.from('\r\n');
const connectionKey = (host: string, port: number): string => `${host}|${port}`;

export class TcpTransport implements StreamTransport {
  readonly name: 'tcp' | 'tls';
  private server: net.Server | null = null;
  private readonly connections = new Map<string, TcpConnection>();
  private readonly aliases = new ConnectionAliases();
  private readonly secureContext: tls.SecureContext | null;
  /** Open sockets per source key, whichever side opened them. */
  private readonly perSource = new Map<string, number>();
  private sweepTimer: TimerHandle | null = null;
  private boundPort = 0;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: TcpTransportOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
    this.name = opts.secure ? 'tls' : 'tcp';
    this.secureContext = opts.secure ? tls.createSecureContext({ key: opts.secure.key, cert: opts.secure.cert }) : null;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  hasConnection(host: string, port: number): boolean {
    return this.find(host, port) !== undefined;
  }

  addAlias(host: string, port: number, peer: SipAddress): boolean {
    const key = connectionKey(peer.host, peer.port);
    return this.connections.has(key) && this.aliases.add(connectionKey(host, port), key);
  }

  /** The open connection to host:port, directly or through an alias. */
  private find(host: string, port: number): TcpConnection | undefined {
    const key = connectionKey(host, port);
    const direct = this.connections.get(key);
    if (direct) return direct;
    const aliased = this.aliases.resolve(key);
    return aliased === undefined ? undefined : this.connections.get(aliased);
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
      this.forget(c);
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
    let conn = this.find(host, port);
    if (!conn) {
      if (!this.server) {
        queueMicrotask(() => cb(new TransportError('SIP_TRANSPORT_CLOSED', `${this.name.toUpperCase()} transport is not started`)));
        return;
      }
      conn = this.track(this.dial(host, port), { transport: this.name, host, port });
      this.awaitReady(conn);
    }
    conn.lastActivity = this.opts.clock.now();
    if (conn.waiting) conn.waiting.push({ buf, cb });
    else conn.socket.write(buf, (err) => cb(err ?? null));
  }

  /** Holds sends on a dialled connection until it is connected (TLS: handshake done), or fails them. */
  private awaitReady(conn: TcpConnection): void {
    conn.waiting = [];
    const readyEvent = this.opts.secure ? 'secureConnect' : 'connect';
    const settle = (err: Error | null): void => {
      const waiting = conn.waiting;
      if (!waiting) return;
      conn.waiting = null;
      conn.socket.off(readyEvent, onReady);
      for (const w of waiting) {
        if (err) w.cb(err);
        else conn.socket.write(w.buf, (e) => w.cb(e ?? null));
      }
    };
    const onReady = (): void => settle(null);
    conn.socket.once(readyEvent, onReady);
    conn.socket.once('error', (err) => settle(err));
    conn.socket.once('close', () => settle(new TransportError('SIP_TRANSPORT_CLOSED', `${this.name.toUpperCase()} connection to ${conn.peer.host}:${conn.peer.port} closed before it was ready`)));
  }

  stop(): Promise<void> {
    if (this.sweepTimer) this.opts.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.aliases.clear();
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
    const peer: SipAddress = { transport: this.name, host, port: socket.remotePort };
    socket.setNoDelay(true);
    // The handshake starts only now, after the source was admitted.
    this.track(this.secureContext ? new tls.TLSSocket(socket, { isServer: true, secureContext: this.secureContext }) : socket, peer);
  }

  /** An outbound connection; TLS verifies the server's certificate (RFC 5922 identity: name or IP in subjectAltName). */
  private dial(host: string, port: number): net.Socket {
    const secure = this.opts.secure;
    if (!secure) return net.connect({ host, port });
    return tls.connect({
      host,
      port,
      // SNI carries host names only (RFC 6066 §3); Node checks an IP against the certificate's IP SANs.
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ...(secure.ca !== undefined ? { ca: secure.ca } : {}),
      rejectUnauthorized: secure.rejectUnauthorized ?? true,
    });
  }

  private forget(conn: TcpConnection): void {
    if (this.connections.get(conn.key) !== conn) return;
    this.connections.delete(conn.key);
    this.aliases.dropConnection(conn.key);
  }

  private track(socket: net.Socket | tls.TLSSocket, peer: SipAddress): TcpConnection {
    const key = connectionKey(peer.host, peer.port);
    const conn: TcpConnection = {
      key,
      socket,
      peer,
      framer: new StreamFramer({ maxMessageBytes: this.opts.maxMessageBytes }),
      lastActivity: this.opts.clock.now(),
      waiting: null,
    };
    this.connections.set(key, conn);
    const source = sourceKey(peer.host);
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    if (!this.secureContext) socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk));
    socket.on('error', (err) => this.opts.sink.onTransportError?.(err, peer));
    socket.on('close', () => {
      this.forget(conn);
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
    this.forget(conn);
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
