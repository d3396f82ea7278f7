import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import { TcpTransport } from '../../src/sip/transport-tcp.js';
import { createSelfSignedCertificate } from '../../src/sip/self-signed-certificate.js';
import { systemClock } from '../../src/sip/clock.js';
import type { SipAddress, SipMessage } from '../../src/sip/message.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { sampleRequest } from '../helpers/sip-fixtures.js';

// One certificate like Patchbay's development one (self-signed, names loopback) for the whole file.
const pair = createSelfSignedCertificate({ altNames: ['localhost', '127.0.0.1', '::1'] });

function recorder() {
  const messages: { msg: SipMessage; source: SipAddress }[] = [];
  const transportErrors: Error[] = [];
  let wake: (() => void) | null = null;
  const sink = {
    onMessage: (msg: SipMessage, source: SipAddress) => {
      messages.push({ msg, source });
      wake?.();
    },
    onParseError: () => undefined,
    onTransportError: (err: Error) => {
      transportErrors.push(err);
      wake?.();
    },
  };
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise<void>((r) => (wake = r));
  };
  return { sink, messages, transportErrors, until };
}

/** Polls a condition that changes without a sink event (a socket closing). */
async function waitFor(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 10));
}

async function tlsServer(extra: Partial<ConstructorParameters<typeof TcpTransport>[0]> = {}) {
  const rec = recorder();
  const t = new TcpTransport({ host: '127.0.0.1', port: 0, sink: rec.sink, clock: systemClock, secure: { key: pair.key, cert: pair.cert }, ...extra });
  await t.start();
  return { t, rec };
}

async function tlsClient(port: number): Promise<tls.TLSSocket> {
  const s = tls.connect({ host: '127.0.0.1', port, ca: pair.cert });
  await once(s, 'secureConnect');
  return s;
}

test('TLS: a request over a verified TLS connection arrives from a tls peer; the reply reuses that connection', async () => {
  const { t, rec } = await tlsServer();
  const s = await tlsClient(t.port);
  try {
    assert.equal(t.name, 'tls');
    assert.equal(s.authorized, true, 'the client verified the certificate against its CA');
    s.write(serializeMessage(sampleRequest('OPTIONS')));
    await rec.until(() => rec.messages.length === 1);
    const src = rec.messages[0]!.source;
    assert.deepEqual(src, { transport: 'tls', host: '127.0.0.1', port: s.localPort });
    const data = once(s, 'data');
    const sent = new Promise<Error | null>((r) => t.send(Buffer.from('SIP/2.0 200 OK\r\n'), src.host, src.port, r));
    assert.equal(await sent, null);
    assert.equal(String((await data)[0]), 'SIP/2.0 200 OK\r\n');
    assert.equal(t.connectionCount, 1, 'no second connection was opened for the reply');
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('TLS: outbound connections verify the server certificate (trusted CA passes, unknown self-signed fails the send)', async () => {
  const { t: server, rec } = await tlsServer();
  const trusting = new TcpTransport({ host: '127.0.0.1', port: 0, sink: recorder().sink, clock: systemClock, secure: { key: pair.key, cert: pair.cert, ca: pair.cert } });
  const defaults = new TcpTransport({ host: '127.0.0.1', port: 0, sink: recorder().sink, clock: systemClock, secure: { key: pair.key, cert: pair.cert } });
  await trusting.start();
  await defaults.start();
  try {
    const ok = await new Promise<Error | null>((r) => trusting.send(serializeMessage(sampleRequest('OPTIONS')), '127.0.0.1', server.port, r));
    assert.equal(ok, null);
    await rec.until(() => rec.messages.length === 1);
    assert.equal(rec.messages[0]!.source.transport, 'tls');
    const refused = await new Promise<Error | null>((r) => defaults.send(serializeMessage(sampleRequest('OPTIONS')), '127.0.0.1', server.port, r));
    assert.ok(refused, 'a self-signed server certificate is refused by default');
    assert.match(String((refused as NodeJS.ErrnoException).code ?? refused.message), /SELF_SIGNED|CERT|certificate/i);
    assert.equal(rec.messages.length, 1, 'nothing arrived over the unverified connection');
  } finally {
    await Promise.all([server.stop(), trusting.stop(), defaults.stop()]);
  }
});

test('TLS: a source over its connection cap is closed before any handshake; others still connect', async () => {
  const seen: number[] = [];
  const { t, rec } = await tlsServer({
    admitConnection: (_host, open) => {
      seen.push(open);
      return open < 1;
    },
  });
  const first = await tlsClient(t.port);
  try {
    first.write(serializeMessage(sampleRequest('OPTIONS')));
    await rec.until(() => rec.messages.length === 1);
    const second = tls.connect({ host: '127.0.0.1', port: t.port, ca: pair.cert });
    let handshake = false;
    second.on('secureConnect', () => (handshake = true));
    second.on('error', () => undefined);
    await new Promise((r) => second.on('close', r));
    assert.equal(handshake, false, 'the refused connection never completed a TLS handshake');
    assert.deepEqual(seen, [0, 1]);
    assert.equal(t.connectionsFrom('127.0.0.1'), 1);
    // The admitted connection is unaffected.
    first.write(serializeMessage(sampleRequest('INFO', { branch: 'z9hG4bKafter' })));
    await rec.until(() => rec.messages.length === 2);
  } finally {
    first.destroy();
    await t.stop();
  }
});

test('TLS: a failed handshake (client distrusts the certificate) leaves no connection behind', async () => {
  const { t, rec } = await tlsServer();
  try {
    const s = tls.connect({ host: '127.0.0.1', port: t.port }); // Node's roots only: rejects our self-signed cert
    const err = await once(s, 'error').then(([e]) => e as Error);
    assert.match(String((err as NodeJS.ErrnoException).code), /SELF_SIGNED/);
    await waitFor(() => t.connectionCount === 0 && t.connectionsFrom('127.0.0.1') === 0);
    assert.equal(rec.messages.length, 0);
  } finally {
    await t.stop();
  }
});

test('TLS: a send to an alias of an open connection uses it; without a connection TLS dials out', async () => {
  const { t, rec } = await tlsServer();
  const s = await tlsClient(t.port);
  try {
    s.write(serializeMessage(sampleRequest('OPTIONS')));
    await rec.until(() => rec.messages.length === 1);
    const src = rec.messages[0]!.source;
    assert.equal(t.addAlias('127.0.0.1', 5999, src), true);
    assert.equal(t.hasConnection('127.0.0.1', 5999), true);
    const data = once(s, 'data');
    t.send(Buffer.from('via-alias'), '127.0.0.1', 5999, () => undefined);
    assert.equal(String((await data)[0]), 'via-alias');
    s.destroy();
    await waitFor(() => t.connectionCount === 0);
    assert.equal(t.hasConnection('127.0.0.1', 5999), false, 'the alias died with its connection');
  } finally {
    s.destroy();
    await t.stop();
  }
});
