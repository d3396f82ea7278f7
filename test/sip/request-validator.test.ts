import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequest, createResponse, type HeaderField, type SipRequest } from '../../src/sip/message.js';
import { isKnownMethod, isResponseAcceptable, validateRequest, type ValidatorOptions } from '../../src/sip/request-validator.js';

const OPTS: ValidatorOptions = { supportedExtensions: ['100rel', 'timer'], acceptedContentTypes: { INVITE: ['application/sdp'] } };

function make(method = 'INVITE', extra: HeaderField[] = [], body = '', uri = 'sip:bob@example.com'): SipRequest {
  return createRequest(
    method,
    uri,
    [
      { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKv1' },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: '<sip:a@example.com>;tag=1' },
      { name: 'To', value: '<sip:bob@example.com>' },
      { name: 'Call-ID', value: 'val-1' },
      { name: 'CSeq', value: `1 ${method}` },
      ...extra,
    ],
    Buffer.from(body),
  );
}

test('a well-formed request passes', () => {
  assert.equal(validateRequest(make('INVITE', [{ name: 'Content-Type', value: 'Application/SDP; charset=x' }], 'v=0'), OPTS), null);
  assert.equal(validateRequest(make('OPTIONS', [{ name: 'Require', value: '100rel, TIMER' }]), OPTS), null);
});

test('missing or duplicated mandatory headers are 400', () => {
  for (const name of ['Call-ID', 'From', 'To', 'CSeq', 'Via']) {
    const r = make();
    r.headers.delete(name);
    assert.equal(validateRequest(r, OPTS)?.status, 400, `missing ${name}`);
  }
  for (const name of ['Call-ID', 'From', 'To', 'CSeq', 'Max-Forwards']) {
    const r = make();
    r.headers.append(name, r.headers.get(name)!);
    assert.equal(validateRequest(r, OPTS)?.status, 400, `duplicated ${name}`);
  }
});

test('Max-Forwards: absent is fine (RFC 2543 peers), out of range is ignored, garbage is 400', () => {
  const none = make();
  none.headers.delete('Max-Forwards');
  assert.equal(validateRequest(none, OPTS), null);
  const big = make();
  big.headers.set('Max-Forwards', '300');
  assert.equal(validateRequest(big, OPTS), null);
  const bad = make();
  bad.headers.set('Max-Forwards', 'seventy');
  assert.equal(validateRequest(bad, OPTS)?.status, 400);
});

test('CSeq method mismatch: 400 for a known method, 501 (with Allow when configured) for an unknown one', () => {
  const known = make('OPTIONS');
  known.headers.set('CSeq', '1 INVITE');
  assert.equal(validateRequest(known, OPTS)?.status, 400);
  const unknown = make('NEWMETHOD');
  unknown.headers.set('CSeq', '1 INVITE');
  assert.deepEqual(validateRequest(unknown, { ...OPTS, allowedMethods: ['INVITE', 'ACK', 'BYE'] }), {
    status: 501,
    headers: [{ name: 'Allow', value: 'INVITE, ACK, BYE' }],
  });
  // A well-formed unknown method is left to the stack (RFC 4475 intmeth).
  assert.equal(validateRequest(make('FOO'), OPTS), null);
  assert.equal(isKnownMethod('INVITE'), true);
  assert.equal(isKnownMethod('invite'), false);
});

test('Request-URI: unknown scheme 416, tel accepted by default, configurable schemes, headers 400', () => {
  assert.equal(validateRequest(make('OPTIONS', [], '', 'tel:+15551234'), OPTS), null);
  assert.equal(validateRequest(make('OPTIONS', [], '', 'mailto:x@example.com'), OPTS)?.status, 416);
  assert.equal(validateRequest(make('OPTIONS', [], '', 'tel:+15551234'), { ...OPTS, supportedUriSchemes: ['sip'] })?.status, 416);
  assert.equal(validateRequest(make('OPTIONS', [], '', 'sip:a@b?Subject=x'), OPTS)?.status, 400);
  assert.equal(validateRequest(make('OPTIONS', [], '', '<sip:a@b>'), OPTS)?.status, 400);
});

test('Require: 420 lists only the unsupported tags; ignored for ACK and CANCEL (§8.2.2.3)', () => {
  const r = make('OPTIONS', [{ name: 'Require', value: '100rel, foo' }, { name: 'Require', value: 'bar' }]);
  assert.deepEqual(validateRequest(r, OPTS), { status: 420, headers: [{ name: 'Unsupported', value: 'foo, bar' }] });
  assert.equal(validateRequest(make('CANCEL', [{ name: 'Require', value: 'foo' }]), OPTS), null);
  assert.equal(validateRequest(make('ACK', [{ name: 'Require', value: 'foo' }]), OPTS), null);
  // Proxy-Require is for proxies: a UAS does not reject on it.
  assert.equal(validateRequest(make('OPTIONS', [{ name: 'Proxy-Require', value: 'foo' }]), OPTS), null);
});

test('bodies: 415 with Accept or Accept-Encoding, 400 without Content-Type; methods not configured accept any type', () => {
  assert.deepEqual(validateRequest(make('INVITE', [{ name: 'c', value: 'text/plain' }], 'x'), OPTS), {
    status: 415,
    headers: [{ name: 'Accept', value: 'application/sdp' }],
  });
  assert.deepEqual(validateRequest(make('INVITE', [{ name: 'Content-Type', value: 'application/sdp' }, { name: 'e', value: 'gzip' }], 'x'), OPTS), {
    status: 415,
    headers: [{ name: 'Accept-Encoding', value: 'identity' }],
  });
  assert.equal(validateRequest(make('INVITE', [], 'v=0'), OPTS)?.status, 400);
  assert.equal(validateRequest(make('MESSAGE', [{ name: 'Content-Type', value: 'text/plain' }], 'hi'), OPTS), null);
  // An empty body needs no Content-Type.
  assert.equal(validateRequest(make('INVITE'), OPTS), null);
});

test('Accept without any type we can answer with is 406 (RFC 4475 sdp01); wildcards match', () => {
  assert.equal(validateRequest(make('INVITE', [{ name: 'Accept', value: 'text/nobodyKnowsThis' }]), OPTS)?.status, 406);
  assert.equal(validateRequest(make('INVITE', [{ name: 'Accept', value: 'text/html, application/*' }]), OPTS), null);
  assert.equal(validateRequest(make('INVITE', [{ name: 'Accept', value: '*/*' }]), OPTS), null);
  assert.equal(validateRequest(make('OPTIONS', [{ name: 'Accept', value: 'text/nobodyKnowsThis' }]), OPTS), null);
});

test('Contact: each value must parse; * only alone in REGISTER', () => {
  assert.equal(validateRequest(make('INVITE', [{ name: 'Contact', value: '<sip:a@h1>, "B" <sip:b@h2>;q=0.5' }]), OPTS), null);
  assert.equal(validateRequest(make('INVITE', [{ name: 'm', value: '<sip:a@h1>;;' }]), OPTS)?.status, 400);
  assert.equal(validateRequest(make('REGISTER', [{ name: 'Contact', value: '*' }]), OPTS), null);
  assert.equal(validateRequest(make('INVITE', [{ name: 'Contact', value: '*' }]), OPTS)?.status, 400);
});

test('version other than SIP/2.0 is 505 before anything else', () => {
  const r = make();
  r.version = 'SIP/3.0';
  r.headers.delete('Call-ID');
  assert.equal(validateRequest(r, OPTS)?.status, 505);
});

test('isResponseAcceptable: status range, single mandatory headers, CSeq and Via syntax', () => {
  const ok = createResponse(make(), 200);
  assert.equal(isResponseAcceptable(ok), true);
  assert.equal(isResponseAcceptable({ ...ok, status: 99 }), false);
  assert.equal(isResponseAcceptable({ ...ok, status: 700 }), false);
  assert.equal(isResponseAcceptable({ ...ok, version: 'SIP/1.0' }), false);
  const bigCseq = createResponse(make(), 200);
  bigCseq.headers.set('CSeq', '9292394834772304023312 OPTIONS');
  assert.equal(isResponseAcceptable(bigCseq), false);
  const noVia = createResponse(make(), 200);
  noVia.headers.delete('Via');
  assert.equal(isResponseAcceptable(noVia), false);
  const badVia = createResponse(make(), 200);
  badVia.headers.set('Via', 'SIP/2.0/UDP');
  assert.equal(isResponseAcceptable(badVia), false);
});
