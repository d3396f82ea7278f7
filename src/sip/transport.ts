/**
 * Types shared by the SIP transports (UDP, TCP) and the transport layer above them.
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
