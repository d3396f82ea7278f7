import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { WsTransport } from '../../src/sip/transport-ws.js';
import { createSelfSignedCertificate } from '../../src/sip/self-signed-certificate.js';
import { systemClock, type Clock } from '../../src/sip/clock.js';
import type { SipAddress, SipMessage } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { TransportError } from '../../src/sip/transport.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest } from '../helpers/sip-fixtures.js';

function recorder() {
  const messages: { msg: SipMessage; source: SipAddress }[] = [];
  const parseErrors: number[] = [];
  let wake: (() => void) | null = null;
  const sink = {
    onMessage: (msg: SipMessage, source: SipAddress) => {
      messages.push({ msg, source });
      wake?.();
    },
    onParseError: (err: { status: number }) => {
      parseErrors.push(err.status);
      wake?.();
    },
  };
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise<void>((r) => (wake = r));
  };
  return { sink, messages, parseErrors, until };
}

async function waitFor(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 10));
}

async function wsServer(extra: Partial<ConstructorParameters<typeof WsTransport>[0]> = {}, clock: Clock = systemClock) {
  const rec = recorder();
  const t = new WsTransport({ host: '127.0.0.1', port: 0, sink: rec.sink, clock, ...extra });
  await t.start();
  return { t, rec };
}

async function open(url: string, protocols: string | string[] = 'sip', opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, opts);
  await once(ws, 'open');
  return ws;
}

/** The HTTP status a refused upgrade got (the `unexpected-response` event), or an error. */
function refusal(ws: WebSocket): Promise<number | Error> {
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', (err) => resolve(err));
  });
}

test('WS: the handshake needs the sip subprotocol (RFC 7118 §4.1); plain HTTP gets 426', async () => {
  const { t } = await wsServer();
  const url = `ws://127.0.0.1:${t.port}`;
  try {
    const ok = await open(url, ['sip']);
    assert.equal(ok.protocol, 'sip');
    ok.close();
    assert.equal(await refusal(new WebSocket(url, ['chat'])), 400);
    assert.equal(await refusal(new WebSocket(url)), 400);
    const plain = await fetch(`http://127.0.0.1:${t.port}/`);
    assert.equal(plain.status, 426);
    await plain.text();
  } finally {
    await t.stop();
  }
});

test('WS: each frame is one SIP message (text or binary), blank frames are keep-alives; the peer is ws host:port', async () => {
  const { t, rec } = await wsServer();
  const ws = await open(`ws://127.0.0.1:${t.port}`);
  try {
    ws.send(serializeMessage(sampleRequest('OPTIONS', { branch: 'z9hG4bKone' })).toString('utf8'));
    ws.send('\r\n\r\n');
    ws.send(serializeMessage(sampleRequest('INFO', { branch: 'z9hG4bKtwo' })), { binary: true });
    await rec.until(() => rec.messages.length === 2);
    assert.deepEqual(rec.messages.map((m) => (m.msg.kind === 'request' ? m.msg.method : '')), ['OPTIONS', 'INFO']);
    const local = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
    assert.deepEqual(rec.messages[0]!.source, { transport: 'ws', host: '127.0.0.1', port: local });
    // No stream framing: a frame with garbage is one bad message, and the next frame parses again.
    ws.send('this is not SIP\r\n\r\n');
    ws.send(serializeMessage(sampleRequest('BYE', { branch: 'z9hG4bKthree' })).toString('utf8'));
    await rec.until(() => rec.messages.length === 3);
    assert.equal(rec.parseErrors.length, 1);
  } finally {
    ws.close();
    await t.stop();
  }
});

