/**
 * Types shared by the SIP transports (UDP, TCP, TLS, WS, WSS) and the transport layer above them.
 *
 * A transport turns bytes into parsed messages (datagram parser or stream framer) and hands them
 * to a `TransportSink` with the source address; sending is fire-and-forget with an error callback,
 * because RFC 3261 §17 reports transport failures to the transaction, not to the caller.
 */
import type { SipAddress, SipMessage, SipRequest } from './message.js';
import type { SipParseError } from './parser.js';

export interface TransportSink {
  onMessage(msg: SipMessage, source: SipAddress): void;
  /** A message that failed to parse; `request` is the best-effort request when one could be read. */
  onParseError(error: SipParseError, request: SipRequest | undefined, source: SipAddress): void;
  /** Socket-level failure not tied to one send (observability; the transport already recovered). */
  onTransportError?(error: Error, peer: SipAddress | null): void;
}

export type SendCallback = (err: Error | null) => void;

/** TCP/TLS/WS are reliable: no retransmissions, zero-length absorb timers (RFC 3261 §17). */
export function isReliableTransport(transport: SipAddress['transport']): boolean {
  return transport !== 'udp';
}

export class TransportError extends Error {
  constructor(readonly code: 'SIP_TRANSPORT_UNSUPPORTED' | 'SIP_TRANSPORT_CLOSED' | 'SIP_TRANSPORT_LIMIT', message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** The connection-oriented transports (TCP, TLS, WS, WSS) as the transport layer drives them. */
export interface StreamTransport {
  readonly name: 'tcp' | 'tls' | 'ws' | 'wss';
  /** Bound port (0 before start). */
  readonly port: number;
  readonly connectionCount: number;
  start(port?: number): Promise<void>;
  stop(): Promise<void>;
  /** True while a connection to host:port is open (or an alias of one leads there). */
  hasConnection(host: string, port: number): boolean;
  send(buf: Buffer, host: string, port: number, cb: SendCallback): void;
  /** Closes every connection whose peer matches; returns how many. */
  closeWhere(match: (peer: SipAddress) => boolean): number;
  /** Makes host:port lead to the open connection of `peer` (see transport-aliases.ts). */
  addAlias(host: string, port: number, peer: SipAddress): boolean;
}
