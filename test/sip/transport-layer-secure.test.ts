import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import WebSocket from 'ws';
import { TransportLayer, type TransportLayerHandler } from '../../src/sip/transport-layer.js';
import { createSelfSignedCertificate } from '../../src/sip/self-signed-certificate.js';
import { createRequest, type SipAddress, type SipMessage, type SipRequest } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { SourceGuard } from '../../src/sip/source-guard.js';
import { SipStack } from '../../src/sip/sip-stack.js';
import { TransportError } from '../../src/sip/transport.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import { FakeClock } from '../helpers/fake-clock.js';

const pair = createSelfSignedCertificate({ altNames: ['127.0.0.1'] });

/** A request as JsSIP sends it: `.invalid` Via host and Contact (RFC 7118 §5). */
function browserRequest(method: string, branch: string, transport = 'WS'): SipRequest {
  return createRequest(method, 'sip:bob@127.0.0.1', [
    { name: 'Via', value: `SIP/2.0/${transport} abcd.invalid;branch=${branch}` },
    { name: 'From', value: '<sip:alice@127.0.0.1>;tag=f1' },
    { name: 'To', value: '<sip:bob@127.0.0.1>' },
    { name: 'Call-ID', value: `c-${branch}` },
    { name: 'CSeq', value: `1 ${method}` },
    { name: 'Contact', value: `<sip:xyz@abcd.invalid;transport=${transport.toLowerCase()}>` },
  ]);
}

async function layer(extra: Partial<ConstructorParameters<typeof TransportLayer>[0]> = {}) {
  const received: { req: SipRequest; source: SipAddress }[] = [];
  const handler: TransportLayerHandler = {
    onRequest: (req, source) => void received.push({ req, source }),
    onResponse: () => undefined,
    onBadMessage: () => undefined,
  };
  const tl = new TransportLayer({ host: '127.0.0.1', port: 0, clock: new FakeClock(), tls: { port: 0, ...pair, ca: pair.cert }, ws: { port: 0 }, wss: { port: 0, ...pair }, ...extra });
  tl.handler = handler;
  await tl.start();
  return { tl, received };
}

async function waitFor(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 10));
}

function nextFrame(ws: WebSocket): Promise<SipMessage> {
  return new Promise((resolve, reject) =>
    ws.once('message', (data) => {
      const out = parseDatagram(data as Buffer);
      if (out.ok) resolve(out.message);
      else reject(out.error);
    }),
  );
}

test('layer: TLS, WS and WSS listen on ports of their own; an unconfigured transport fails the send', async () => {
  const { tl } = await layer();
  const bare = new TransportLayer({ host: '127.0.0.1', port: 0, clock: new FakeClock() });
  await bare.start();
  try {
    const ports = [tl.portOf('udp'), tl.portOf('tls'), tl.portOf('ws'), tl.portOf('wss')];
    assert.ok(ports.every((p) => typeof p === 'number' && p > 0));
    assert.equal(new Set(ports).size, 4);
    assert.equal(bare.portOf('tls'), null);
    const err = await new Promise<Error | null>((r) => bare.send(browserRequest('OPTIONS', 'z9hG4bKx'), { transport: 'wss', host: '127.0.0.1', port: 1 }, r));
    assert.ok(err instanceof TransportError && err.code === 'SIP_TRANSPORT_UNSUPPORTED');
  } finally {
    await Promise.all([tl.stop(), bare.stop()]);
  }
});

test('layer: a WS client is reached at its .invalid Contact over its own connection; its response goes back the same way', async () => {
  const { tl, received } = await layer();
  const ws = new WebSocket(`ws://127.0.0.1:${tl.portOf('ws')}`, 'sip');
  await once(ws, 'open');
  try {
    ws.send(serializeMessage(browserRequest('REGISTER', 'z9hG4bKreg')).toString('utf8'));
    await waitFor(() => received.length === 1);
    const { req, source } = received[0]!;
    assert.equal(source.transport, 'ws');
    // §18.2.1: received added (the Via host is a .invalid name).
    assert.match(req.headers.get('via') ?? '', /abcd\.invalid;branch=z9hG4bKreg;received=127\.0\.0\.1/);
    const res = parseDatagram(Buffer.from(`SIP/2.0 200 OK\r\nVia: ${req.headers.get('via')}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`));
    assert.ok(res.ok && res.message.kind === 'response');
    const answer = nextFrame(ws);
    tl.sendResponse(res.message, source);
    assert.equal((await answer).kind, 'response');
    // The Contact, sip:xyz@abcd.invalid;transport=ws, leads to this connection (port 5060 by default).
    const inbound = nextFrame(ws);
    const sent = await new Promise<Error | null>((r) => tl.send(browserRequest('INVITE', 'z9hG4bKinv'), { transport: 'ws', host: 'abcd.invalid', port: 5060 }, r));
    assert.equal(sent, null);
    const got = await inbound;
    assert.ok(got.kind === 'request' && got.method === 'INVITE');
    ws.close();
    await waitFor(() => (tl.connectionCounts().ws ?? 0) === 0);
    const after = await new Promise<Error | null>((r) => tl.send(browserRequest('BYE', 'z9hG4bKbye'), { transport: 'ws', host: 'abcd.invalid', port: 5060 }, r));
    assert.ok(after instanceof TransportError && after.code === 'SIP_TRANSPORT_CLOSED', 'a closed client is not dialled');
  } finally {
    ws.terminate();
    await tl.stop();
  }
});

