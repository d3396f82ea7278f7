import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientInviteTransaction, buildNon2xxAck, clientInviteTransition } from '../../src/sip/client-invite-transaction.js';
import type { SipMessage, SipRequest } from '../../src/sip/message.js';
import { recordingEnv, sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

function setup(reliable = false) {
  const env = recordingEnv(reliable);
  const invite = sampleRequest('INVITE');
  invite.headers.append('Route', '<sip:proxy.example.com;lr>');
  const tx = new ClientInviteTransaction(invite, 'k', env);
  const events: string[] = [];
  tx.user = { onResponse: (r) => events.push(String(r.status)), onTerminated: (r) => events.push(`terminated:${r}`) };
  tx.start();
  return { env, invite, tx, events, times: env.sentAt };
}
const methods = (sent: SipMessage[]) => sent.map((m) => (m.kind === 'request' ? m.method : String(m.status)));

test('transition table (Figure 5 + RFC 6026)', () => {
  assert.deepEqual(clientInviteTransition('calling', 'timer-a', false), { state: 'calling', actions: ['resend-request', 'double-a'] });
  assert.equal(clientInviteTransition('proceeding', 'timer-a', false), null);
  assert.deepEqual(clientInviteTransition('calling', 'timer-b', false), { state: 'terminated', actions: ['timeout'] });
  assert.equal(clientInviteTransition('calling', '1xx', false)?.state, 'proceeding');
  assert.equal(clientInviteTransition('proceeding', '2xx', false)?.state, 'accepted');
  assert.equal(clientInviteTransition('calling', '300-699', false)?.state, 'completed');
  assert.equal(clientInviteTransition('calling', '300-699', true)?.state, 'terminated');
  assert.deepEqual(clientInviteTransition('completed', '300-699', false)?.actions, ['send-ack']);
  assert.equal(clientInviteTransition('completed', 'timer-d', false)?.state, 'terminated');
  assert.equal(clientInviteTransition('accepted', '2xx', false)?.actions[0], 'response-to-tu');
  assert.equal(clientInviteTransition('accepted', 'timer-m', false)?.state, 'terminated');
  assert.equal(clientInviteTransition('proceeding', 'abort', false)?.state, 'terminated');
});

test('Timer A retransmits the INVITE with doubling intervals; Timer B times out at 64*T1', () => {
  const { env, tx, events, times } = setup();
  env.clock.advance(32_000);
  // Sent at 0, then A at 500, 1500, 3500, 7500, 15500, 31500 (intervals double, no T2 cap).
  assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 15_500, 31_500]);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:timeout']);
  assert.equal(env.clock.pending, 0);
});

test('a provisional stops retransmissions and Timer B', () => {
  const { env, invite, tx, events, times } = setup();
  env.clock.advance(600);
  tx.receiveResponse(sampleResponse(invite, 180));
  env.clock.advance(60_000);
  assert.deepEqual(times, [0, 500]);
  assert.equal(tx.state, 'proceeding');
  assert.deepEqual(events, ['180']);
});

test('reliable transport: no Timer A', () => {
  const { env, times } = setup(true);
  env.clock.advance(10_000);
  assert.deepEqual(times, [0]);
});

test('non-2xx: ACK built per §17.1.1.3, re-sent on retransmission, Timer D ends the transaction', () => {
  const { env, invite, tx, events } = setup();
  tx.receiveResponse(sampleResponse(invite, 486, 'callee'));
  assert.equal(tx.state, 'completed');
  tx.receiveResponse(sampleResponse(invite, 486, 'callee'));
  assert.deepEqual(methods(env.sent), ['INVITE', 'ACK', 'ACK']);
  assert.deepEqual(events, ['486']); // the retransmission is absorbed
  const ack = env.sent[1] as SipRequest;
  assert.equal(ack.uri, invite.uri);
  assert.equal(ack.headers.get('via'), invite.headers.get('via'));
  assert.equal(ack.headers.get('cseq'), '1 ACK');
  assert.equal(ack.headers.get('to'), '<sip:bob@127.0.0.1>;tag=callee');
  assert.equal(ack.headers.get('route'), '<sip:proxy.example.com;lr>');
  env.clock.advance(31_999);
  assert.equal(tx.state, 'completed');
  env.clock.advance(1);
  assert.equal(tx.state, 'terminated');
});

test('2xx: accepted, retransmitted 2xx passed to the TU, Timer M ends it; no ACK from the transaction', () => {
  const { env, invite, tx, events } = setup();
  tx.receiveResponse(sampleResponse(invite, 200));
  tx.receiveResponse(sampleResponse(invite, 200));
  assert.deepEqual(events, ['200', '200']);
  assert.deepEqual(methods(env.sent), ['INVITE']);
  env.clock.advance(32_000);
  assert.equal(tx.state, 'terminated');
});

test('abort (the §9.1 CANCEL guard) terminates a proceeding INVITE as timeout', () => {
  const { invite, tx, events } = setup();
  tx.receiveResponse(sampleResponse(invite, 180));
  tx.abort();
  assert.deepEqual(events, ['180', 'terminated:timeout']);
});

test('transport error while calling terminates with transport-error', () => {
  const env = recordingEnv();
  env.failSends = true;
  const tx = new ClientInviteTransaction(sampleRequest('INVITE'), 'k', env);
  const events: string[] = [];
  tx.user = { onTerminated: (r) => events.push(r) };
  tx.start();
  assert.deepEqual(events, ['transport-error']);
  assert.equal(env.clock.pending, 0);
});

test('buildNon2xxAck keeps only the top Via', () => {
  const invite = sampleRequest('INVITE');
  invite.headers.prepend('Via', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKtop, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKsecond');
  const ack = buildNon2xxAck(invite, sampleResponse(invite, 404));
  assert.deepEqual(ack.headers.getAll('via'), ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKtop']);
});
