/**
 * Test fixtures for SIP layers: sample requests/responses and a recording TransactionEnv on a
 * FakeClock, so transaction tests can count what was sent when.
 */
import { createRequest, createResponse, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import type { TransactionEnv } from '../../src/sip/transaction.js';
import { FakeClock } from './fake-clock.js';

export function sampleRequest(method: string, opts: { branch?: string; toTag?: string; cseq?: number; callId?: string } = {}): SipRequest {
  return createRequest(method, 'sip:bob@127.0.0.1', [
    { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:5070;branch=${opts.branch ?? 'z9hG4bKtest1'}` },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: '<sip:alice@127.0.0.1>;tag=from1' },
    { name: 'To', value: `<sip:bob@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}` },
    { name: 'Call-ID', value: opts.callId ?? 'call-1@test' },
    { name: 'CSeq', value: `${opts.cseq ?? 1} ${method === 'ACK' ? 'INVITE' : method}` },
    { name: 'Contact', value: '<sip:alice@127.0.0.1:5070>' },
  ]);
}

export function sampleResponse(req: SipRequest, status: number, toTag = 'to1'): SipResponse {
  return createResponse(req, status, undefined, toTag);
}

export interface RecordingEnv extends TransactionEnv {
  /** Fake-clock time of each send, parallel to `sent`. */
  sentAt: number[];
  clock: FakeClock;
  sent: SipMessage[];
  /** Makes the next sends fail (simulated transport error, delivered synchronously). */
  failSends: boolean;
}

export function recordingEnv(reliable = false): RecordingEnv {
  const env: RecordingEnv = {
    clock: new FakeClock(),
    timers: { t1: 500, t2: 4000, t4: 5000 },
    reliable,
    sent: [],
    sentAt: [],
    failSends: false,
    send(msg, onError) {
      env.sent.push(msg);
      env.sentAt.push(env.clock.now());
      if (env.failSends) onError(new Error('simulated transport failure'));
    },
  };
  return env;
}
