import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { SipStack, type Dialog, type IncomingInvite } from '../../src/sip/sip-stack.js';
import { buildCancel } from '../../src/sip/outgoing-invite.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest } from '../helpers/sip-fixtures.js';
import { MINIMAL_SDP, withStackPair } from '../helpers/stack-pair.js';

const SDP = MINIMAL_SDP;

const pair = (fn: (a: SipStack, b: SipStack) => Promise<void>): Promise<void> => withStackPair(fn, ['caller', 'callee']);

const nextInvite = (s: SipStack) => new Promise<IncomingInvite>((r) => s.once('invite', r));
const callB = (a: SipStack, b: SipStack, transport: 'udp' | 'tcp' = 'udp') =>
  a.invite({
    uri: `sip:bob@127.0.0.1:${b.udpPort}${transport === 'tcp' ? ';transport=tcp' : ''}`,
    from: 'sip:alice@127.0.0.1',
    to: 'sip:bob@127.0.0.1',
    body: SDP,
    contentType: 'application/sdp',
  });

test('buildCancel copies Request-URI, Call-ID, From, To, CSeq number and the top Via (§9.1)', () => {
  const invite = sampleRequest('INVITE', { cseq: 7 });
  const cancel = buildCancel(invite);
  assert.equal(cancel.uri, invite.uri);
  assert.equal(cancel.headers.get('via'), invite.headers.get('via'));
  assert.equal(cancel.headers.get('cseq'), '7 CANCEL');
  for (const h of ['from', 'to', 'call-id']) assert.equal(cancel.headers.get(h), invite.headers.get(h));
});

for (const transport of ['udp', 'tcp'] as const) {
  test(`stack to stack over ${transport}: 180, 200/ACK, re-INVITE both ways, INFO, BYE`, async () => {
    await pair(async (a, b) => {
      const incoming = nextInvite(b);
      const out = callB(a, b, transport);
      const inv = await incoming;
      assert.equal(inv.request.body.toString(), SDP.toString());
      const ringing = new Promise<void>((r) => out.on('provisional', (res) => res.status === 180 && r()));
      inv.respond(180);
      await ringing;
      const uasDialog = inv.respond(200, { body: SDP, contentType: 'application/sdp' })!;
      const acked = once(uasDialog, 'ack');
      const outcome = await out.done;
      assert.equal(outcome.kind, 'answered');
      await acked;
      const uacDialog = (outcome as { dialog: Dialog }).dialog;
      assert.equal(uacDialog.remoteTag, uasDialog.localTag);
      assert.equal(uacDialog.callId, uasDialog.callId);
      assert.equal(uacDialog.transport, transport);

      // re-INVITE from the caller reaches the callee's dialog.
      uasDialog.once('reinvite', (_req, respond) => respond(200, { body: SDP, contentType: 'application/sdp' }));
      const reAcked = once(uasDialog, 'ack');
      assert.equal((await uacDialog.sendRequest('INVITE', { body: SDP, contentType: 'application/sdp' }))?.status, 200);
      await reAcked;
      // and one from the callee reaches the caller's dialog.
      uacDialog.once('reinvite', (_req, respond) => respond(200, { body: SDP, contentType: 'application/sdp' }));
      assert.equal((await uasDialog.sendRequest('INVITE', { body: SDP, contentType: 'application/sdp' }))?.status, 200);
      assert.equal((await uasDialog.sendRequest('INFO', { body: Buffer.from('Signal=5\r\n'), contentType: 'application/dtmf-relay' }))?.status, 200);

      const byeSeen = once(uasDialog, 'bye');
      assert.equal((await uacDialog.sendBye())?.status, 200);
      await byeSeen;
      assert.equal(a.stats.dialogs, 0);
      assert.equal(b.stats.dialogs, 0);
    });
  });
}

test('rejected INVITE: outcome carries the response; the non-2xx is ACKed by the transaction', async () => {
  await pair(async (a, b) => {
    const incoming = nextInvite(b);
    const out = callB(a, b);
    const inv = await incoming;
    const acks: string[] = [];
    b.on('request', (req) => acks.push(req.method));
    inv.respond(486);
    const outcome = await out.done;
    assert.equal(outcome.kind, 'rejected');
    assert.equal(outcome.kind === 'rejected' && outcome.response.status, 486);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(acks, ['ACK']);
    assert.equal(inv.transaction.state, 'confirmed');
  });
});

