/**
 * SIP over UDP (RFC 3261 §18): one socket, one message per datagram.
 *
 * Each datagram is parsed whole; empty or whitespace-only datagrams (CRLF keep-alives) are ignored,
 * and an optional `admit` check can drop a datagram by its source before any parsing.
 * Sends report failures through the callback so the owning transaction can react (§17.1.4).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { SipAddress } from './message.js';
import { parseDatagram } from './parser.js';
import type { SendCallback, TransportSink } from './transport.js';

export interface UdpTransportOptions {
  host: string;
  port: number;
  sink: TransportSink;
  /** Socket receive buffer size in bytes (bursts of INVITEs at high call rates). */
  recvBufferSize?: number;
  /**
   * Asked for every non-blank datagram before it is parsed; false drops it unread (a banned or
   * flooding source should cost as little as possible).
   */
  admit?: (host: string, datagram: Buffer) => boolean;
}

/** True when a datagram carries nothing but CR/LF/space/tab (keep-alive noise, not a message). */
function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 13 && c !== 10 && c !== 32 && c !== 9) return false;
  }
  return true;
}

export class UdpTransport {
  private socket: dgram.Socket | null = null;
  private boundPort = 0;

  constructor(private readonly opts: UdpTransportOptions) {}

  get port(): number {
    return this.boundPort;
  }

  start(port = this.opts.port): Promise<void> {
    const socket = dgram.createSocket({ type: isIP(this.opts.host) === 6 ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(port, this.opts.host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.opts.sink.onTransportError?.(err, null));
        socket.on('message', (buf, rinfo) => this.receive(buf, rinfo));
        if (this.opts.recvBufferSize) socket.setRecvBufferSize(this.opts.recvBufferSize);
        this.socket = socket;
        this.boundPort = socket.address().port;
        resolve();
      });
    });
  }

  send(buf: Buffer, host: string, port: number, cb: SendCallback): void {
    const socket = this.socket;
    if (!socket) {
      queueMicrotask(() => cb(new Error('UDP transport is not started')));
      return;
    }
    socket.send(buf, port, host, (err) => cb(err ?? null));
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  private receive(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (buf.length === 0 || isBlank(buf)) return;
    if (this.opts.admit && !this.opts.admit(rinfo.address, buf)) return;
    const source: SipAddress = { transport: 'udp', host: rinfo.address, port: rinfo.port };
    const outcome = parseDatagram(buf);
    if (outcome.ok) this.opts.sink.onMessage(outcome.message, source);
    else this.opts.sink.onParseError(outcome.error, outcome.request, source);
  }
}
