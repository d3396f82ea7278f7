/** SIP targets as apps write them: URI checks and the RFC 3261 §19.1.1 header part. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSipTarget } from '../../src/verbs/sip-target.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof VerbDocumentError, `expected VerbDocumentError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('no error');
}

describe('parseSipTarget', () => {
  it('keeps URI parameters, splits and unescapes the header part, skips empty pairs', () => {
    assert.deepEqual(parseSipTarget(' sip:+15550100@carrier.example:5080;transport=tls;user=phone?x-a=1&&X-B=a%26b%3Dc&X-Empty ', 'dial', 'l'), {
      uri: 'sip:+15550100@carrier.example:5080;transport=tls;user=phone',
      headers: [['x-a', '1'], ['X-B', 'a&b=c'], ['X-Empty', '']],
    });
    assert.deepEqual(parseSipTarget('sip:[2001:db8::1]:5060', 'dial', 'l'), { uri: 'sip:[2001:db8::1]:5060', headers: [] });
    assert.deepEqual(parseSipTarget('SIP:pbx.example', 'refer', 'l'), { uri: 'SIP:pbx.example', headers: [] });
  });

  it('lets through the standard headers of each policy only', () => {
    for (const name of ['User-to-User', 'remote-party-id', 'P-Preferred-Identity', 'P-Called-Party-ID']) {
      assert.equal(parseSipTarget(`sip:b@h?${name}=v`, 'dial', 'l').headers[0]?.[0], name);
    }
    assert.equal(parseSipTarget('sip:b@h?User-to-User=v', 'refer', 'l').headers.length, 1);
    assert.equal(codeOf(() => parseSipTarget('sip:b@h?Remote-Party-ID=v', 'refer', 'l')), 13252);
    assert.equal(codeOf(() => parseSipTarget('sip:b@h?Max-Forwards=1', 'dial', 'l')), 13252);
    assert.equal(codeOf(() => parseSipTarget('sip:b@h?X%20A=1', 'dial', 'l')), 13252);
  });

  it('refuses what is not a dialable SIP URI (13243) and header parts over 1024 characters (13251)', () => {
    for (const bad of ['', 'bob@example.com', 'tel:+1555', 'sip:', 'sip:bob@', 'sip:bob@-bad-', 'sip:b@h:99999999', 'sip:b@h h', 'http://x']) {
      assert.equal(codeOf(() => parseSipTarget(bad, 'dial', 'l')), 13243, bad);
    }
    assert.equal(codeOf(() => parseSipTarget(`sip:b@h?X-A=${'1'.repeat(1021)}`, 'dial', 'l')), 13251);
    assert.equal(parseSipTarget(`sip:b@h?X-A=${'1'.repeat(1020)}`, 'dial', 'l').headers.length, 1);
  });
});
