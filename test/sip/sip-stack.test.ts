import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipStack, type Dialog, type IncomingInvite, type SipStackOptions } from '../../src/sip/sip-stack.js';
import type { SipRequest } from '../../src/sip/message.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { SipPeer, peerRequest } from '../helpers/sip-peer.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

async function withStack(fn: (stack: SipStack, clock: FakeClock) => Promise<void>, opts: Partial<SipStackOptions> = {}): Promise<void> {
  const clock = new FakeClock();
  const stack = new SipStack({ host: '127.0.0.1', port: 0, clock, userAgent: 'patchbay-test', ...opts });
  await stack.start();
  try {
    await fn(stack, clock);
  } finally {
    await stack.stop();
  }
  assert.equal(clock.pending, 0, 'stop() must clear every timer');
}

function nextInvite(stack: SipStack): Promise<IncomingInvite> {
  return new Promise((resolve) => stack.once('invite', resolve));
}

test('OPTIONS out of dialog → 200 with Allow/Accept; REGISTER → 405; unknown method → 501; BYE without dialog → 481', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const seen: string[] = [];
      stack.on('request', (req) => seen.push(req.method));
      peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKo1' }));
      const ok = await peer.response(200, 'OPTIONS');
      assert.match(ok.headers.get('allow') ?? '', /INVITE.*BYE.*CANCEL.*OPTIONS/);
      assert.equal(ok.headers.get('accept'), 'application/sdp');
      assert.ok(ok.headers.get('to')?.includes('tag='));
      peer.send(peerRequest(peer, stack.udpPort, 'REGISTER', { branch: 'z9hG4bKr1' }));
      assert.match((await peer.response(405)).headers.get('allow') ?? '', /INVITE/);
      peer.send(peerRequest(peer, stack.udpPort, 'FOO', { branch: 'z9hG4bKf1' }));
      assert.match((await peer.response(501)).headers.get('allow') ?? '', /INVITE/);
      peer.send(peerRequest(peer, stack.udpPort, 'BYE', { branch: 'z9hG4bKb1', toTag: 'nope' }));
      await peer.response(481);
      assert.deepEqual(seen, ['OPTIONS', 'REGISTER', 'FOO', 'BYE']);
    } finally {
      peer.close();
    }
  });
});

test('unparseable request with a readable head → stateless 400; validator rejections are sent', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKbad', extra: 'CSeq: 2 OPTIONS' }));
      await peer.response(400);
      peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKreq', extra: 'Require: foo-ext' }));
      const r = await peer.response(420);
      assert.equal(r.headers.get('unsupported'), 'foo-ext');
    } finally {
      peer.close();
    }
  });
});

test('INVITE: 100 at once, retransmissions absorbed (one invite event, last response re-sent)', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      let invites = 0;
      stack.on('invite', () => invites++);
      const got = nextInvite(stack);
      const text = peerRequest(peer, stack.udpPort, 'INVITE', { branch: 'z9hG4bKi1', body: SDP });
      peer.send(text);
      const inv = await got;
      await peer.response(100);
      inv.respond(180);
      const ringing = await peer.response(180);
      assert.equal(ringing.headers.get('to'), `<sip:patchbay@127.0.0.1>;tag=${inv.localTag}`);
      peer.send(text);
      await peer.response(180);
      assert.equal(invites, 1);
      assert.equal(inv.callId, 'call-a@127.0.0.1');
      assert.deepEqual(inv.source, { transport: 'udp', host: '127.0.0.1', port: peer.port });
    } finally {
      peer.close();
    }
  });
});

test('CANCEL → 200 to CANCEL, 487 to INVITE, cancel event; the ACK for 487 is absorbed', async () => {
  await withStack(async (stack, clock) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const got = nextInvite(stack);
      peer.send(peerRequest(peer, stack.udpPort, 'INVITE', { branch: 'z9hG4bKc1', body: SDP }));
      const inv = await got;
      await peer.response(100);
      const cancelled = new Promise<void>((r) => inv.once('cancel', () => r()));
      peer.send(peerRequest(peer, stack.udpPort, 'CANCEL', { branch: 'z9hG4bKc1' }));
      await peer.response(200, 'CANCEL');
      const r487 = await peer.response(487, 'INVITE');
      await cancelled;
      assert.equal(inv.cancelled, true);
      assert.equal(inv.finalResponseSent, true);
      assert.equal(inv.respond(200), null); // too late: ignored
      const requests: string[] = [];
      stack.on('request', (req) => requests.push(req.method));
      const toTag = /tag=([^;]+)/.exec(r487.headers.get('to') ?? '')![1];
      peer.send(peerRequest(peer, stack.udpPort, 'ACK', { branch: 'z9hG4bKc1', toTag, cseqMethod: 'ACK' }));
      await peer.settle();
      assert.deepEqual(requests, ['ACK']);
      clock.advance(5000); // Timer I ends the INVITE transaction, Timer J the CANCEL one
      assert.equal(stack.stats.serverTransactions, 1);
      clock.advance(32_000);
      assert.equal(stack.stats.serverTransactions, 0);
      // A CANCEL for nothing → 481.
      peer.send(peerRequest(peer, stack.udpPort, 'CANCEL', { branch: 'z9hG4bKnothing' }));
      await peer.response(481, 'CANCEL');
    } finally {
      peer.close();
    }
  });
});

