import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { UdpTransport } from '../../src/sip/transport-udp.js';
import type { SipAddress, SipMessage, SipRequest } from '../../src/sip/message.js';
import { serializeMessage } from '../../src/sip/serializer.js';
import { sampleRequest } from '../helpers/sip-fixtures.js';

function recorder() {
  const messages: { msg: SipMessage; source: SipAddress }[] = [];
  const errors: { status: number; request?: SipRequest }[] = [];
  let wake: (() => void) | null = null;
  const sink = {
    onMessage: (msg: SipMessage, source: SipAddress) => {
      messages.push({ msg, source });
      wake?.();
    },
    onParseError: (err: { status: number }, request: SipRequest | undefined) => {
      errors.push({ status: err.status, request });
      wake?.();
    },
  };
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise<void>((r) => (wake = r));
  };
  return { sink, messages, errors, until };
}

test('UDP round trip on loopback, with the source address of each datagram', async () => {
  const rec = recorder();
  const t = new UdpTransport({ host: '127.0.0.1', port: 0, sink: rec.sink });
  await t.start();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  try {
    peer.send(serializeMessage(sampleRequest('OPTIONS')), t.port, '127.0.0.1');
    peer.send(Buffer.from('\r\n\r\n'), t.port, '127.0.0.1'); // keep-alive: ignored
    peer.send(Buffer.from('garbage\r\n\r\n'), t.port, '127.0.0.1');
    await rec.until(() => rec.messages.length === 1 && rec.errors.length === 1);
    const { msg, source } = rec.messages[0]!;
    assert.equal(msg.kind === 'request' && msg.method, 'OPTIONS');
    assert.deepEqual(source, { transport: 'udp', host: '127.0.0.1', port: peer.address().port });

    const got = once(peer, 'message');
    await new Promise<void>((resolve, reject) => t.send(Buffer.from('hello'), '127.0.0.1', peer.address().port, (e) => (e ? reject(e) : resolve())));
    const [buf] = (await got) as [Buffer];
    assert.equal(buf.toString(), 'hello');
  } finally {
    peer.close();
    await t.stop();
  }
});

test('send before start reports an error instead of throwing', async () => {
  const t = new UdpTransport({ host: '127.0.0.1', port: 0, sink: recorder().sink });
  const err = await new Promise<Error | null>((r) => t.send(Buffer.from('x'), '127.0.0.1', 9, r));
  assert.ok(err instanceof Error);
});
