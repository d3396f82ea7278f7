import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerNonInviteTransaction, serverNonInviteTransition } from '../../src/sip/server-non-invite-transaction.js';
import type { SipResponse } from '../../src/sip/message.js';
import { recordingEnv, sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

function setup(reliable = false) {
  const env = recordingEnv(reliable);
  const req = sampleRequest('OPTIONS');
  const tx = new ServerNonInviteTransaction(req, 'k', env);
  const events: string[] = [];
  tx.user = { onTerminated: (r) => events.push(`terminated:${r}`) };
  return { env, req, tx, events };
}
const statuses = (sent: unknown[]) => (sent as SipResponse[]).map((m) => m.status);

test('transition table (Figure 8)', () => {
  assert.deepEqual(serverNonInviteTransition('trying', 'request', false), { state: 'trying', actions: [] });
  assert.equal(serverNonInviteTransition('trying', 'tu-1xx', false)?.state, 'proceeding');
  assert.deepEqual(serverNonInviteTransition('trying', 'tu-final', false), { state: 'completed', actions: ['send-response', 'start-j'] });
  assert.deepEqual(serverNonInviteTransition('trying', 'tu-final', true), { state: 'terminated', actions: ['send-response'] });
  assert.deepEqual(serverNonInviteTransition('proceeding', 'request', false)?.actions, ['resend-response']);
  assert.deepEqual(serverNonInviteTransition('completed', 'request', false)?.actions, ['resend-response']);
  assert.equal(serverNonInviteTransition('completed', 'timer-j', false)?.state, 'terminated');
  assert.equal(serverNonInviteTransition('completed', 'tu-final', false), null);
  assert.equal(serverNonInviteTransition('proceeding', 'transport-error', false)?.state, 'terminated');
});

test('trying absorbs retransmissions silently; proceeding re-sends the provisional', () => {
  const { env, req, tx } = setup();
  tx.receiveRequest(req);
  assert.equal(env.sent.length, 0);
  tx.respond(sampleResponse(req, 180));
  tx.receiveRequest(req);
  assert.deepEqual(statuses(env.sent), [180, 180]);
});

test('completed re-sends the final on retransmission; Timer J (64*T1) terminates', () => {
  const { env, req, tx, events } = setup();
  tx.respond(sampleResponse(req, 200));
  tx.receiveRequest(req);
  assert.deepEqual(statuses(env.sent), [200, 200]);
  env.clock.advance(31_999);
  assert.equal(tx.state, 'completed');
  env.clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:normal']);
});

test('reliable transport: terminated right after the final response (J = 0)', () => {
  const { env, req, tx, events } = setup(true);
  tx.respond(sampleResponse(req, 200));
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:normal']);
  assert.equal(env.clock.pending, 0);
});

test('transport error on the final response terminates with transport-error', () => {
  const { env, req, tx, events } = setup();
  env.failSends = true;
  tx.respond(sampleResponse(req, 200));
  assert.deepEqual(events, ['terminated:transport-error']);
});
