// SIP inputs the fuzzer (test/fuzz) found problems with; each test is one finding, kept minimal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram } from '../../src/sip/parser.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import { createResponse } from '../../src/sip/message.js';
import { serializeMessage } from '../../src/sip/serializer.js';

const HEAD = [
  'OPTIONS sip:bob@127.0.0.1 SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1',
  'From: <sip:alice@127.0.0.1>;tag=1',
  'To: <sip:bob@127.0.0.1>',
  'Call-ID: c1',
  'CSeq: 1 OPTIONS',
];
const message = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\nContent-Length: 0\r\n\r\n', 'latin1');

// Fuzz: sip-datagram seed=1 iterations 57, 83, 230, 233 (a bare CR inside a line). The value was
// accepted with the CR in it, so neither the message nor a response copying its headers could be
// serialized (SipSerializeError): the request could not even be answered with a 400.
test('a bare CR inside a header value is a 400, and the salvaged request can be answered', () => {
  const out = parseDatagram(message([...HEAD.slice(0, 4), 'Call-ID: x\r', 'CSeq: 1 OPTIONS']));
  assert.equal(out.ok, false);
  assert.ok(!out.ok);
  assert.equal(out.error.status, 400);
  assert.match(out.error.message, /CR inside a header line/);
  assert.ok(out.request, 'a request is salvaged so that the 400 can be sent');
  assert.equal(out.request.headers.get('Call-ID'), undefined, 'the bad line is dropped, not copied into the response');
  const response = serializeMessage(createResponse(out.request, 400)).toString('latin1');
  assert.match(response, /^SIP\/2\.0 400 /);
  assert.ok(!/\r(?!\n)/.test(response), 'no bare CR in what we send');
});

test('a bare CR in the middle of a header value (from, via) is refused too', () => {
  for (const bad of ['From: <sip:alice@127.0.0.1>;tag=1\rTo: <sip:x@y>', 'Via: SIP/2.0/UDP h;branch=z9hG4bK:?\rkdjuw']) {
    const out = parseDatagram(message([HEAD[0]!, bad, ...HEAD.slice(2)]));
    assert.ok(!out.ok, JSON.stringify(bad));
    assert.equal(out.error.status, 400);
  }
});

test('a bare CR in a Status-Line reason phrase or a Request-URI is a parse error', () => {
  const response = parseDatagram(Buffer.from('SIP/2.0 200 OK\rVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n', 'latin1'));
  assert.ok(!response.ok);
  assert.equal(response.error.status, 400);
  const request = parseDatagram(message(['OPTIONS sip:bob@127.0.0.1\rx SIP/2.0', ...HEAD.slice(1)]));
  assert.ok(!request.ok);
  assert.equal(request.error.status, 400);
  assert.equal(request.request?.method, 'OPTIONS', 'still salvaged for the 400');
  serializeMessage(createResponse(request.request!, 400));
});

test('CRLF and bare-LF messages, and a CR in the body, still parse', () => {
  assert.ok(parseDatagram(message(HEAD)).ok);
  assert.ok(parseDatagram(Buffer.from(HEAD.join('\n') + '\nContent-Length: 0\n\n', 'latin1')).ok);
  const withBody = Buffer.from(HEAD.join('\r\n') + '\r\nContent-Length: 3\r\n\r\na\rb', 'latin1');
  const out = parseDatagram(withBody);
  assert.ok(out.ok);
  assert.equal(out.message.body.toString('latin1'), 'a\rb');
});

test('on a stream, a bare CR makes that message a non-fatal 400 and the next one is read', () => {
  const framer = new StreamFramer();
  const bad = message([...HEAD.slice(0, 4), 'Call-ID: x\r', 'CSeq: 1 OPTIONS']);
  const events = framer.push(Buffer.concat([bad, message(HEAD)]));
  assert.deepEqual(events.map((e) => (e.type === 'error' ? `error ${e.error.status} fatal=${e.fatal}` : 'message')), ['error 400 fatal=false', 'message']);
});

// Fuzz: sip-stream seed=1 iterations 55, 433. A head longer than maxMessageBytes with a bad
// Content-Length was a 400 when it arrived in one piece and a 513 when it trickled in.
test('a head longer than the limit is a fatal 513 however it is chunked', () => {
  const head = Buffer.from(['OPTIONS sip:bob@127.0.0.1 SIP/2.0', 'X-Pad: ' + 'p'.repeat(600), 'Content-Length: -1', '', ''].join('\r\n'), 'latin1');
  const whole = new StreamFramer({ maxMessageBytes: 512 }).push(head);
  const framer = new StreamFramer({ maxMessageBytes: 512 });
  const trickled = [...framer.push(head.subarray(0, 520)), ...framer.push(head.subarray(520))];
  for (const events of [whole, trickled]) {
    assert.deepEqual(events.map((e) => (e.type === 'error' ? `${e.error.status} fatal=${e.fatal}` : 'message')), ['513 fatal=true']);
  }
});
