import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { TcpTransport } from '../../src/sip/transport-tcp.js';
import { systemClock, type Clock } from '../../src/sip/clock.js';
import type { SipAddress, SipMessage } from '../../src/sip/message.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest } from '../helpers/sip-fixtures.js';

function recorder() {
  const messages: { msg: SipMessage; source: SipAddress }[] = [];
  const errors: { status: number; fatal?: boolean }[] = [];
  let wake: (() => void) | null = null;
  const sink = {
    onMessage: (msg: SipMessage, source: SipAddress) => {
      messages.push({ msg, source });
      wake?.();
    },
    onParseError: (err: { status: number }) => {
      errors.push({ status: err.status });
      wake?.();
    },
  };
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise<void>((r) => (wake = r));
  };
  return { sink, messages, errors, until };
}

async function server(clock: Clock = systemClock, idleTimeoutMs?: number) {
  const rec = recorder();
  const t = new TcpTransport({ host: '127.0.0.1', port: 0, sink: rec.sink, clock, idleTimeoutMs });
  await t.start();
  return { t, rec };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

test('a message split over many writes is framed once; two messages in one write are both delivered', async () => {
  const { t, rec } = await server();
  const s = await connect(t.port);
  try {
    const one = serializeMessage(sampleRequest('OPTIONS', { branch: 'z9hG4bKone' }));
    for (let i = 0; i < one.length; i += 7) {
      s.write(one.subarray(i, i + 7));
      await tick();
    }
    await rec.until(() => rec.messages.length === 1);
    const two = Buffer.concat([serializeMessage(sampleRequest('INFO', { branch: 'z9hG4bKa' })), serializeMessage(sampleRequest('BYE', { branch: 'z9hG4bKb' }))]);
    s.write(two);
    await rec.until(() => rec.messages.length === 3);
    assert.deepEqual(rec.messages.map((m) => (m.msg.kind === 'request' ? m.msg.method : '')), ['OPTIONS', 'INFO', 'BYE']);
    assert.deepEqual(rec.messages[0]!.source, { transport: 'tcp', host: '127.0.0.1', port: s.localPort });
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('replies reuse the inbound connection (keyed by remote address)', async () => {
  const { t, rec } = await server();
  const s = await connect(t.port);
  try {
    s.write(serializeMessage(sampleRequest('OPTIONS')));
    await rec.until(() => rec.messages.length === 1);
    assert.equal(t.connectionCount, 1);
    const src = rec.messages[0]!.source;
    const data = once(s, 'data');
    t.send(Buffer.from('reply'), src.host, src.port, (e) => assert.equal(e, null));
    assert.equal(String((await data)[0]), 'reply');
    assert.equal(t.connectionCount, 1);
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('outbound connections are opened once and reused; inbound data on them is delivered', async () => {
  const { t, rec } = await server();
  const accepted: net.Socket[] = [];
  const peer = net.createServer((c) => accepted.push(c));
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  const port = (peer.address() as net.AddressInfo).port;
  try {
    await new Promise((r) => t.send(Buffer.from('a'), '127.0.0.1', port, r));
    await new Promise((r) => t.send(Buffer.from('b'), '127.0.0.1', port, r));
    await tick();
    assert.equal(accepted.length, 1);
    assert.equal(t.connectionCount, 1);
    accepted[0]!.write(serializeMessage(sampleRequest('BYE')));
    await rec.until(() => rec.messages.length === 1);
    assert.deepEqual(rec.messages[0]!.source, { transport: 'tcp', host: '127.0.0.1', port });
  } finally {
    for (const c of accepted) c.destroy();
    peer.close();
    await t.stop();
  }
});

test('connect failure is reported to the send callback', async () => {
  const { t } = await server();
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  try {
    const err = await new Promise<Error | null>((r) => t.send(Buffer.from('x'), '127.0.0.1', closedPort, r));
    assert.ok(err instanceof Error);
    await tick();
    assert.equal(t.connectionCount, 0);
  } finally {
    await t.stop();
  }
});

test('a fatal framing error (no Content-Length) is reported and the connection closed', async () => {
  const { t, rec } = await server();
  const s = await connect(t.port);
  try {
    const closed = once(s, 'close');
    s.write('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\nCall-ID: x\r\n\r\n');
    await rec.until(() => rec.errors.length === 1);
    await closed;
    assert.equal(t.connectionCount, 0);
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('CRLFCRLF keep-alive is answered with CRLF (RFC 5626)', async () => {
  const { t } = await server();
  const s = await connect(t.port);
  try {
    const data = once(s, 'data');
    s.write('\r\n\r\n');
    assert.equal(String((await data)[0]), '\r\n');
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('idle connections are closed after idleTimeoutMs (fake clock)', async () => {
  const clock = new FakeClock();
  const { t, rec } = await server(clock, 10_000);
  const s = await connect(t.port);
  try {
    s.write(serializeMessage(sampleRequest('OPTIONS')));
    await rec.until(() => rec.messages.length === 1);
    clock.advance(7500);
    assert.equal(t.connectionCount, 1);
    const closed = once(s, 'close');
    clock.advance(5000);
    await closed;
    assert.equal(t.connectionCount, 0);
  } finally {
    s.destroy();
    await t.stop();
    assert.equal(clock.pending, 0);
  }
});
