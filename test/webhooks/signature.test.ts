import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeTwilioSignature, validateTwilioSignature } from '../../src/webhooks/signature.js';

const TOKEN = '12345';
const URL_ = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
const EXPECTED = '0/KCTR6DLpKmkAf8muzZqo1nDgQ=';

describe('Twilio request signature', () => {
  it('matches the published test vector', () => {
    assert.equal(computeTwilioSignature(TOKEN, URL_, PARAMS), EXPECTED);
    assert.equal(validateTwilioSignature(TOKEN, EXPECTED, URL_, PARAMS), true);
  });

  it('does not depend on parameter insertion order', () => {
    const reversed = Object.fromEntries(Object.entries(PARAMS).reverse());
    assert.equal(computeTwilioSignature(TOKEN, URL_, reversed), EXPECTED);
  });

  it('excludes the URL fragment (Twilio connection overrides)', () => {
    assert.equal(computeTwilioSignature(TOKEN, `${URL_}#rc=2&rp=all`, PARAMS), EXPECTED);
  });

  it('rejects a wrong token, a changed parameter, a changed URL and a malformed signature', () => {
    assert.equal(validateTwilioSignature('54321', EXPECTED, URL_, PARAMS), false);
    assert.equal(validateTwilioSignature(TOKEN, EXPECTED, URL_, { ...PARAMS, Digits: '1235' }), false);
    assert.equal(validateTwilioSignature(TOKEN, EXPECTED, URL_.replace('foo=1', 'foo=2'), PARAMS), false);
    assert.equal(validateTwilioSignature(TOKEN, 'short', URL_, PARAMS), false);
    assert.equal(validateTwilioSignature(TOKEN, '', URL_, PARAMS), false);
  });

  it('signs array values sorted and de-duplicated, each as name+value', () => {
    const a = computeTwilioSignature(TOKEN, 'https://a.test/x', { Event: ['ringing', 'answered', 'ringing'] });
    const b = computeTwilioSignature(TOKEN, 'https://a.test/xEventansweredEventringing', {});
    assert.equal(a, b);
  });

  it('accepts the URL with or without the default port, like twilio-node', () => {
    const sig = computeTwilioSignature(TOKEN, URL_, PARAMS);
    assert.equal(validateTwilioSignature(TOKEN, sig, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS), true);
    const withPort = computeTwilioSignature(TOKEN, 'http://a.test:80/x', {});
    assert.equal(validateTwilioSignature(TOKEN, withPort, 'http://a.test/x', {}), true);
    assert.equal(validateTwilioSignature(TOKEN, sig, 'https://mycompany.com:8443/myapp.php?foo=1&bar=2', PARAMS), false);
  });

  it('signs a GET as its URL alone', () => {
    const url = 'https://a.test/voice?CallSid=CA1&From=%2B1555';
    assert.equal(computeTwilioSignature(TOKEN, url, {}), computeTwilioSignature(TOKEN, url, {}));
    assert.notEqual(computeTwilioSignature(TOKEN, url, {}), computeTwilioSignature(TOKEN, 'https://a.test/voice', { CallSid: 'CA1', From: '+1555' }));
  });
});
