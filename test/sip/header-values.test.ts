import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipHeaders } from '../../src/sip/message.js';
import { SipParseError } from '../../src/sip/parser.js';
import {
  formatNameAddr,
  formatVia,
  getTag,
  getVias,
  parseCSeq,
  parseNameAddr,
  parseVia,
  splitHeaderValues,
} from '../../src/sip/header-values.js';

test('splitHeaderValues splits on top-level commas only', () => {
  assert.deepEqual(splitHeaderValues('a, b ,c'), ['a', 'b', 'c']);
  assert.deepEqual(splitHeaderValues('"Doe, John" <sip:j@x;a=1,2>, <sip:k@y>'), ['"Doe, John" <sip:j@x;a=1,2>', '<sip:k@y>']);
  assert.deepEqual(splitHeaderValues('"a \\", b" <sip:a@b>, c'), ['"a \\", b" <sip:a@b>', 'c']);
  assert.deepEqual(splitHeaderValues('a,,b,'), ['a', '', 'b', '']);
  assert.deepEqual(splitHeaderValues('  '), []);
  assert.deepEqual(splitHeaderValues('"unterminated, x'), ['"unterminated, x']);
});

test('parseVia reads sent-protocol, sent-by and params with LWS around separators', () => {
  const v = parseVia('SIP  /   2.0 /udp 192.0.2.2 : 5062 ;  branch = z9hG4bK776 ; received=10.0.0.1;rport=5999;ttl')!;
  assert.equal(v.protocol, 'SIP/2.0');
  assert.equal(v.transport, 'UDP');
  assert.equal(v.host, '192.0.2.2');
  assert.equal(v.port, 5062);
  assert.equal(v.branch, 'z9hG4bK776');
  assert.equal(v.received, '10.0.0.1');
  assert.equal(v.rport, 5999);
  assert.equal(v.hasRport, true);
  assert.equal(v.params.get('ttl'), null);
});

test('parseVia: empty rport, IPv6 sent-by and received', () => {
  const v = parseVia('SIP/2.0/TCP [2001:DB8::9]:5061;branch=z9hG4bKx;rport;received=2001:db8::1')!;
  assert.equal(v.host, '2001:db8::9');
  assert.equal(v.port, 5061);
  assert.equal(v.rport, null);
  assert.equal(v.hasRport, true);
  assert.equal(v.received, '2001:db8::1');
  assert.equal(formatVia(v), 'SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bKx;rport;received=2001:db8::1');
});

test('parseVia rejects malformed values', () => {
  for (const bad of [
    'SIP/2.0/UDP 192.0.2.15;;', // RFC 4475 badinv01
    'SIP/2.0/UDP',
    'SIP/2.0 host',
    'SIP/2.0/UDPhost',
    'SIP/2.0/UDP host:',
    'SIP/2.0/UDP host:70000',
    'SIP/2.0/UDP host;branch=',
    'SIP/2.0/UDP host junk',
    '',
  ]) {
    assert.equal(parseVia(bad), null, bad);
  }
});

test('formatVia: received/rport set by a server (RFC 3581 §4) override and are added', () => {
  const v = parseVia('SIP/2.0/UDP client.example.com:5060;rport;branch=z9hG4bKabc')!;
  v.received = '192.0.2.7';
  v.rport = 40000;
  assert.equal(formatVia(v), 'SIP/2.0/UDP client.example.com:5060;rport=40000;branch=z9hG4bKabc;received=192.0.2.7');
  const again = parseVia(formatVia(v))!;
  assert.deepEqual([again.received, again.rport, again.branch], ['192.0.2.7', 40000, 'z9hG4bKabc']);
  v.hasRport = false;
  v.rport = null;
  assert.equal(formatVia(v), 'SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKabc;received=192.0.2.7');
});

