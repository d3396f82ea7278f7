import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest, createResponse, type SipRequest } from '../../src/sip/message.js';
import { serializeMessage, SipSerializeError } from '../../src/sip/serializer.js';
import { parseDatagram } from '../../src/sip/parser.js';

function request(body = Buffer.alloc(0)): SipRequest {
  return createRequest(
    'INVITE',
    'sip:bob@example.com',
    [
      { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1' },
      { name: 'From', value: '<sip:a@example.com>;tag=1' },
      { name: 'To', value: '<sip:bob@example.com>' },
      { name: 'Call-ID', value: 'ser-1' },
      { name: 'CSeq', value: '1 INVITE' },
    ],
    body,
  );
}

test('writes CRLF line ends, appends Content-Length when missing, body as bytes', () => {
  const body = Buffer.from([0x76, 0x3d, 0x30, 0x00, 0xff]);
  const out = serializeMessage(request(body));
  const text = out.subarray(0, out.length - body.length).toString('latin1');
  assert.equal(
    text,
    'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n' +
      'To: <sip:bob@example.com>\r\nCall-ID: ser-1\r\nCSeq: 1 INVITE\r\nContent-Length: 5\r\n\r\n',
  );
  assert.deepEqual(out.subarray(out.length - body.length), body);
});

test('a wrong Content-Length is corrected in place, keeping its spelling; duplicates are dropped', () => {
  const m = request(Buffer.from('abc'));
  m.headers.fields.splice(1, 0, { name: 'l', value: '99' });
  m.headers.append('Content-Length', '7');
  const text = serializeMessage(m).toString();
  assert.match(text, /^INVITE [^\r]*\r\nVia: [^\r]*\r\nl: 3\r\nFrom:/);
  assert.equal(text.match(/content-length|\r\nl:/gi)?.length, 1);
});

test('responses: status line with reason, empty reason keeps the SP; round trip through the parser', () => {
  const res = createResponse(request(), 100);
  assert.ok(serializeMessage(res).toString().startsWith('SIP/2.0 100 Trying\r\n'));
  res.reason = '';
  const bytes = serializeMessage(res);
  assert.ok(bytes.toString().startsWith('SIP/2.0 100 \r\n'));
  const back = parseDatagram(bytes);
  assert.ok(back.ok && back.message.kind === 'response');
  if (back.ok && back.message.kind === 'response') {
    assert.equal(back.message.status, 100);
    assert.deepEqual(back.message.headers.fields.slice(0, 5), res.headers.fields);
  }
});

test('UTF-8 header values and reason phrases are encoded as UTF-8', () => {
  const res = createResponse(request(), 200, 'Très bien');
  res.headers.append('Subject', 'été ☺');
  const out = serializeMessage(res);
  assert.ok(out.includes(Buffer.from('Très bien', 'utf8')));
  const back = parseDatagram(out);
  assert.ok(back.ok);
  if (back.ok) assert.equal(back.message.headers.get('Subject'), 'été ☺');
});

test('refuses CR/LF (header injection) and whitespace in start-line tokens', () => {
  const m = request();
  m.headers.append('Subject', 'hi\r\nVia: evil');
  assert.throws(() => serializeMessage(m), SipSerializeError);
  const n = request();
  n.uri = 'sip:a@b SIP/2.0\r\nX: y';
  assert.throws(() => serializeMessage(n), SipSerializeError);
  const r = createResponse(request(), 200, 'OK\r\nX: y');
  assert.throws(() => serializeMessage(r), SipSerializeError);
});
