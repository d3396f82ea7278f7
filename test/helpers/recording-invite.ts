/**
 * An INVITE as the parser reads it, and a CallerInvite that records what was answered: for the
 * inbound authentication tests (SIP users, digest carriers) without a SIP stack.
 */
import assert from 'node:assert/strict';
import type { CallerInvite } from '../../src/calls/caller-auth.js';
import type { SipRequest } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import type { ResponseOptions } from '../../src/sip/responses.js';

export function inviteRequest(from: string, proxyAuthorization?: string): SipRequest {
  const text = [
    'INVITE sip:+15550001111@127.0.0.1 SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-inv1',
    'Max-Forwards: 70',
    `From: ${from};tag=f1`,
    'To: <sip:+15550001111@127.0.0.1>',
    'Call-ID: inv-1@test',
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@127.0.0.1:5071>',
    ...(proxyAuthorization ? [`Proxy-Authorization: ${proxyAuthorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const out = parseDatagram(Buffer.from(text));
  assert.ok(out.ok && out.message.kind === 'request');
  return out.message;
}

export class RecordingInvite implements CallerInvite {
  readonly responses: { status: number; opts: ResponseOptions }[] = [];
  constructor(readonly request: SipRequest) {}
  respond(status: number, opts: ResponseOptions = {}): null {
    this.responses.push({ status, opts });
    return null;
  }
  challenges(): string[] {
    return (this.responses[0]?.opts.headers ?? []).filter((h) => h.name === 'Proxy-Authenticate').map((h) => h.value);
  }
}
