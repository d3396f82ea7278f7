import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReferTo, parseSipfragStatus, referNotifyHeaders, sipfrag, SIPFRAG_CONTENT_TYPE } from '../../src/sip/refer.js';

test('parseReferTo: name-addr with display name and params', () => {
  assert.deepEqual(parseReferTo('"Agent" <sip:agent@pbx.example.com:5070;transport=tcp>;foo=bar'), { uri: 'sip:agent@pbx.example.com:5070;transport=tcp', headers: [] });
});

test('parseReferTo: bare URIs (sip, tel), header params after ; are not part of the URI', () => {
  assert.deepEqual(parseReferTo('sip:bob@example.com'), { uri: 'sip:bob@example.com', headers: [] });
  assert.deepEqual(parseReferTo(' tel:+15551234567 '), { uri: 'tel:+15551234567', headers: [] });
  assert.deepEqual(parseReferTo('sip:bob@example.com;x=1'), { uri: 'sip:bob@example.com', headers: [] });
});

test('parseReferTo: the ?header part is split and %-unescaped in order', () => {
  const t = parseReferTo('<sip:carol@example.com?Replaces=12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db&X-Foo=bar%20baz&X-Empty=>');
  assert.deepEqual(t, {
    uri: 'sip:carol@example.com',
    headers: [
      ['Replaces', '12345@host;to-tag=a;from-tag=b'],
      ['X-Foo', 'bar baz'],
      ['X-Empty', ''],
    ],
  });
  assert.deepEqual(parseReferTo('<sip:u@h?X-Name=Ren%C3%A9e>')?.headers, [['X-Name', 'Renée']]);
});

test('parseReferTo: garbage, other schemes and bad escapes are null', () => {
  assert.equal(parseReferTo(''), null);
  assert.equal(parseReferTo('<not a uri>'), null);
  assert.equal(parseReferTo('<http://example.com/>'), null);
  assert.equal(parseReferTo('<sip:u@h?X-Foo=%zz>'), null);
  assert.equal(parseReferTo('<sip:u@h'), null);
});

test('sipfrag bodies and their status', () => {
  assert.equal(sipfrag(200, 'OK').toString(), 'SIP/2.0 200 OK\r\n');
  assert.equal(sipfrag(100, 'Trying\r\nX: y').toString(), 'SIP/2.0 100 Trying  X: y\r\n'); // no header injection
  assert.equal(parseSipfragStatus(sipfrag(180, 'Ringing')), 180);
  assert.equal(parseSipfragStatus(Buffer.from('SIP/2.0 503 Service Unavailable\r\nRetry-After: 5\r\n')), 503);
  assert.equal(parseSipfragStatus(Buffer.from('SIP/2.0 200\r\n')), 200);
  assert.equal(parseSipfragStatus(Buffer.from('SIP/2.0 20 OK\r\n')), null);
  assert.equal(parseSipfragStatus(Buffer.from('INVITE sip:x SIP/2.0\r\n')), null);
  assert.equal(parseSipfragStatus(Buffer.alloc(0)), null);
  assert.equal(SIPFRAG_CONTENT_TYPE, 'message/sipfrag;version=2.0');
});

test('referNotifyHeaders: Event refer and Subscription-State (RFC 3515 §2.4.5)', () => {
  assert.deepEqual(referNotifyHeaders('active'), [
    { name: 'Event', value: 'refer' },
    { name: 'Subscription-State', value: 'active;expires=60' },
  ]);
  assert.deepEqual(referNotifyHeaders('terminated')[1], { name: 'Subscription-State', value: 'terminated;reason=noresource' });
  assert.deepEqual(referNotifyHeaders('terminated', 'timeout')[1], { name: 'Subscription-State', value: 'terminated;reason=timeout' });
});
