import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram, type ParseOutcome } from '../../src/sip/parser.js';
import type { SipMessage } from '../../src/sip/message.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

const BASIC = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9',
  'Max-Forwards: 70',
  'From: Alice <sip:alice@example.com>;tag=9fxced76sl',
  'To: Bob <sip:bob@example.com>',
  'Call-ID: 3848276298220188511@example.com',
  'CSeq: 1 INVITE',
];

function ok(out: ParseOutcome): { message: SipMessage; consumed: number } {
  if (!out.ok) assert.fail(`parse failed: ${out.error.message}`);
  return out;
}
function fails(out: ParseOutcome, status: number): { salvaged: boolean } {
  assert.equal(out.ok, false);
  if (out.ok) throw new Error('unreachable');
  assert.equal(out.error.status, status);
  assert.equal(out.error.name, 'SipParseError');
  return { salvaged: out.request !== undefined };
}

test('parses a request: start line, headers in order, body by Content-Length', () => {
  const buf = crlf([...BASIC, 'Content-Type: text/plain', 'Content-Length: 5', '', 'hello']);
  const { message: m, consumed } = ok(parseDatagram(buf));
  assert.equal(m.kind, 'request');
  if (m.kind !== 'request') return;
  assert.deepEqual([m.method, m.uri, m.version], ['INVITE', 'sip:bob@example.com', 'SIP/2.0']);
  assert.equal(m.headers.fields.length, 8);
  assert.equal(m.headers.get('call-id'), '3848276298220188511@example.com');
  assert.equal(m.body.toString(), 'hello');
  assert.equal(consumed, buf.length);
});

test('unfolds continuation lines into one SP and trims values; compact names resolve', () => {
  const buf = crlf([
    ...BASIC.slice(0, 5),
    'Subject: first',
    ' \t second',
    '\tthird  ',
    'i: folded-call-id',
    'Route:',
    ' <sip:p1.example.com;lr>',
    'CSeq: 1 INVITE',
    'l: 0',
    '',
    '',
  ]);
  const m = ok(parseDatagram(buf)).message;
  assert.equal(m.headers.get('Subject'), 'first second third');
  assert.equal(m.headers.get('Call-ID'), 'folded-call-id');
  assert.equal(m.headers.get('Route'), '<sip:p1.example.com;lr>');
  assert.equal(m.headers.get('content-length'), '0');
});

test('header names may be followed by whitespace before the colon; names keep their wire spelling', () => {
  const m = ok(parseDatagram(crlf([...BASIC, 'Content-Length   : 0', 'X-Odd  :value', '', '']))).message;
  assert.equal(m.headers.get('X-Odd'), 'value');
  assert.equal(m.headers.fields.at(-1)!.name, 'X-Odd');
});

test('tolerates bare LF line ends and leading CRLFs before the start line (§7.5)', () => {
  const text = '\r\n\r\n' + [...BASIC, 'Content-Length: 2', '', 'ok'].join('\n');
  const { message, consumed } = ok(parseDatagram(Buffer.from(text)));
  assert.equal(message.body.toString(), 'ok');
  assert.equal(consumed, text.length);
});

test('decodes header values as UTF-8 but leaves the body as raw bytes', () => {
  const head = Buffer.from([...BASIC, 'Subject: caf\u00e9 \u263a', 'Content-Length: 4', '', ''].join('\r\n'));
  const body = Buffer.from([0x00, 0xff, 0x0d, 0x0a]);
  const m = ok(parseDatagram(Buffer.concat([head, body]))).message;
  assert.equal(m.headers.get('Subject'), 'caf\u00e9 \u263a');
  assert.deepEqual(m.body, body);
});

test('without Content-Length the body is the rest of the datagram (§18.3)', () => {
  const m = ok(parseDatagram(crlf([...BASIC, '', 'v=0', 'x']))).message;
  assert.equal(m.body.toString(), 'v=0\r\nx');
});

test('trailing octets after Content-Length are ignored and not consumed (RFC 4475 dblreq)', () => {
  const buf = crlf([...BASIC, 'Content-Length: 0', '', 'garbage after']);
  const { message, consumed } = ok(parseDatagram(buf));
  assert.equal(message.body.length, 0);
  assert.equal(consumed, buf.length - 'garbage after'.length);
});