async function answeredCall(stack: SipStack, peer: SipPeer): Promise<{ inv: IncomingInvite; dialog: Dialog; toTag: string }> {
  const got = nextInvite(stack);
  peer.send(peerRequest(peer, stack.udpPort, 'INVITE', { branch: 'z9hG4bKa1', body: SDP }));
  const inv = await got;
  await peer.response(100);
  const dialog = inv.respond(200, { body: Buffer.from(SDP), contentType: 'application/sdp' });
  assert.ok(dialog);
  const ok = await peer.response(200, 'INVITE');
  assert.equal(ok.headers.get('contact'), `<sip:patchbay@127.0.0.1:${stack.udpPort}>`);
  assert.equal(ok.body.toString(), SDP);
  return { inv, dialog, toTag: dialog.localTag };
}

test('2xx retransmitted (T1 doubling) until the ACK arrives; ACK emitted on dialog and invite', async () => {
  await withStack(async (stack, clock) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const { inv, dialog, toTag } = await answeredCall(stack, peer);
      clock.advance(500);
      await peer.response(200, 'INVITE');
      clock.advance(1000);
      await peer.response(200, 'INVITE');
      const acks: string[] = [];
      dialog.on('ack', () => acks.push('dialog'));
      inv.on('ack', () => acks.push('invite'));
      peer.send(peerRequest(peer, stack.udpPort, 'ACK', { branch: 'z9hG4bKack1', toTag }));
      await peer.settle();
      assert.deepEqual(acks.sort(), ['dialog', 'invite']);
      clock.advance(10_000);
      assert.equal(await peer.settle(), 0, 'no 2xx after the ACK');
    } finally {
      peer.close();
    }
  });
});

test('no ACK within 64*T1 → ack-timeout on the dialog', async () => {
  await withStack(async (stack, clock) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const { dialog } = await answeredCall(stack, peer);
      let timeouts = 0;
      dialog.on('ack-timeout', () => timeouts++);
      clock.advance(32_000);
      assert.equal(timeouts, 1);
    } finally {
      peer.close();
    }
  });
});

test('re-INVITE, INFO and BYE reach the dialog; BYE auto-answered 200; then 481', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const { dialog, toTag } = await answeredCall(stack, peer);
      peer.send(peerRequest(peer, stack.udpPort, 'ACK', { branch: 'z9hG4bKack2', toTag }));
      const reinvite = new Promise<SipRequest>((resolve) =>
        dialog.once('reinvite', (req, respond) => {
          respond(200, { body: Buffer.from(SDP), contentType: 'application/sdp' });
          resolve(req);
        }),
      );
      peer.send(peerRequest(peer, stack.udpPort, 'INVITE', { branch: 'z9hG4bKre1', toTag, cseq: 2, body: SDP }));
      assert.equal((await reinvite).body.toString(), SDP);
      const ok = await peer.response(200, 'INVITE');
      assert.ok(ok.headers.get('contact'));
      peer.send(peerRequest(peer, stack.udpPort, 'ACK', { branch: 'z9hG4bKack3', toTag, cseq: 2 }));
      peer.send(peerRequest(peer, stack.udpPort, 'INFO', { branch: 'z9hG4bKinfo', toTag, cseq: 3 }));
      await peer.response(200, 'INFO');
      const bye = new Promise<void>((r) => dialog.once('bye', () => r()));
      peer.send(peerRequest(peer, stack.udpPort, 'BYE', { branch: 'z9hG4bKbye', toTag, cseq: 4 }));
      await peer.response(200, 'BYE');
      await bye;
      assert.equal(dialog.state, 'terminated');
      peer.send(peerRequest(peer, stack.udpPort, 'INFO', { branch: 'z9hG4bKinfo2', toTag, cseq: 5 }));
      await peer.response(481, 'INFO');
    } finally {
      peer.close();
    }
  });
});

