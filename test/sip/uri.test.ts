import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUri, parseUri } from '../../src/sip/uri.js';

test('parses a full SIP URI (RFC 3261 §19.1.1)', () => {
  const u = parseUri('sip:alice:secret@Atlanta.COM:5070;transport=TCP;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent')!;
  assert.equal(u.scheme, 'sip');
  assert.equal(u.user, 'alice');
  assert.equal(u.password, 'secret');
  assert.equal(u.host, 'atlanta.com');
  assert.equal(u.port, 5070);
  assert.deepEqual([...u.params], [['transport', 'TCP'], ['lr', null], ['maddr', '239.255.255.1']]);
  assert.deepEqual([...u.headers], [['subject', 'project x'], ['priority', 'urgent']]);
});

test('scheme is case-insensitive and lower-cased; SIPS and host-only URIs', () => {
  const u = parseUri('SIPS:Example.com')!;
  assert.deepEqual([u.scheme, u.user, u.host, u.port], ['sips', null, 'example.com', null]);
});

test('IPv6 references lose their brackets and get them back', () => {
  const u = parseUri('sip:bob@[2001:DB8::10]:5060;transport=udp')!;
  assert.equal(u.host, '2001:db8::10');
  assert.equal(u.port, 5060);
  assert.equal(formatUri(u), 'sip:bob@[2001:db8::10]:5060;transport=udp');
  assert.equal(parseUri('sip:[2001:db8::zz]'), null);
  assert.equal(parseUri('sip:[2001:db8::1'), null);
});

test('%-escapes are decoded in user, params and headers and re-escaped on format', () => {
  const u = parseUri('sip:user;par=u%40example.net@example.com')!;
  assert.equal(u.user, 'user;par=u@example.net');
  assert.equal(formatUri(u), 'sip:user;par=u%40example.net@example.com');
  const e = parseUri('sip:%00%00@host;n%61me=v%61lue%25%34%31')!;
  assert.equal(e.user, '\0\0');
  assert.equal(e.params.get('name'), 'value%41');
  assert.equal(formatUri(e), 'sip:%00%00@host;name=value%2541');
  assert.deepEqual(parseUri(formatUri(e)), e);
  const utf = parseUri('sip:%C3%A9t%C3%A9@host')!;
  assert.equal(utf.user, 'été');
  assert.equal(formatUri(utf), 'sip:%C3%A9t%C3%A9@host');
});

test('tel URIs keep the number and parameters', () => {
  const u = parseUri('tel:+1-201-555-0123;ext=1234;phone-context=example.com')!;
  assert.equal(u.scheme, 'tel');
  assert.equal(u.user, '+1-201-555-0123');
  assert.equal(u.params.get('phone-context'), 'example.com');
  assert.equal(formatUri(u), 'tel:+1-201-555-0123;ext=1234;phone-context=example.com');
  assert.equal(parseUri('tel:'), null);
});

test('other schemes are opaque', () => {
  const u = parseUri('soap.beep://192.0.2.103:3002')!;
  assert.equal(u.scheme, 'soap.beep');
  assert.equal(u.opaque, '//192.0.2.103:3002');
  assert.equal(formatUri(u), 'soap.beep://192.0.2.103:3002');
  assert.equal(parseUri('urn:service:sos')?.opaque, 'service:sos');
});

test('rejects what is not a URI', () => {
  for (const bad of [
    '<sip:user@example.com>', // RFC 4475 ltgtruri
    ' sip:user@example.com',
    'sip:user@example.com ',
    'sip:user@example.com; lr',
    'sip:us er@example.com',
    'sip:user@',
    'sip:@example.com',
    'sip:user@host:99999',
    'sip:user@host:',
    'sip:user@host;=x',
    'sip:user@host;;lr',
    'sip:user@host;x=',
    'sip:a%4@host',
    'sip:a%zz@host',
    'sip:user@host?x',
    'nocolon',
    ':nothing',
    '1abc:foo',
    'foo:',
    'foo:has space',
  ]) {
    assert.equal(parseUri(bad), null, bad);
  }
});

test('headers in a URI are parsed (RFC 4475 escruri/regescrt)', () => {
  const u = parseUri('sip:user@example.com?Route=%3Csip:example.com%3E')!;
  assert.deepEqual([...u.headers], [['Route', '<sip:example.com>']]);
  assert.equal(formatUri(u), 'sip:user@example.com?Route=%3Csip:example.com%3E');
});

test('format/parse round trip for unusual but valid users (RFC 4475 intmeth)', () => {
  const text = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
  const u = parseUri(text)!;
  assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(formatUri(u), text);
});
