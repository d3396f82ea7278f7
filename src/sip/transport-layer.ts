/**
 * Transport layer (RFC 3261 §18): owns the UDP, TCP and (when configured) TLS, WS and WSS
 * transports, stamps inbound requests with `received`/`rport` (§18.2.1, RFC 3581 §4), sends
 * responses where §18.2.2 says they go, and routes sends by `dest.transport`.
 *
 * Inbound messages are handed to one `TransportLayerHandler` (the stack) with the parsed top Via
 * of requests, so the transaction layer never has to parse it again.
 *
 * With a SourceGuard, everything inbound passes it first: UDP datagrams before they are parsed,
 * TCP connections when accepted and each framed message; requests with a scanner User-Agent are
 * dropped after parsing. Dropped means no response at all (answering a flood amplifies it), and a
 * ban closes the source's open connections.
 *
 * On TLS, WS and WSS connections the Contact address of what arrives becomes an alias of the
 * connection (transport-aliases.ts): WebSocket clients cannot be dialled (RFC 7118 §5) and TLS
 * phones rarely have a certificate we could verify, so their in-dialog requests go back over the
 * connection they opened. TLS aliases are only taken for the connection's own host.
 */
import type { Clock } from './clock.js';
import { uriAddress } from './dialog.js';
import type { SipAddress, SipMessage, SipRequest, SipResponse } from './message.js';
import { formatVia, parseNameAddr, parseVia, splitHeaderValues, type Via } from './header-values.js';
import type { SipParseError } from './parser.js';
import { serializeMessage } from './serializer.js';
import type { SourceGuard } from './source-guard.js';
import { TcpTransport, type TlsSecurity } from './transport-tcp.js';
import { TransportError, type SendCallback, type StreamTransport, type TransportSink } from './transport.js';
import { UdpTransport } from './transport-udp.js';
import { WsTransport } from './transport-ws.js';

type StreamName = StreamTransport['name'];

export interface TransportLayerOptions {
  host: string;
  /** UDP and TCP listen on this port; 0 picks one ephemeral port free on both. */
  port: number;
  clock: Clock;
  idleTimeoutMs?: number;
  maxMessageBytes?: number;
  /** Open TCP connections in total (default 10 000). */
  maxConnections?: number;
  /** Per-source rate limits, scanner drops and bans; none: every source is served. */
  guard?: SourceGuard;
  /** SIP over TLS on its own port (0: ephemeral). */
  tls?: TlsSecurity & { port: number };
  /** SIP over WebSocket (RFC 7118) on its own port. */
  ws?: { port: number };
  /** SIP over secure WebSocket on its own port. */
  wss?: { port: number; key: string; cert: string };
  /** WebSocket ping period (default 30 s). */
  wsPingIntervalMs?: number;
}

export interface TransportLayerHandler {
  onRequest(req: SipRequest, source: SipAddress, topVia: Via): void;
  onResponse(res: SipResponse, source: SipAddress): void;
  /** Unparseable message, or a request without a usable top Via. */
  onBadMessage(error: SipParseError | null, request: SipRequest | undefined, source: SipAddress): void;
  onSent?(msg: SipMessage, dest: SipAddress): void;
  onTransportError?(error: Error, peer: SipAddress | null): void;
}

const noop: SendCallback = () => undefined;

/** True when a datagram starts like a response (`SIP/2.0 `): only requests take rate tokens. */
function looksLikeResponse(buf: Buffer): boolean {
  return buf.length > 8 && buf[0] === 0x53 && buf[1] === 0x49 && buf[2] === 0x50 && buf[3] === 0x2f && buf[7] === 0x20;
}

/** The first Via value of a message, parsed (null when absent or malformed). */
export function topVia(msg: SipMessage): Via | null {
  const first = msg.headers.get('via');
  if (first === undefined) return null;
  const value = first.indexOf(',') < 0 ? first : splitHeaderValues(first)[0];
  return value === undefined ? null : parseVia(value);
}

/** Replaces the first Via value of `msg` (keeping any further values on the same line). */
function replaceTopVia(msg: SipMessage, via: Via): void {
  const fields = msg.headers.fields;
  for (const f of fields) {
    const n = f.name.toLowerCase();
    if (n !== 'via' && n !== 'v') continue;
    const values = f.value.indexOf(',') < 0 ? [f.value] : splitHeaderValues(f.value);
    values[0] = formatVia(via);
    f.value = values.join(', ');
    return;
  }
}

/**
 * §18.2.1 + RFC 3581 §4: add `received` when sent-by differs from the packet source, and fill an
 * empty `rport` with the source port (which also forces `received`).
 */
