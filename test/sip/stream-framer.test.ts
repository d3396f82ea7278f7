import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, type FramerEvent } from '../../src/sip/stream-framer.js';

function msg(cseq: number, body = '', extra: string[] = []): Buffer {
  return Buffer.from(
    [
      'OPTIONS sip:bob@example.com SIP/2.0',
      `Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK${cseq}`,
      'From: <sip:a@example.com>;tag=1',
      'To: <sip:bob@example.com>',
      'Call-ID: framer-test',
      `CSeq: ${cseq} OPTIONS`,
      ...extra,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
  );
}
const cseqs = (events: FramerEvent[]) => events.map((e) => (e.type === 'message' ? e.message.headers.get('CSeq') : `error ${e.error.status}${e.fatal ? ' fatal' : ''}`));

test('several messages in one chunk, with CRLF keep-alives between them (RFC 5626 §3.5.1)', () => {
  const f = new StreamFramer();
  const events = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), msg(1, 'abc'), Buffer.from('\r\n\r\n\r\n'), msg(2), msg(3, 'x')]));
  assert.deepEqual(cseqs(events), ['1 OPTIONS', '2 OPTIONS', '3 OPTIONS']);
  assert.equal(f.bufferedBytes, 0);
  assert.deepEqual(f.push(Buffer.from('\r\n\r\n')), []);
  assert.equal(f.bufferedBytes, 0);
});

test('partial reads: nothing until the whole body is there; bufferedBytes counts what waits', () => {
  const f = new StreamFramer();
  const whole = msg(7, 'hello world');
  assert.deepEqual(f.push(whole.subarray(0, 20)), []);
  assert.equal(f.bufferedBytes, 20);
  assert.deepEqual(f.push(whole.subarray(20, whole.length - 1)), []);
  const events = f.push(whole.subarray(whole.length - 1));
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type === 'message' && events[0]!.message.body.toString(), 'hello world');
});

test('a large body arriving one byte at a time', () => {
  const body = 'x'.repeat(20000);
  const whole = msg(9, body);
  const f = new StreamFramer();
  const events: FramerEvent[] = [];
  for (let i = 0; i < whole.length; i++) events.push(...f.push(whole.subarray(i, i + 1)));
  assert.equal(events.length, 1);
  assert.equal(events[0]!.type === 'message' && events[0]!.message.body.length, 20000);
});

test('the body is a copy: reusing the read buffer does not change a delivered message', () => {
  const chunk = Buffer.from(msg(1, 'abcd'));
  const [e] = new StreamFramer().push(chunk);
  chunk.fill(0);
  assert.equal(e!.type === 'message' && e!.message.body.toString(), 'abcd');
});

test('missing, negative and duplicated Content-Length are fatal, salvaging the request (§18.3)', () => {
  const noCl = Buffer.from(msg(1).toString().replace('Content-Length: 0\r\n', ''));
  for (const [input, status] of [
    [noCl, 400],
    [msg(1, '', ['Content-Length: 0']), 400],
    [Buffer.from(msg(1).toString().replace('Content-Length: 0', 'Content-Length: -5')), 400],
  ] as const) {
    const f = new StreamFramer();
    const events = f.push(input);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.ok(e.type === 'error' && e.fatal && e.error.status === status && e.request?.headers.get('Call-ID') === 'framer-test');
    // After a fatal error the stream cannot be trusted: further bytes are ignored.
    assert.deepEqual(f.push(msg(2)), []);
    assert.equal(f.bufferedBytes, 0);
  }
});

test('maxMessageBytes: an over-long head or an over-large Content-Length is fatal with 513', () => {
  const f = new StreamFramer({ maxMessageBytes: 300 });
  assert.deepEqual(cseqs(f.push(msg(1, 'small'))), ['1 OPTIONS']);
  assert.deepEqual(cseqs(f.push(msg(2, 'y'.repeat(400)).subarray(0, 250))), ['error 513 fatal']);

  const g = new StreamFramer({ maxMessageBytes: 100 });
  assert.deepEqual(g.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nX: ' + 'z'.repeat(60))), []);
  assert.deepEqual(cseqs(g.push(Buffer.from('z'.repeat(60)))), ['error 513 fatal']);
});

test('a message that frames but does not parse is a non-fatal error; the next message still arrives', () => {
  const bad = Buffer.from(msg(1).toString().replace('OPTIONS sip:bob@example.com SIP/2.0', 'OPTIONS sip:bob@example.com; lr SIP/2.0'));
  const f = new StreamFramer();
  const events = f.push(Buffer.concat([bad, msg(2)]));
  assert.deepEqual(cseqs(events), ['error 400', '2 OPTIONS']);
  assert.ok(events[0]!.type === 'error' && events[0]!.request?.method === 'OPTIONS');
});

test('CRLF split across chunks at the end of the head', () => {
  const whole = msg(5, 'b');
  const headEnd = whole.indexOf('\r\n\r\n');
  for (const cut of [headEnd + 1, headEnd + 2, headEnd + 3]) {
    const f = new StreamFramer();
    const events = [...f.push(whole.subarray(0, cut)), ...f.push(whole.subarray(cut))];
    assert.deepEqual(cseqs(events), ['5 OPTIONS'], `cut ${cut}`);
  }
});
