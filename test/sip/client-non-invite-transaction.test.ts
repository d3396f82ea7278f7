import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientNonInviteTransaction, clientNonInviteTransition } from '../../src/sip/client-non-invite-transaction.js';
import { recordingEnv, sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

function setup(reliable = false) {
  const env = recordingEnv(reliable);
  const req = sampleRequest('BYE');
  const tx = new ClientNonInviteTransaction(req, 'k', env);
  const events: string[] = [];
  tx.user = { onResponse: (r) => events.push(String(r.status)), onTerminated: (r) => events.push(`terminated:${r}`) };
  tx.start();
  return { env, req, tx, events, times: env.sentAt };
}

test('transition table (Figure 6)', () => {
  assert.deepEqual(clientNonInviteTransition('trying', 'timer-e', false)?.actions, ['resend-request', 'double-e']);
  assert.deepEqual(clientNonInviteTransition('proceeding', 'timer-e', false)?.actions, ['resend-request', 'e-t2']);
  assert.equal(clientNonInviteTransition('trying', 'timer-f', false)?.state, 'terminated');
  assert.equal(clientNonInviteTransition('trying', '1xx', false)?.state, 'proceeding');
  assert.equal(clientNonInviteTransition('proceeding', 'final', false)?.state, 'completed');
  assert.equal(clientNonInviteTransition('trying', 'final', true)?.state, 'terminated');
  assert.deepEqual(clientNonInviteTransition('completed', 'final', false), { state: 'completed', actions: [] });
  assert.equal(clientNonInviteTransition('completed', 'timer-k', false)?.state, 'terminated');
});

test('Timer E doubles up to T2 while trying; Timer F times out at 64*T1', () => {
  const { env, tx, events, times } = setup();
  env.clock.advance(32_000);
  assert.deepEqual(times.slice(0, 7), [0, 500, 1500, 3500, 7500, 11_500, 15_500]);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(events, ['terminated:timeout']);
  assert.equal(env.clock.pending, 0);
});

test('in proceeding Timer E is reset to T2', () => {
  const { env, req, tx, times } = setup();
  env.clock.advance(100);
  tx.receiveResponse(sampleResponse(req, 100));
  env.clock.advance(400); // E fires at 500 (armed in trying), then every T2
  env.clock.advance(8000);
  assert.deepEqual(times, [0, 500, 4500, 8500]);
});

test('final response: to TU once, retransmissions absorbed, Timer K (T4) ends it', () => {
  const { env, req, tx, events, times } = setup();
  tx.receiveResponse(sampleResponse(req, 200));
  tx.receiveResponse(sampleResponse(req, 200));
  assert.deepEqual(events, ['200']);
  env.clock.advance(4999);
  assert.equal(tx.state, 'completed');
  env.clock.advance(1);
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(times, [0]);
});

test('reliable transport: no Timer E, terminated on the final response', () => {
  const { env, req, tx, times } = setup(true);
  env.clock.advance(3000);
  tx.receiveResponse(sampleResponse(req, 481));
  assert.equal(tx.state, 'terminated');
  assert.deepEqual(times, [0]);
});
