import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerInviteTransaction, serverInviteTransition } from '../../src/sip/server-invite-transaction.js';
import type { SipResponse } from '../../src/sip/message.js';
import { recordingEnv, sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

function setup(reliable = false) {
  const env = recordingEnv(reliable);
  const invite = sampleRequest('INVITE');
  const tx = new ServerInviteTransaction(invite, 'k', env);
  const events: string[] = [];
  tx.user = { onAck: () => events.push('ack'), onTerminated: (r) => events.push(`terminated:${r}`) };
  return { env, invite, tx, events };
}
const statuses = (sent: unknown[]) => (sent as SipResponse[]).map((m) => m.status);

test('transition table (Figure 7 + RFC 6026)', () => {
  assert.deepEqual(serverInviteTransition('proceeding', 'invite', false), { state: 'proceeding', actions: ['resend-response'] });
  assert.deepEqual(serverInviteTransition('proceeding', 'tu-1xx', false)?.state, 'proceeding');
  assert.deepEqual(serverInviteTransition('proceeding', 'tu-2xx', false), { state: 'accepted', actions: ['send-response', 'start-l'] });
  assert.deepEqual(serverInviteTransition('proceeding', 'tu-300-699', false)?.actions, ['send-response', 'start-g', 'start-h']);
  assert.deepEqual(serverInviteTransition('proceeding', 'tu-300-699', true)?.actions, ['send-response', 'start-h']);
  assert.equal(serverInviteTransition('proceeding', 'transport-error', false)?.state, 'terminated');
  assert.equal(serverInviteTransition('completed', 'ack', false)?.state, 'confirmed');
  assert.equal(serverInviteTransition('completed', 'ack', true)?.state, 'terminated');
  assert.equal(serverInviteTransition('completed', 'timer-h', false)?.state, 'terminated');
  assert.equal(serverInviteTransition('confirmed', 'timer-i', false)?.state, 'terminated');
  assert.equal(serverInviteTransition('accepted', 'ack', false)?.actions[0], 'ack-to-tu');
  assert.equal(serverInviteTransition('accepted', 'timer-l', false)?.state, 'terminated');
  assert.equal(serverInviteTransition('terminated', 'invite', false), null);
  assert.equal(serverInviteTransition('completed', 'tu-2xx', false), null);
});

test('proceeding: provisional sent, INVITE retransmission re-sends the last provisional', () => {
  const { env, invite, tx } = setup();
  tx.respond(sampleResponse(invite, 100));
  tx.respond(sampleResponse(invite, 180));
  tx.receiveRequest(invite);
  assert.deepEqual(statuses(env.sent), [100, 180, 180]);
  assert.equal(tx.state, 'proceeding');
});

test('completed: Timer G doubles up to T2, Timer H times out without ACK', () => {
  const { env, invite, tx, events } = setup();
  tx.respond(sampleResponse(invite, 486));
  assert.equal(tx.state, 'completed');
  const times: number[] = [];
  const origSend = env.send;
  env.send = (m, e) => {
    times.push(env.clock.now());
    origSend(m, e);
  };
  env.clock.advance(32_000);
  // G fires at 500, 1500 (+1000), 3500 (+2000), 7500 (+4000), then every 4000 (capped at T2).
  assert.deepEqual(times.slice(0, 6), [500, 1500, 3500, 7500, 11_500, 15_500]);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:timeout']);
  assert.equal(env.clock.pending, 0);
});

test('completed: INVITE retransmission re-sends the final response', () => {
  const { env, invite, tx } = setup();
  tx.respond(sampleResponse(invite, 404));
  tx.receiveRequest(invite);
  assert.deepEqual(statuses(env.sent), [404, 404]);
});

test('completed → confirmed on ACK (absorbed), Timer I (T4) → terminated', () => {
  const { env, invite, tx, events } = setup();
  tx.respond(sampleResponse(invite, 603));
  tx.receiveRequest(sampleRequest('ACK'));
  assert.equal(tx.state, 'confirmed');
  assert.deepEqual(events, []); // ACK for non-2xx never reaches the TU
  tx.receiveRequest(sampleRequest('ACK'));
  env.clock.advance(4999);
  assert.equal(tx.state, 'confirmed');
  env.clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:normal']);
  assert.deepEqual(statuses(env.sent), [603]); // G stopped by the ACK
});

test('reliable transport: no Timer G, ACK terminates at once (Timer I = 0)', () => {
  const { env, invite, tx, events } = setup(true);
  tx.respond(sampleResponse(invite, 480));
  env.clock.advance(5000);
  assert.deepEqual(statuses(env.sent), [480]);
  tx.receiveRequest(sampleRequest('ACK'));
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:normal']);
});

test('accepted (RFC 6026): INVITE retransmissions absorbed, TU 2xx sent, ACK to TU, Timer L ends it', () => {
  const { env, invite, tx, events } = setup();
  tx.respond(sampleResponse(invite, 200));
  assert.equal(tx.state, 'accepted');
  tx.receiveRequest(invite);
  tx.respond(sampleResponse(invite, 200)); // UAS core retransmission goes through
  assert.deepEqual(statuses(env.sent), [200, 200]);
  tx.receiveRequest(sampleRequest('ACK'));
  assert.deepEqual(events, ['ack']);
  env.clock.advance(32_000);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['ack', 'terminated:normal']);
});

test('transport error while proceeding terminates the transaction', () => {
  const { env, invite, tx, events } = setup();
  env.failSends = true;
  tx.respond(sampleResponse(invite, 180));
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:transport-error']);
});

test('a final response after the final response is a TU bug and throws', () => {
  const { invite, tx } = setup();
  tx.respond(sampleResponse(invite, 404));
  assert.throws(() => tx.respond(sampleResponse(invite, 200)), { code: 'SIP_TRANSACTION_STATE' });
});