test('getVias returns every value across lines and commas, and throws 400 on a bad one', () => {
  const h = new SipHeaders([
    { name: 'Via', value: 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2' },
    { name: 'v', value: 'SIP/2.0/TLS c.example.com;branch=z9hG4bK3' },
  ]);
  assert.deepEqual(getVias(h).map((v) => v.host), ['a.example.com', 'b.example.com', 'c.example.com']);
  const bad = new SipHeaders([{ name: 'Via', value: 'SIP/2.0/UDP 192.0.2.15;;,;,,' }]);
  assert.throws(() => getVias(bad), (e: unknown) => e instanceof SipParseError && e.status === 400);
  assert.throws(() => getVias(new SipHeaders([{ name: 'Via', value: '' }])), SipParseError);
});

test('parseNameAddr: quoted display name with escapes, params with LWS', () => {
  const na = parseNameAddr('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33')!;
  assert.equal(na.displayName, 'Quoted string ""');
  assert.equal(na.uri, 'sip:jdrosen@example.com');
  assert.deepEqual([...na.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
});

test('parseNameAddr: token display names, no LWS before < (lwsdisp), no display name', () => {
  assert.equal(parseNameAddr('A. Bell <sip:a.g.bell@example.com>;tag=1')?.displayName, 'A. Bell');
  assert.equal(parseNameAddr('caller<sip:caller@example.com>;tag=323')?.displayName, 'caller');
  assert.equal(parseNameAddr('<sip:x@y>')?.displayName, null);
});

test('parseNameAddr: addr-spec params are header params, not URI params (RFC 4475 cparam01)', () => {
  const na = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=x')!;
  assert.equal(na.uri, 'sip:+19725552222@gw1.example.net');
  assert.deepEqual([...na.params], [['unknownparam', null], ['tag', 'x']]);
  const wsinv = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n')!;
  assert.equal(wsinv.params.get('tag'), '1918181833n');
});

test('parseNameAddr rejects the RFC 4475 malformed forms', () => {
  for (const bad of [
    '"Mr. J. User <sip:j.user@example.com>', // quotbal
    '"Watson, Thomas" < sip:t.watson@example.org >', // badaspec
    'Bell, Alexander <sip:a.g.bell@example.com>;tag=43', // baddn
    'sip:user@example.com?Route=%3Csip:sip.example.com%3E', // regbadct
    '"Joe" <sip:joe@example.org>;;;;', // badinv01
    '<sip:a@b',
    '"x" sip:a@b',
    '<not a uri>',
    '*',
    '',
  ]) {
    assert.equal(parseNameAddr(bad), null, bad);
  }
});

test('formatNameAddr quotes and escapes the display name so it parses back identically', () => {
  const na = { displayName: 'BEL:\x07 NUL:\x00 "q" \\', uri: 'sip:a@b;lr', params: new Map<string, string | null>([['tag', 'abc'], ['x', null]]) };
  const text = formatNameAddr(na);
  assert.equal(text, '"BEL:\\\x07 NUL:\\\x00 \\"q\\" \\\\" <sip:a@b;lr>;tag=abc;x');
  assert.deepEqual(parseNameAddr(text), na);
  assert.equal(formatNameAddr({ displayName: null, uri: 'sip:a@b', params: new Map() }), '<sip:a@b>');
});

test('getTag', () => {
  assert.equal(getTag('<sip:a@b>;tag=xyz'), 'xyz');
  assert.equal(getTag('"A" <sip:a@b;tag=inuri>'), null);
  assert.equal(getTag('sip:a@b;TAG=Up'), 'Up');
  assert.equal(getTag('garbage <'), null);
});

test('parseCSeq: leading zeros, 31-bit limit by digit count, method token', () => {
  assert.deepEqual(parseCSeq('0009 INVITE'), { seq: 9, method: 'INVITE' });
  assert.deepEqual(parseCSeq('  2147483647   BYE '), { seq: 2147483647, method: 'BYE' });
  assert.deepEqual(parseCSeq('0000000000000000001 ACK'), { seq: 1, method: 'ACK' });
  assert.equal(parseCSeq('2147483648 INVITE'), null);
  assert.equal(parseCSeq('36893488147419103232 REGISTER'), null); // RFC 4475 scalar02
  assert.equal(parseCSeq('INVITE'), null);
  assert.equal(parseCSeq('12INVITE'), null);
  assert.equal(parseCSeq('12 INVITE x'), null);
  assert.equal(parseCSeq('-1 INVITE'), null);
});