test('Content-Length errors: larger than datagram, negative, non-numeric, huge, duplicated → 400 with salvage', () => {
  for (const cl of ['Content-Length: 99', 'Content-Length: -1', 'Content-Length: 1x', 'Content-Length: 12345678901234567890', 'Content-Length:']) {
    assert.deepEqual(fails(parseDatagram(crlf([...BASIC, cl, '', 'abc'])), 400), { salvaged: true }, cl);
  }
  assert.deepEqual(fails(parseDatagram(crlf([...BASIC, 'l: 3', 'Content-Length: 3', '', 'abc'])), 400), { salvaged: true });
  // Leading zeros are just digits.
  assert.equal(ok(parseDatagram(crlf([...BASIC, 'Content-Length: 0003', '', 'abc']))).message.body.toString(), 'abc');
});

test('a head without its empty line is accepted as a datagram only when there is no body (RFC 4475 baddn)', () => {
  assert.equal(ok(parseDatagram(crlf([...BASIC, 'l: 0']))).message.body.length, 0);
  fails(parseDatagram(crlf([...BASIC, 'l: 4'])), 400);
});

test('malformed header lines and folding before any header → 400, salvaging the rest', () => {
  const out = parseDatagram(crlf([...BASIC, 'Foobar roobar', 'Content-Length: 0', '', '']));
  assert.deepEqual(fails(out, 400), { salvaged: true });
  if (!out.ok) assert.equal(out.request?.headers.get('CSeq'), '1 INVITE');
  fails(parseDatagram(crlf(['OPTIONS sip:a@b SIP/2.0', ' folded', 'l: 0', '', ''])), 400);
  fails(parseDatagram(crlf([...BASIC, ': novalue', '', ''])), 400);
});

test('request lines: extra SP accepted and not kept; wrong shapes are 400', () => {
  const m = ok(parseDatagram(crlf(['OPTIONS  sip:a@example.com   SIP/2.0  ', ...BASIC.slice(1), '', '']))).message;
  assert.equal(m.kind === 'request' && m.uri, 'sip:a@example.com');
  assert.equal(ok(parseDatagram(crlf(['OPTIONS sip:a@b sip/2.0', ...BASIC.slice(1), '', '']))).message.version, 'SIP/2.0');
  assert.equal(ok(parseDatagram(crlf(['OPTIONS sip:a@b SIP/7.0', ...BASIC.slice(1), '', '']))).message.version, 'SIP/7.0');
  assert.deepEqual(fails(parseDatagram(crlf(['INVITE sip:a@b; lr SIP/2.0', ...BASIC.slice(1), '', ''])), 400), { salvaged: true });
  fails(parseDatagram(crlf(['INVITE sip:a@b HTTP/1.1', ...BASIC.slice(1), '', ''])), 400);
  assert.deepEqual(fails(parseDatagram(crlf(['IN(VITE sip:a@b SIP/2.0', ...BASIC.slice(1), '', ''])), 400), { salvaged: false });
});

test('status lines: reason may be empty or UTF-8; malformed codes fail without salvage', () => {
  const resp = (line: string) => parseDatagram(crlf([line, 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'l: 0', '', '']));
  const a = ok(resp('SIP/2.0 180 Ringing')).message;
  assert.deepEqual(a.kind === 'response' && [a.status, a.reason], [180, 'Ringing']);
  const b = ok(resp('SIP/2.0 100')).message;
  assert.deepEqual(b.kind === 'response' && [b.status, b.reason], [100, '']);
  const c = ok(resp('SIP/2.0 200 Très bien')).message;
  assert.equal(c.kind === 'response' && c.reason, 'Très bien');
  assert.deepEqual(fails(resp('SIP/2.0 2x0 OK'), 400), { salvaged: false });
  fails(resp('SIP/2.0 99999999999999999999 Big'), 400);
  fails(resp('SIP/2.0'), 400);
  fails(resp('SIP/2 200 OK'), 400);
});

test('empty and CRLF-only datagrams are errors without a request', () => {
  assert.deepEqual(fails(parseDatagram(Buffer.alloc(0)), 400), { salvaged: false });
  assert.deepEqual(fails(parseDatagram(Buffer.from('\r\n\r\n')), 400), { salvaged: false });
});