export function stampReceived(via: Via, source: SipAddress): boolean {
  let changed = false;
  if (via.hasRport && via.rport === null) {
    via.rport = source.port;
    via.params.set('rport', String(source.port));
    changed = true;
  }
  if (changed || via.host !== source.host) {
    via.received = source.host;
    via.params.set('received', source.host);
    changed = true;
  }
  return changed;
}

/**
 * Where a response goes for a request that arrived from `source` with top Via `via` (§18.2.2).
 * A `maddr` is honoured only when it names the source itself: following it blindly would let anyone
 * make us send responses to a third party (reflection), which matters more than multicast replies.
 */
export function responseDestination(via: Via, source: SipAddress): SipAddress {
  const maddr = via.params.get('maddr');
  if (maddr && maddr === source.host) return { transport: source.transport, host: maddr, port: via.port ?? 5060 };
  const host = via.received ?? via.host;
  const port = via.rport ?? via.port ?? 5060;
  return { transport: source.transport, host, port };
}

export class TransportLayer {
  private readonly udp: UdpTransport;
  private readonly tcp: TcpTransport;
  /** Every stream transport that is configured, TCP included. */
  private readonly streams = new Map<StreamName, StreamTransport>();
  private readonly guard: SourceGuard | null;
  handler: TransportLayerHandler | null = null;

  constructor(private readonly opts: TransportLayerOptions) {
    const guard = (this.guard = opts.guard ?? null);
    const sink: TransportSink = {
      onMessage: (msg, source) => this.receive(msg, source),
      onParseError: (err, req, source) => {
        // Stream transports are checked per framed message; UDP was checked before parsing.
        if (guard && source.transport !== 'udp' && !guard.admitMessage(source.host, true)) return;
        this.handler?.onBadMessage(err, req, source);
      },
      onTransportError: (err, peer) => this.handler?.onTransportError?.(err, peer),
    };
    this.udp = new UdpTransport({ host: opts.host, port: opts.port, sink, ...(guard ? { admit: (host, buf) => guard.admitMessage(host, !looksLikeResponse(buf)) } : {}) });
    const admit = guard ? { admitConnection: (host: string, open: number) => guard.admitConnection(host, open) } : {};
    const stream = { host: opts.host, sink, clock: opts.clock, maxMessageBytes: opts.maxMessageBytes, maxConnections: opts.maxConnections, ...admit };
    this.tcp = new TcpTransport({ ...stream, port: opts.port, idleTimeoutMs: opts.idleTimeoutMs });
    this.streams.set('tcp', this.tcp);
    if (opts.tls) {
      const { port, ...secure } = opts.tls;
      this.streams.set('tls', new TcpTransport({ ...stream, port, idleTimeoutMs: opts.idleTimeoutMs, secure }));
    }
    if (opts.ws) this.streams.set('ws', new WsTransport({ ...stream, port: opts.ws.port, pingIntervalMs: opts.wsPingIntervalMs }));
    if (opts.wss) {
      const { port, key, cert } = opts.wss;
      this.streams.set('wss', new WsTransport({ ...stream, port, pingIntervalMs: opts.wsPingIntervalMs, secure: { key, cert } }));
    }
  }

  /** A ban also ends the source's open connections (their next bytes would be dropped anyway). */
  private readonly onBan = (): void => {
    const guard = this.guard;
    if (guard) for (const t of this.streams.values()) t.closeWhere((peer) => guard.isBanned(peer.host));
  };

  get udpPort(): number {
    return this.udp.port;
  }

  get tcpPort(): number {
    return this.tcp.port;
  }

  get tcpConnections(): number {
    return this.tcp.connectionCount;
  }

  /** The bound port of a transport; null when it is not configured. */
  portOf(transport: SipAddress['transport']): number | null {
    if (transport === 'udp') return this.udp.port;
    return this.streams.get(transport)?.port ?? null;
  }

  /** Open connections per stream transport (metrics, tests). */
  connectionCounts(): Partial<Record<StreamName, number>> {
    return Object.fromEntries([...this.streams].map(([name, t]) => [name, t.connectionCount]));
  }