test('layer: a TLS peer may alias only its own host (a Contact naming another host is not learnt)', async () => {
  const { tl, received } = await layer();
  const s = tls.connect({ host: '127.0.0.1', port: tl.portOf('tls')!, ca: pair.cert });
  await once(s, 'secureConnect');
  try {
    const own = browserRequest('REGISTER', 'z9hG4bKown', 'TLS');
    own.headers.set('Contact', '<sip:phone@127.0.0.1:5999;transport=tls>');
    const other = browserRequest('OPTIONS', 'z9hG4bKoth', 'TLS');
    other.headers.set('Contact', '<sip:phone@127.0.0.2:1;transport=tls>');
    s.write(Buffer.concat([serializeMessage(own), serializeMessage(other)]));
    await waitFor(() => received.length === 2);
    const framer = new StreamFramer();
    const got = new Promise<SipMessage>((r) => s.on('data', (d: Buffer) => framer.push(d).forEach((e) => e.type === 'message' && r(e.message))));
    assert.equal(await new Promise<Error | null>((r) => tl.send(browserRequest('BYE', 'z9hG4bKbye', 'TLS'), { transport: 'tls', host: '127.0.0.1', port: 5999 }, r)), null);
    assert.equal(((await got) as SipRequest).method, 'BYE');
    assert.equal(tl.connectionCounts().tls, 1, 'the BYE used the phone\'s connection, no new one');
    // 127.0.0.2 is not the connection's host: that Contact was not learnt, so the send dials (and finds nobody).
    const dialled = await new Promise<Error | null>((r) => tl.send(browserRequest('BYE', 'z9hG4bKbye2', 'TLS'), { transport: 'tls', host: '127.0.0.2', port: 1 }, r));
    assert.ok(dialled && /ECONNREFUSED/.test(String((dialled as NodeJS.ErrnoException).code)));
  } finally {
    s.destroy();
    await tl.stop();
  }
});

test('layer: the SourceGuard caps WS connections per source and drops over-rate WS messages unanswered', async () => {
  const clock = new FakeClock();
  const guard = new SourceGuard({ clock, requestsPerSecond: 1, burst: 1, maxConnectionsPerSource: 1, rateDropsBeforeBan: 100 });
  const { tl, received } = await layer({ guard, clock });
  const ws = new WebSocket(`ws://127.0.0.1:${tl.portOf('ws')}`, 'sip');
  await once(ws, 'open');
  try {
    const second = new WebSocket(`ws://127.0.0.1:${tl.portOf('ws')}`, 'sip');
    const refused = await new Promise<boolean>((r) => {
      second.on('open', () => r(false));
      second.on('error', () => r(true));
    });
    assert.equal(refused, true, 'a second connection from the source is over the cap');
    for (const b of ['z9hG4bK1', 'z9hG4bK2', 'z9hG4bK3']) ws.send(serializeMessage(browserRequest('OPTIONS', b)).toString('utf8'));
    await waitFor(() => guard.stats.dropped.rate === 2);
    assert.equal(received.length, 1);
    assert.equal(guard.stats.dropped.connections >= 1, true);
  } finally {
    ws.terminate();
    await tl.stop();
    guard.dispose();
  }
});

test('stack: requests to WS/TLS peers carry Via SIP/2.0/WS|TLS with that transport\'s port and a Contact with ;transport=', async () => {
  const stack = new SipStack({ host: '127.0.0.1', port: 0, clock: new FakeClock(), tls: { port: 0, ...pair }, ws: { port: 0 }, wss: { port: 0, ...pair } });
  await stack.start();
  const ws = new WebSocket(`ws://127.0.0.1:${stack.portOf('ws')}`, 'sip');
  await once(ws, 'open');
  try {
    assert.equal(stack.contactUri('wss'), `sip:patchbay@127.0.0.1:${stack.portOf('wss')};transport=wss`);
    assert.equal(stack.contactUri('tls'), `sip:patchbay@127.0.0.1:${stack.portOf('tls')};transport=tls`);
    // The client says who it is first (a browser registers before anything can reach it).
    ws.send(serializeMessage(browserRequest('OPTIONS', 'z9hG4bKhello')).toString('utf8'));
    const answer = await nextFrame(ws);
    assert.equal(answer.kind, 'response');
    const req = stack.buildRequest('MESSAGE', { uri: 'sip:xyz@abcd.invalid;transport=ws', from: 'sip:patchbay@127.0.0.1', to: 'sip:xyz@abcd.invalid' }, 'ws');
    const inbound = nextFrame(ws);
    stack.sendRequest(req, { transport: 'ws', host: 'abcd.invalid', port: 5060 });
    const got = await inbound;
    assert.ok(got.kind === 'request');
    assert.match(got.headers.get('via') ?? '', new RegExp(`^SIP/2\\.0/WS 127\\.0\\.0\\.1:${stack.portOf('ws')};branch=`));
    assert.equal(got.headers.get('contact'), `<sip:patchbay@127.0.0.1:${stack.portOf('ws')};transport=ws>`);
  } finally {
    ws.terminate();
    await stack.stop();
  }
});
