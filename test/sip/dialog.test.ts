import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog, uacDialogInit, uasDialogInit, uriAddress, type DialogHost } from '../../src/sip/dialog.js';
import { createResponse, type SipAddress, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

function host() {
  const clock = new FakeClock();
  const requests: { req: SipRequest; dest: SipAddress }[] = [];
  const acks: SipRequest[] = [];
  let answer: (req: SipRequest) => SipResponse | null = (req) => createResponse(req, 200);
  const h: DialogHost & { forgotten: number } = {
    clock,
    timers: { t1: 500, t2: 4000, t4: 5000 },
    userAgent: 'test',
    contact: () => 'sip:me@127.0.0.1:5060',
    request: async (req, dest) => {
      requests.push({ req, dest });
      return answer(req);
    },
    sendAck: (ack) => void acks.push(ack),
    forget: () => void h.forgotten++,
    forgotten: 0,
  };
  return { h, clock, requests, acks, setAnswer: (f: typeof answer) => (answer = f) };
}

function uasDialog(h: DialogHost) {
  const invite = sampleRequest('INVITE', { cseq: 5 });
  invite.headers.append('Record-Route', '<sip:p1.example.com;lr>, <sip:p2.example.com;lr>');
  const ok = sampleResponse(invite, 200, 'local1');
  const init = uasDialogInit(invite, ok, 'udp')!;
  return { invite, ok, dialog: new Dialog(h, init) };
}

function inbound(dialog: Dialog, req: SipRequest) {
  const replies: SipResponse[] = [];
  const resent: SipResponse[] = [];
  dialog.handleRequest(req, { reply: (r) => void replies.push(r), resend: (r) => void resent.push(r) });
  return { replies, resent };
}

test('UAS dialog state from INVITE + 2xx (§12.1.1)', () => {
  const { dialog } = uasDialog(host().h);
  assert.equal(dialog.callId, 'call-1@test');
  assert.equal(dialog.localTag, 'local1');
  assert.equal(dialog.remoteTag, 'from1');
  assert.equal(dialog.remoteTarget, 'sip:alice@127.0.0.1:5070');
  assert.deepEqual(dialog.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.equal(dialog.remoteSeq, 5);
});

test('UAC dialog state: route set is the reversed Record-Route of the 2xx (§12.1.2)', () => {
  const invite = sampleRequest('INVITE', { cseq: 3 });
  const ok = sampleResponse(invite, 200, 'remote9');
  ok.headers.append('Record-Route', '<sip:p2.example.com;lr>');
  ok.headers.append('Record-Route', '<sip:p1.example.com;lr>');
  ok.headers.append('Contact', '<sip:bob@192.0.2.7:5080;transport=tcp>');
  const init = uacDialogInit(invite, ok, 'udp')!;
  assert.deepEqual(init.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.equal(init.remoteTarget, 'sip:bob@192.0.2.7:5080;transport=tcp');
  assert.equal(init.localSeq, 3);
  assert.equal(init.localTag, 'from1');
  assert.equal(init.remoteTag, 'remote9');
});

test('in-dialog request, loose routing: Request-URI = remote target, Route = route set, CSeq increments', () => {
  const { dialog } = uasDialog(host().h);
  const bye = dialog.createRequest('BYE');
  const info = dialog.createRequest('INFO');
  assert.equal(bye.uri, 'sip:alice@127.0.0.1:5070');
  assert.deepEqual(bye.headers.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.equal(bye.headers.get('from'), '<sip:bob@127.0.0.1>;tag=local1');
  assert.equal(bye.headers.get('to'), '<sip:alice@127.0.0.1>;tag=from1');
  assert.equal(bye.headers.get('cseq'), '1 BYE');
  assert.equal(info.headers.get('cseq'), '2 INFO');
  assert.equal(bye.headers.has('contact'), false);
  assert.deepEqual(dialog.destination(), { transport: 'udp', host: 'p1.example.com', port: 5060 });
});

test('REFER and NOTIFY carry our Contact (RFC 3515 §2.4.1, RFC 6665 §4.1.2); BYE and INFO do not', () => {
  const { dialog } = uasDialog(host().h);
  for (const method of ['REFER', 'NOTIFY'] as const) assert.match(dialog.createRequest(method).headers.get('contact') ?? '', /^<sip:/, method);
  assert.equal(dialog.createRequest('INFO').headers.has('contact'), false);
});

test('in-dialog request, strict routing: first route becomes the Request-URI, target appended (§12.2.1.1)', () => {
  const invite = sampleRequest('INVITE');
  invite.headers.append('Record-Route', '<sip:strict.example.com>');
  const dialog = new Dialog(host().h, uasDialogInit(invite, sampleResponse(invite, 200), 'udp')!);
  const req = dialog.createRequest('INVITE');
  assert.equal(req.uri, 'sip:strict.example.com');
  assert.deepEqual(req.headers.getAll('route'), ['<sip:alice@127.0.0.1:5070>']);
  assert.equal(req.headers.get('contact'), '<sip:me@127.0.0.1:5060>');
});

test('uriAddress: transport parameter, default ports, fallback transport', () => {
  assert.deepEqual(uriAddress('sip:a@10.0.0.1;transport=TCP', 'udp'), { transport: 'tcp', host: '10.0.0.1', port: 5060 });
  assert.deepEqual(uriAddress('sip:a@10.0.0.1:5080', 'tcp'), { transport: 'tcp', host: '10.0.0.1', port: 5080 });
  assert.deepEqual(uriAddress('sips:a@h.example', 'udp'), { transport: 'tls', host: 'h.example', port: 5061 });
  assert.equal(uriAddress('tel:+15551234', 'udp'), null);
});

test('BYE: 200 sent, bye + terminated emitted, dialog forgotten', () => {
  const { h } = host();
  const { dialog } = uasDialog(h);
  const events: string[] = [];
  dialog.on('bye', () => events.push('bye'));
  dialog.on('terminated', (r) => events.push(`terminated:${r}`));
  const { replies } = inbound(dialog, sampleRequest('BYE', { toTag: 'local1', cseq: 6 }));
  assert.equal(replies[0]!.status, 200);
  assert.deepEqual(events, ['bye', 'terminated:bye-received']);
  assert.equal(dialog.state, 'terminated');
  assert.equal(h.forgotten, 1);
});

test('remote CSeq lower than the last one → 500 (§12.2.2)', () => {
  const { dialog } = uasDialog(host().h);
  const { replies } = inbound(dialog, sampleRequest('INFO', { toTag: 'local1', cseq: 4 }));
  assert.equal(replies[0]!.status, 500);
  assert.equal(dialog.state, 'confirmed');
});

test('INFO/OPTIONS default to 200 without listeners; listeners choose the response', () => {
  const { dialog } = uasDialog(host().h);
  assert.equal(inbound(dialog, sampleRequest('INFO', { toTag: 'local1', cseq: 6 })).replies[0]!.status, 200);
  dialog.on('options', (_req, respond) => respond(486));
  assert.equal(inbound(dialog, sampleRequest('OPTIONS', { toTag: 'local1', cseq: 7 })).replies[0]!.status, 486);
});

test('re-INVITE without a listener → 488; with one, 2xx gets Contact, retransmits until ACK, refreshes target', () => {
  const { h, clock } = host();
  const { dialog } = uasDialog(h);
  assert.equal(inbound(dialog, sampleRequest('INVITE', { toTag: 'local1', cseq: 6 })).replies[0]!.status, 488);
  let seen: SipRequest | null = null;
  dialog.on('reinvite', (req, respond) => {
    seen = req;
    respond(200, { body: Buffer.from('v=0\r\n'), contentType: 'application/sdp' });
  });
  const reinvite = sampleRequest('INVITE', { toTag: 'local1', cseq: 7 });
  reinvite.headers.set('Contact', '<sip:alice@127.0.0.1:6000>');
  const { replies, resent } = inbound(dialog, reinvite);
  assert.ok(seen);
  assert.equal(replies[0]!.status, 200);
  assert.equal(replies[0]!.headers.get('contact'), '<sip:me@127.0.0.1:5060>');
  assert.equal(replies[0]!.headers.get('content-type'), 'application/sdp');
  assert.equal(dialog.remoteTarget, 'sip:alice@127.0.0.1:6000');
  clock.advance(1600);
  assert.equal(resent.length, 2); // at 500 and 1500
  const acks: string[] = [];
  dialog.on('ack', () => acks.push('ack'));
  dialog.receiveAck(sampleRequest('ACK', { toTag: 'local1', cseq: 7 }));
  clock.advance(60_000);
  assert.equal(resent.length, 2);
  assert.deepEqual(acks, ['ack']);
  assert.equal(clock.pending, 0);
});

test('§13.3.1.4: 2xx retransmitted at T1 doubling to T2; no ACK in 64*T1 → ack-timeout', () => {
  const { h, clock } = host();
  const { dialog, ok } = uasDialog(h);
  const times: number[] = [];
  let timedOut = 0;
  dialog.on('ack-timeout', () => timedOut++);
  dialog.startAckWait(ok, 5, () => times.push(clock.now()));
  clock.advance(32_000);
  assert.deepEqual(times.slice(0, 6), [500, 1500, 3500, 7500, 11_500, 15_500]);
  assert.equal(timedOut, 1);
  assert.equal(clock.pending, 0);
});

test('ack-timeout without listener ends the session with BYE', async () => {
  const { h, clock, requests } = host();
  const { dialog, ok } = uasDialog(h);
  dialog.startAckWait(ok, 5, () => undefined);
  clock.advance(32_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(requests[0]?.req.method, 'BYE');
  assert.equal(dialog.state, 'terminated');
});

test('sendRequest: re-INVITE 2xx is ACKed with the same CSeq; 481 terminates the dialog (§12.2.1.2)', async () => {
  const { h, acks, setAnswer } = host();
  const { dialog } = uasDialog(h);
  setAnswer((req) => {
    const res = createResponse(req, 200);
    res.headers.append('Contact', '<sip:alice@127.0.0.1:7000>');
    return res;
  });
  const res = await dialog.sendRequest('INVITE', { body: Buffer.from('v=0\r\n'), contentType: 'application/sdp' });
  assert.equal(res?.status, 200);
  assert.equal(acks[0]?.headers.get('cseq'), '1 ACK');
  assert.equal(dialog.remoteTarget, 'sip:alice@127.0.0.1:7000');
  setAnswer((req) => createResponse(req, 481));
  await dialog.sendRequest('INFO');
  assert.equal(dialog.state, 'terminated');
});

test('sendBye terminates whatever the answer; a second call returns null', async () => {
  const { h, requests, setAnswer } = host();
  const { dialog } = uasDialog(h);
  setAnswer(() => null);
  assert.equal(await dialog.sendBye(), null);
  assert.equal(dialog.state, 'terminated');
  assert.equal(await dialog.sendBye(), null);
  assert.equal(requests.length, 1);
});