  /** Binds UDP, then TCP on the same port; with port 0 retries until one port is free on both. */
  async start(): Promise<void> {
    this.guard?.on('ban', this.onBan);
    for (let attempt = 0; ; attempt++) {
      await this.udp.start(this.opts.port);
      try {
        await this.tcp.start(this.udp.port);
        break;
      } catch (err) {
        await this.udp.stop();
        if (this.opts.port !== 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    const started: StreamTransport[] = [];
    try {
      for (const t of this.streams.values()) {
        if (t === this.tcp) continue;
        await t.start();
        started.push(t);
      }
    } catch (err) {
      // One listener failing (port taken) must not leave the others bound.
      await Promise.all([this.udp.stop(), this.tcp.stop(), ...started.map((t) => t.stop())]);
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.guard?.off('ban', this.onBan);
    await Promise.all([this.udp.stop(), ...[...this.streams.values()].map((t) => t.stop())]);
  }

  /** Serializes and sends a message to `dest`; transport failures go to `cb`. */
  send(msg: SipMessage, dest: SipAddress, cb: SendCallback = noop): void {
    let buf: Buffer;
    try {
      buf = serializeMessage(msg);
    } catch (err) {
      // A message we cannot write (a header value echoed from malformed input) fails this send
      // only: this often runs inside a socket's receive handler, where a throw would end the process.
      queueMicrotask(() => cb(err as Error));
      this.handler?.onTransportError?.(err as Error, dest);
      return;
    }
    const stream = dest.transport === 'udp' ? undefined : this.streamFor(dest);
    if (dest.transport === 'udp') this.udp.send(buf, dest.host, dest.port, cb);
    else if (stream) stream.send(buf, dest.host, dest.port, cb);
    else {
      queueMicrotask(() => cb(new TransportError('SIP_TRANSPORT_UNSUPPORTED', `transport ${dest.transport} is not configured`)));
      return;
    }
    this.handler?.onSent?.(msg, dest);
  }

  /**
   * Sends a response to a request that came from `source` (§18.2.2): on a reliable transport over the
   * same connection while it is open, else to received/rport (or sent-by) from the top Via.
   */
  sendResponse(res: SipResponse, source: SipAddress, cb: SendCallback = noop): void {
    if (source.transport !== 'udp' && this.streams.get(source.transport)?.hasConnection(source.host, source.port)) {
      this.send(res, source, cb);
      return;
    }
    const via = topVia(res);
    this.send(res, via ? responseDestination(via, source) : source, cb);
  }

  private receive(msg: SipMessage, source: SipAddress): void {
    const handler = this.handler;
    if (!handler) return;
    const guard = this.guard;
    if (guard) {
      if (source.transport !== 'udp' && !guard.admitMessage(source.host, msg.kind === 'request')) return;
      if (msg.kind === 'request' && !guard.checkUserAgent(source.host, msg.headers.get('user-agent'))) return;
    }
    if (source.transport === 'tls' || source.transport === 'ws' || source.transport === 'wss') this.learnAlias(msg, source);
    if (msg.kind === 'response') {
      handler.onResponse(msg, source);
      return;
    }
    const via = topVia(msg);
    if (!via) {
      handler.onBadMessage(null, msg, source);
      return;
    }
    if (stampReceived(via, source)) replaceTopVia(msg, via);
    handler.onRequest(msg, source, via);
  }

  /**
   * The stream transport for `dest`. WS and WSS are one family: browser stacks (JsSIP) write
   * `;transport=ws` in their Contact even on a WSS connection, so a `ws` destination that only a
   * WSS connection knows goes over that connection (and the other way round).
   */
  private streamFor(dest: SipAddress): StreamTransport | undefined {
    const named = dest.transport === 'udp' ? undefined : this.streams.get(dest.transport);
    if (dest.transport !== 'ws' && dest.transport !== 'wss') return named;
    if (named?.hasConnection(dest.host, dest.port)) return named;
    const sibling = this.streams.get(dest.transport === 'ws' ? 'wss' : 'ws');
    return sibling?.hasConnection(dest.host, dest.port) ? sibling : named;
  }

  /** Records the message's Contact address as an alias of the connection it came on (see header). */
  private learnAlias(msg: SipMessage, source: SipAddress): void {
    const contact = msg.headers.get('contact');
    if (contact === undefined) return;
    const uri = parseNameAddr(splitHeaderValues(contact)[0] ?? contact)?.uri;
    const addr = uri ? uriAddress(uri, source.transport) : null;
    const webSocket = (x: SipAddress['transport']): boolean => x === 'ws' || x === 'wss';
    if (!addr || (addr.transport !== source.transport && !(webSocket(addr.transport) && webSocket(source.transport)))) return;
    if (addr.host === source.host && addr.port === source.port) return;
    // A TLS peer may only alias its own host: we could otherwise be made to send to someone else's flow.
    const t = source.transport;
    if (t === 'udp' || (t === 'tls' && addr.host !== source.host)) return;
    this.streams.get(t)?.addAlias(addr.host, addr.port, source);
  }
}