test('cancel() right away: deferred until the 100 arrives, then CANCEL → 487 → cancelled', async () => {
  await pair(async (a, b) => {
    const incoming = nextInvite(b);
    const out = callB(a, b);
    out.cancel();
    const inv = await incoming;
    const cancelled = once(inv, 'cancel');
    const outcome = await out.done;
    await cancelled;
    assert.equal(outcome.kind, 'cancelled');
    assert.equal(outcome.kind === 'cancelled' && outcome.response?.status, 487);
  });
});

test('no answer at all: Timer B gives a timeout outcome (fake clock)', async () => {
  const clock = new FakeClock();
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  const a = new SipStack({ host: '127.0.0.1', port: 0, clock });
  await a.start();
  try {
    const out = a.invite({ uri: `sip:x@127.0.0.1:${silent.address().port}`, from: 'sip:a@127.0.0.1', to: 'sip:x@127.0.0.1', body: SDP, contentType: 'application/sdp' });
    clock.advance(32_000);
    assert.deepEqual(await out.done, { kind: 'timeout' });
    assert.equal(a.stats.clientTransactions, 0);
  } finally {
    silent.close();
    await a.stop();
  }
});

const hasSipp = spawnSync('sipp', ['-v'], { stdio: 'ignore' }).error === undefined;

test('UAC against a real SIPp UAS: INVITE → 180/200 → ACK → BYE → 200', { skip: !hasSipp && 'sipp not installed' }, async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
  const port = probe.address().port;
  probe.close();
  const sipp = spawn('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-nostdin', '-timeout', '20s'], { stdio: 'ignore' });
  const exited = once(sipp, 'exit');
  const a = new SipStack({ host: '127.0.0.1', port: 0 });
  await a.start();
  try {
    await new Promise((r) => setTimeout(r, 300)); // let SIPp bind its socket
    const out = a.invite({ uri: `sip:service@127.0.0.1:${port}`, from: 'sip:alice@127.0.0.1', to: 'sip:service@127.0.0.1', body: SDP, contentType: 'application/sdp' });
    const provisional: number[] = [];
    out.on('provisional', (r) => provisional.push(r.status));
    const outcome = await out.done;
    assert.equal(outcome.kind, 'answered');
    assert.ok(provisional.includes(180));
    const dialog = (outcome as { dialog: Dialog }).dialog;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await dialog.sendBye())?.status, 200);
    const [code] = await exited;
    assert.equal(code, 0, 'SIPp reports the call as successful');
  } finally {
    if (sipp.exitCode === null) sipp.kill();
    await a.stop();
  }
});

test('a retransmitted 2xx is answered with the same ACK, byte for byte (one Via, §13.2.2.4)', async () => {
  const uas = dgram.createSocket('udp4');
  await new Promise<void>((r) => uas.bind(0, '127.0.0.1', r));
  const stack = new SipStack({ host: '127.0.0.1', port: 0, userAgent: 'caller' });
  await stack.start();
  const acks: string[] = [];
  try {
    uas.on('message', (msg, rinfo) => {
      const text = msg.toString('latin1');
      if (text.startsWith('ACK ')) acks.push(text);
      if (!text.startsWith('INVITE ')) return;
      const header = (name: string) => text.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
      const ok = [
        'SIP/2.0 200 OK',
        ...header('Via'),
        ...header('From'),
        `${header('To')[0]};tag=uas1`,
        ...header('Call-ID'),
        ...header('CSeq'),
        `Contact: <sip:bob@127.0.0.1:${uas.address().port}>`,
        'Content-Type: application/sdp',
        `Content-Length: ${SDP.length}`,
        '',
        SDP.toString('latin1'),
      ].join('\r\n');
      // The 200 twice, as a UAS does until its ACK arrives.
      uas.send(ok, rinfo.port, rinfo.address);
      setTimeout(() => uas.send(ok, rinfo.port, rinfo.address), 50);
    });
    const out = stack.invite({ uri: `sip:bob@127.0.0.1:${uas.address().port}`, from: 'sip:alice@127.0.0.1', to: 'sip:bob@127.0.0.1', body: SDP, contentType: 'application/sdp' });
    assert.equal((await out.done).kind, 'answered');
    for (let i = 0; i < 50 && acks.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(acks.length, 2, 'each 200 is ACKed');
    assert.equal(acks[0]!.match(/^Via:/gim)?.length, 1);
    assert.equal(acks[1], acks[0], 'the retransmitted ACK is the same message');
  } finally {
    await stack.stop();
    uas.close();
  }
});
