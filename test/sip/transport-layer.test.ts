import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { TransportLayer, responseDestination, stampReceived, type TransportLayerHandler } from '../../src/sip/transport-layer.js';
import { parseVia, type Via } from '../../src/sip/header-values.js';
import { createRequest, createResponse, type SipAddress, type SipRequest } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { FakeClock } from '../helpers/fake-clock.js';

function request(via: string): SipRequest {
  return createRequest('OPTIONS', 'sip:x@127.0.0.1', [
    { name: 'Via', value: via },
    { name: 'From', value: '<sip:a@b>;tag=1' },
    { name: 'To', value: '<sip:x@127.0.0.1>' },
    { name: 'Call-ID', value: 'c1' },
    { name: 'CSeq', value: '1 OPTIONS' },
  ]);
}

async function layer() {
  const received: { req: SipRequest; source: SipAddress; via: Via }[] = [];
  let wake: (() => void) | null = null;
  const handler: TransportLayerHandler = {
    onRequest: (req, source, via) => {
      received.push({ req, source, via });
      wake?.();
    },
    onResponse: () => undefined,
    onBadMessage: () => undefined,
  };
  const tl = new TransportLayer({ host: '127.0.0.1', port: 0, clock: new FakeClock() });
  tl.handler = handler;
  await tl.start();
  const next = async () => {
    while (received.length === 0) await new Promise<void>((r) => (wake = r));
    return received.shift()!;
  };
  return { tl, next };
}

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

test('stampReceived: received when sent-by differs, rport filled with the source port (RFC 3581)', () => {
  const src: SipAddress = { transport: 'udp', host: '127.0.0.1', port: 40000 };
  const a = parseVia('SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa')!;
  assert.equal(stampReceived(a, src), false);
  const b = parseVia('SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKb')!;
  assert.equal(stampReceived(b, src), true);
  assert.equal(b.received, '127.0.0.1');
  const c = parseVia('SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKc')!;
  assert.equal(stampReceived(c, src), true);
  assert.equal(c.rport, 40000);
  assert.equal(c.received, '127.0.0.1'); // rport forces received even when equal
});

test('responseDestination follows §18.2.2 / RFC 3581', () => {
  const src: SipAddress = { transport: 'udp', host: '192.0.2.1', port: 40000 };
  assert.deepEqual(responseDestination(parseVia('SIP/2.0/UDP h.example;received=192.0.2.1;rport=40000')!, src), { transport: 'udp', host: '192.0.2.1', port: 40000 });
  assert.deepEqual(responseDestination(parseVia('SIP/2.0/UDP h.example:5070;received=192.0.2.1')!, src), { transport: 'udp', host: '192.0.2.1', port: 5070 });
  assert.deepEqual(responseDestination(parseVia('SIP/2.0/UDP 192.0.2.9')!, src), { transport: 'udp', host: '192.0.2.9', port: 5060 });
  // maddr pointing elsewhere is ignored (no reflection to third parties); naming the source, it is followed.
  assert.deepEqual(responseDestination(parseVia('SIP/2.0/UDP h;maddr=239.1.1.1;received=192.0.2.1')!, src), { transport: 'udp', host: '192.0.2.1', port: 5060 });
  assert.deepEqual(responseDestination(parseVia('SIP/2.0/UDP h:5062;maddr=192.0.2.1')!, src), { transport: 'udp', host: '192.0.2.1', port: 5062 });
});

test('UDP + TCP bound on the same ephemeral port', async () => {
  const { tl } = await layer();
  try {
    assert.ok(tl.udpPort > 0);
    assert.equal(tl.tcpPort, tl.udpPort);
  } finally {
    await tl.stop();
  }
});

test('UDP request with rport: top Via rewritten, response goes to received:rport, not sent-by', async () => {
  const { tl, next } = await layer();
  const peer = await udpSocket();
  try {
    peer.send(serializeMessage(request('SIP/2.0/UDP 10.9.9.9:5999;rport;branch=z9hG4bKr1')), tl.udpPort, '127.0.0.1');
    const { req, source, via } = await next();
    assert.equal(via.rport, peer.address().port);
    assert.equal(req.headers.get('via'), `SIP/2.0/UDP 10.9.9.9:5999;rport=${peer.address().port};branch=z9hG4bKr1;received=127.0.0.1`);
    const got = once(peer, 'message');
    tl.sendResponse(createResponse(req, 200, undefined, 't'), source);
    const out = parseDatagram((await got)[0] as Buffer);
    assert.ok(out.ok && out.message.kind === 'response' && out.message.status === 200);
  } finally {
    peer.close();
    await tl.stop();
  }
});

test('UDP request without rport: response goes to the sent-by port (§18.2.2)', async () => {
  const { tl, next } = await layer();
  const sender = await udpSocket();
  const listener = await udpSocket();
  try {
    sender.send(serializeMessage(request(`SIP/2.0/UDP 127.0.0.1:${listener.address().port};branch=z9hG4bKr2`)), tl.udpPort, '127.0.0.1');
    const { req, source } = await next();
    assert.equal(source.port, sender.address().port);
    const got = once(listener, 'message');
    tl.sendResponse(createResponse(req, 200, undefined, 't'), source);
    const out = parseDatagram((await got)[0] as Buffer);
    assert.ok(out.ok && out.message.kind === 'response');
  } finally {
    sender.close();
    listener.close();
    await tl.stop();
  }
});

test('TCP: the response goes back over the connection the request came on', async () => {
  const { tl, next } = await layer();
  const s = net.connect({ host: '127.0.0.1', port: tl.tcpPort });
  await once(s, 'connect');
  try {
    s.write(serializeMessage(request('SIP/2.0/TCP 10.9.9.9:5999;branch=z9hG4bKt1')));
    const { req, source } = await next();
    assert.equal(source.transport, 'tcp');
    const data = once(s, 'data');
    tl.sendResponse(createResponse(req, 200, undefined, 't'), source);
    const out = parseDatagram((await data)[0] as Buffer);
    assert.ok(out.ok && out.message.kind === 'response' && out.message.status === 200);
  } finally {
    s.destroy();
    await tl.stop();
  }
});

test('a message that cannot be serialized fails its send through the callback, never by throwing (found by fuzzing)', async () => {
  const { tl } = await layer();
  try {
    const bad = request('SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad');
    bad.headers.append('Subject', 'line\rbreak'); // a bare CR cannot be written on the wire
    const err = await new Promise<Error | null>((resolve) => {
      assert.doesNotThrow(() => tl.send(bad, { transport: 'udp', host: '127.0.0.1', port: 9 }, resolve));
    });
    assert.ok(err instanceof Error, 'the callback gets the serializer error');
  } finally {
    await tl.stop();
  }
});