test('WS: a reply goes back on the same socket as a text frame; a peer without a connection fails with SIP_TRANSPORT_CLOSED', async () => {
  const { t, rec } = await wsServer();
  const ws = await open(`ws://127.0.0.1:${t.port}`);
  try {
    ws.send(serializeMessage(sampleRequest('OPTIONS')).toString('utf8'));
    await rec.until(() => rec.messages.length === 1);
    const src = rec.messages[0]!.source;
    const frame = new Promise<{ data: Buffer; binary: boolean }>((r) => ws.once('message', (data, binary) => r({ data: data as Buffer, binary })));
    const reply = serializeMessage(sampleRequest('MESSAGE', { branch: 'z9hG4bKback' }));
    assert.equal(await new Promise<Error | null>((r) => t.send(reply, src.host, src.port, r)), null);
    const got = await frame;
    assert.equal(got.binary, false);
    const parsed = parseDatagram(got.data);
    assert.ok(parsed.ok && parsed.message.kind === 'request' && parsed.message.method === 'MESSAGE');
    const err = await new Promise<Error | null>((r) => t.send(reply, '127.0.0.1', 1, r));
    assert.ok(err instanceof TransportError);
    assert.equal(err.code, 'SIP_TRANSPORT_CLOSED');
    assert.equal(t.connectionCount, 1);
  } finally {
    ws.close();
    await t.stop();
  }
});

test('WS: a message larger than maxMessageBytes closes the connection with 1009 and is not delivered', async () => {
  const { t, rec } = await wsServer({ maxMessageBytes: 2048 });
  const ws = await open(`ws://127.0.0.1:${t.port}`);
  try {
    const big = sampleRequest('MESSAGE');
    const body = Buffer.alloc(4000, 'a');
    big.headers.set('Content-Length', String(body.length));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.send(Buffer.concat([serializeMessage(big), body]).toString('utf8'));
    assert.equal(await closed, 1009);
    await waitFor(() => t.connectionCount === 0);
    assert.equal(rec.messages.length, 0);
  } finally {
    await t.stop();
  }
});

test('WS: per-source admission runs on the TCP connection, before the upgrade', async () => {
  const seen: number[] = [];
  const { t } = await wsServer({ admitConnection: (_h, openNow) => (seen.push(openNow), openNow < 1) });
  const first = await open(`ws://127.0.0.1:${t.port}`);
  try {
    const second = await refusal(new WebSocket(`ws://127.0.0.1:${t.port}`, 'sip'));
    assert.ok(second instanceof Error, 'the second socket from the source was dropped');
    assert.deepEqual(seen, [0, 1]);
    assert.equal(t.connectionsFrom('127.0.0.1'), 1);
    assert.equal(first.readyState, WebSocket.OPEN);
  } finally {
    first.close();
    await t.stop();
  }
});

test('WS: pings keep an answering client; one silent for two ping periods is closed (fake clock)', async () => {
  const clock = new FakeClock();
  const { t } = await wsServer({ pingIntervalMs: 30_000 }, clock);
  const alive = await open(`ws://127.0.0.1:${t.port}`);
  const silent = await open(`ws://127.0.0.1:${t.port}`, 'sip', { autoPong: false });
  const silentClosed = new Promise<void>((r) => silent.on('close', () => r()));
  try {
    await waitFor(() => t.connectionCount === 2);
    const pinged = once(alive, 'ping');
    clock.advance(30_000);
    await pinged;
    // The client's automatic pong was written before its own ping; when the server's answer to that
    // ping is back, the server has read the pong (one ordered TCP stream each way).
    const ours = once(alive, 'pong');
    alive.ping();
    await ours;
    clock.advance(30_000);
    await silentClosed;
    await waitFor(() => t.connectionCount === 1);
    assert.equal(alive.readyState, WebSocket.OPEN);
  } finally {
    alive.close();
    silent.terminate();
    await t.stop();
  }
});

test('WSS: the same over TLS; the peer is named wss', async () => {
  const pair = createSelfSignedCertificate({ altNames: ['127.0.0.1'] });
  const { t, rec } = await wsServer({ secure: pair });
  const ws = await open(`wss://127.0.0.1:${t.port}`, 'sip', { ca: pair.cert });
  try {
    assert.equal(t.name, 'wss');
    ws.send(serializeMessage(sampleRequest('OPTIONS')).toString('utf8'));
    await rec.until(() => rec.messages.length === 1);
    assert.equal(rec.messages[0]!.source.transport, 'wss');
    const untrusting = await refusal(new WebSocket(`wss://127.0.0.1:${t.port}`, 'sip'));
    assert.ok(untrusting instanceof Error && /self.signed/i.test(untrusting.message));
  } finally {
    ws.close();
    await t.stop();
  }
});
