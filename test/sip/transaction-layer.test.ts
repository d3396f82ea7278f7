import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransactionLayer, serverTransactionKey } from '../../src/sip/transaction-layer.js';
import { ServerInviteTransaction } from '../../src/sip/server-invite-transaction.js';
import { topVia } from '../../src/sip/transport-layer.js';
import type { SipAddress, SipMessage, SipResponse } from '../../src/sip/message.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

const SRC: SipAddress = { transport: 'udp', host: '127.0.0.1', port: 5070 };

function setup(maxTransactions?: number) {
  const clock = new FakeClock();
  const sent: { msg: SipMessage; dest: SipAddress }[] = [];
  const transport = {
    send: (msg: SipMessage, dest: SipAddress) => void sent.push({ msg, dest }),
    sendResponse: (msg: SipResponse, dest: SipAddress) => void sent.push({ msg, dest }),
  };
  return { clock, sent, layer: new TransactionLayer({ clock, transport, maxTransactions }) };
}

const key = (req: ReturnType<typeof sampleRequest>) => serverTransactionKey(req, topVia(req)!);

test('§17.2.3: same branch + sent-by + method matches; ACK matches the INVITE; CANCEL does not', () => {
  const invite = sampleRequest('INVITE', { branch: 'z9hG4bKm1' });
  assert.equal(key(sampleRequest('INVITE', { branch: 'z9hG4bKm1' })), key(invite));
  assert.equal(key(sampleRequest('ACK', { branch: 'z9hG4bKm1' })), key(invite));
  assert.notEqual(key(sampleRequest('CANCEL', { branch: 'z9hG4bKm1' })), key(invite));
  assert.notEqual(key(sampleRequest('INVITE', { branch: 'z9hG4bKm2' })), key(invite));
  const otherSentBy = sampleRequest('INVITE', { branch: 'z9hG4bKm1' });
  otherSentBy.headers.set('Via', 'SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bKm1');
  assert.notEqual(key(otherSentBy), key(invite));
});

test('RFC 2543 fallback (no magic cookie): Call-ID, From tag, CSeq number, Via; ACK still matches', () => {
  const invite = sampleRequest('INVITE', { branch: 'old1' });
  const ack = sampleRequest('ACK', { branch: 'old1', toTag: 'ours' });
  assert.ok(key(invite).startsWith('2543|'));
  assert.equal(key(ack), key(invite));
  assert.notEqual(key(sampleRequest('INVITE', { branch: 'old1', cseq: 2 })), key(invite));
  assert.notEqual(key(sampleRequest('INVITE', { branch: 'old1', callId: 'other' })), key(invite));
});

test('server transactions are found until they terminate, then removed', () => {
  const { layer, clock } = setup();
  const req = sampleRequest('OPTIONS');
  const tx = layer.createServer(req, SRC, key(req))!;
  assert.equal(layer.findServer(key(req)), tx);
  tx.respond(sampleResponse(req, 200));
  assert.equal(layer.serverCount, 1);
  clock.advance(32_000); // Timer J
  assert.equal(layer.findServer(key(req)), undefined);
  assert.equal(layer.serverCount, 0);
});

test('CANCEL finds the INVITE server transaction it cancels (§9.2)', () => {
  const { layer } = setup();
  const invite = sampleRequest('INVITE', { branch: 'z9hG4bKc1' });
  const tx = layer.createServer(invite, SRC, key(invite));
  assert.ok(tx instanceof ServerInviteTransaction);
  const cancel = sampleRequest('CANCEL', { branch: 'z9hG4bKc1' });
  assert.equal(layer.findInviteForCancel(cancel, topVia(cancel)!), tx);
  const stray = sampleRequest('CANCEL', { branch: 'z9hG4bKzz' });
  assert.equal(layer.findInviteForCancel(stray, topVia(stray)!), undefined);
});

test('responses match client transactions by branch + CSeq method (§17.1.3)', () => {
  const { layer, sent } = setup();
  const req = sampleRequest('OPTIONS', { branch: 'z9hG4bKcl' });
  const got: number[] = [];
  layer.createClient(req, SRC, { onResponse: (r) => got.push(r.status) });
  assert.equal(sent.length, 1);
  assert.equal(layer.handleResponse(sampleResponse(req, 200)), true);
  const invite = sampleRequest('INVITE', { branch: 'z9hG4bKcl' });
  assert.equal(layer.handleResponse(sampleResponse(invite, 200)), false); // same branch, other method
  assert.deepEqual(got, [200]);
});

test('tables are capped: create returns null when full', () => {
  const { layer } = setup(2);
  for (let i = 0; i < 2; i++) {
    const r = sampleRequest('OPTIONS', { branch: `z9hG4bKcap${i}` });
    assert.ok(layer.createServer(r, SRC, key(r)));
  }
  const r = sampleRequest('OPTIONS', { branch: 'z9hG4bKcap9' });
  assert.equal(layer.createServer(r, SRC, key(r)), null);
});

test('dispose stops every timer', () => {
  const { layer, clock } = setup();
  layer.createClient(sampleRequest('INVITE', { branch: 'z9hG4bKd1' }), SRC, {});
  layer.createClient(sampleRequest('BYE', { branch: 'z9hG4bKd2' }), SRC, {});
  assert.ok(clock.pending > 0);
  layer.dispose();
  assert.equal(clock.pending, 0);
});