test('we send BYE: the peer gets it at the remote target and the 200 resolves sendBye', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const { dialog, toTag } = await answeredCall(stack, peer);
      peer.send(peerRequest(peer, stack.udpPort, 'ACK', { branch: 'z9hG4bKack4', toTag }));
      const pending = dialog.sendBye();
      const bye = await peer.request('BYE');
      assert.equal(bye.uri, `sip:alice@127.0.0.1:${peer.port}`);
      assert.equal(bye.headers.get('to'), '<sip:alice@127.0.0.1>;tag=alice1');
      const via = bye.headers.get('via')!;
      const lines = [`SIP/2.0 200 OK`, `Via: ${via}`, `From: ${bye.headers.get('from')}`, `To: ${bye.headers.get('to')}`, `Call-ID: ${bye.headers.get('call-id')}`, `CSeq: ${bye.headers.get('cseq')}`, 'Content-Length: 0', '', ''];
      peer.send(lines.join('\r\n'));
      assert.equal((await pending)?.status, 200);
      assert.equal(stack.stats.dialogs, 0);
    } finally {
      peer.close();
    }
  });
});

test('INVITE over TCP: responses come back on the same connection', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.tcp(stack.tcpPort);
    try {
      const got = nextInvite(stack);
      peer.send(peerRequest(peer, stack.tcpPort, 'INVITE', { branch: 'z9hG4bKt1', body: SDP }));
      const inv = await got;
      await peer.response(100);
      assert.equal(inv.source.transport, 'tcp');
      const dialog = inv.respond(200, { body: Buffer.from(SDP), contentType: 'application/sdp' })!;
      const ok = await peer.response(200, 'INVITE');
      assert.equal(ok.headers.get('contact'), `<sip:patchbay@127.0.0.1:${stack.tcpPort};transport=tcp>`);
      assert.equal(dialog.transport, 'tcp');
    } finally {
      peer.close();
    }
  });
});

test('sendRequest: out-of-dialog OPTIONS gets its final response', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      const { createRequest } = await import('../../src/sip/message.js');
      const req = createRequest('OPTIONS', `sip:alice@127.0.0.1:${peer.port}`, [
        { name: 'From', value: '<sip:patchbay@127.0.0.1>;tag=x1' },
        { name: 'To', value: `<sip:alice@127.0.0.1:${peer.port}>` },
        { name: 'Call-ID', value: 'opt-1' },
        { name: 'CSeq', value: '1 OPTIONS' },
      ]);
      const handle = stack.sendRequest(req, { transport: 'udp', host: '127.0.0.1', port: peer.port });
      const got = await peer.request('OPTIONS');
      assert.match(got.headers.get('via') ?? '', /^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK\w+;rport$/);
      const lines = ['SIP/2.0 200 OK', `Via: ${got.headers.get('via')}`, `From: ${got.headers.get('from')}`, `To: ${got.headers.get('to')};tag=p`, 'Call-ID: opt-1', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''];
      peer.send(lines.join('\r\n'));
      assert.equal((await handle.final)?.status, 200);
    } finally {
      peer.close();
    }
  });
});

test('INVITE without Contact → 400 and no invite event', async () => {
  await withStack(async (stack) => {
    const peer = await SipPeer.udp(stack.udpPort);
    try {
      let invites = 0;
      stack.on('invite', () => invites++);
      const text = peerRequest(peer, stack.udpPort, 'INVITE', { branch: 'z9hG4bKnc', body: SDP }).replace(/Contact: [^\r]*\r\n/, '');
      peer.send(text);
      assert.equal((await peer.response(400)).reason, 'Missing Contact');
      assert.equal(invites, 0);
    } finally {
      peer.close();
    }
  });
});

test('full transaction table → 503 with Retry-After; entries expire with their timers', async () => {
  await withStack(
    async (stack, clock) => {
      const peer = await SipPeer.udp(stack.udpPort);
      try {
        peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKfull1' }));
        await peer.response(200);
        peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKfull2' }));
        assert.equal((await peer.response(503)).headers.get('retry-after'), '5');
        clock.advance(32_000); // Timer J frees the slot
        peer.send(peerRequest(peer, stack.udpPort, 'OPTIONS', { branch: 'z9hG4bKfull3' }));
        await peer.response(200);
      } finally {
        peer.close();
      }
    },
    { maxTransactions: 1 },
  );
});
