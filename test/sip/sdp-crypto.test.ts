import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseCrypto,
  cryptoKeys,
  formatCryptoAttribute,
  generateCryptoAttribute,
  parseCryptoAttribute,
  type CryptoAttribute,
} from '../../src/sip/sdp-crypto.js';
import { getAttributes, parseSdp } from '../../src/sip/sdp.js';

const KEY_A = 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR';
const KEY_B = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';

function parsed(value: string): CryptoAttribute {
  const attribute = parseCryptoAttribute(value);
  assert.ok(attribute, `should parse: ${value}`);
  return attribute;
}

test('RFC 4568 §4 example line: tag, suite, key||salt, lifetime 2^20, MKI 1:32', () => {
  const a = parsed(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:32`);
  assert.equal(a.tag, 1);
  assert.equal(a.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(a.keyParams.length, 1);
  assert.deepEqual(a.keyParams[0].keySalt, Buffer.from(KEY_A, 'base64'));
  assert.equal(a.keyParams[0].keySalt.length, 30);
  assert.equal(a.keyParams[0].lifetime, 2 ** 20);
  assert.deepEqual(a.keyParams[0].mki, { value: 1, length: 32 });
  assert.deepEqual(a.sessionParams, []);
  assert.equal(formatCryptoAttribute(a), `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:32`);
});

test('the three accepted spellings of the value, lifetime in decimal, several keys, session parameters', () => {
  for (const v of [`1 AES_CM_128_HMAC_SHA1_32 inline:${KEY_B}`, `crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY_B}`, `a=crypto:1  AES_CM_128_HMAC_SHA1_32\tinline:${KEY_B}`]) {
    assert.equal(parsed(v).suite, 'AES_CM_128_HMAC_SHA1_32', v);
  }
  const decimal = parsed(`7 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}|1048576`);
  assert.equal(decimal.keyParams[0].lifetime, 1048576);
  assert.deepEqual(decimal.keyParams[0].mki, null);
  assert.equal(formatCryptoAttribute(decimal), `crypto:7 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}|2^20`);
  assert.equal(parsed(`7 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}|1000`).keyParams[0].lifetime, 1000);
  // Shaped like the RFC 4568 §8.1 offer: an unknown suite with two keys distinguished by MKI.
  const f8 = parsed(`2 F8_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4;inline:${KEY_B}|2^20|2:4 FEC_ORDER=FEC_SRTP`);
  assert.equal(f8.suite, 'F8_128_HMAC_SHA1_80');
  assert.deepEqual(f8.keyParams.map((k) => k.mki), [{ value: 1, length: 4 }, { value: 2, length: 4 }]);
  assert.deepEqual(f8.sessionParams, ['FEC_ORDER=FEC_SRTP']);
  assert.equal(formatCryptoAttribute(f8), `crypto:2 F8_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4;inline:${KEY_B}|2^20|2:4 FEC_ORDER=FEC_SRTP`);
  assert.deepEqual(parsed(`3 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} KDR=0 WSH=128 -x-vendor`).sessionParams, ['KDR=0', 'WSH=128', '-x-vendor']);
});

test('malformed lines return null and never throw', () => {
  const bad = [
    '',
    'crypto:',
    'crypto:1',
    `crypto:1 AES_CM_128_HMAC_SHA1_80`,
    `crypto:x AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}`,
    `crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}`, // tag is at most 9 digits
    `crypto:1 AES-CM inline:${KEY_A}`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 ${KEY_A}`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 uri:${KEY_A}`,
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:',
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:not*base64!',
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD', // 3 bytes: wrong length for the suite
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}AAAA`, // 33 bytes
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^99`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|0`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|1:4|2^20`, // lifetime after MKI
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|1:0`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|1:129`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|1:4|2:4`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4|x`,
    `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A};`,
  ];
  for (const line of bad) assert.equal(parseCryptoAttribute(line), null, line);
  for (let n = 0; n < 200; n++) {
    const junk = `crypto:${n} ${String.fromCharCode(...Array.from({ length: n % 50 }, (_, i) => 32 + ((i * 31 + n) % 95)))}`;
    assert.doesNotThrow(() => parseCryptoAttribute(junk));
  }
});

test('generateCryptoAttribute: 30 random bytes, formats and parses back, keys split 16 + 14', () => {
  const a = generateCryptoAttribute(4, 'AES_CM_128_HMAC_SHA1_32');
  const b = generateCryptoAttribute(4, 'AES_CM_128_HMAC_SHA1_32');
  assert.equal(a.keyParams[0].keySalt.length, 30);
  assert.notDeepEqual(a.keyParams[0].keySalt, b.keyParams[0].keySalt);
  const line = formatCryptoAttribute(a);
  assert.match(line, /^crypto:4 AES_CM_128_HMAC_SHA1_32 inline:[A-Za-z0-9+/]{40}$/);
  assert.deepEqual(parseCryptoAttribute(line), a);
  const keys = cryptoKeys(a);
  assert.deepEqual(Buffer.concat([keys.masterKey, keys.masterSalt]), a.keyParams[0].keySalt);
  assert.equal(keys.masterKey.length, 16);
  assert.equal(keys.masterSalt.length, 14);
});

test('chooseCrypto: first supported suite in the offer order, not in our order', () => {
  const offer = [
    parsed(`1 AES_256_CM_HMAC_SHA1_80 inline:${KEY_A}${KEY_B.slice(0, 16)}`),
    parsed(`2 AES_CM_128_HMAC_SHA1_32 inline:${KEY_A}`),
    parsed(`3 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}`),
  ];
  assert.equal(chooseCrypto(offer, ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'])?.tag, 2);
  assert.equal(chooseCrypto(offer, ['AES_CM_128_HMAC_SHA1_80'])?.tag, 3);
  assert.equal(chooseCrypto(offer.slice(0, 1), ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']), null);
  assert.equal(chooseCrypto([], ['AES_CM_128_HMAC_SHA1_80']), null);
});

test('chooseCrypto skips lines we cannot honour: MKI, several keys, short lifetime, KDR, unencrypted, unknown params', () => {
  const supported = ['AES_CM_128_HMAC_SHA1_80'] as const;
  const skipped = [
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4;inline:${KEY_B}|2^20|2:4`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^10`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} KDR=1`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} UNENCRYPTED_SRTP`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} UNENCRYPTED_SRTCP`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} UNAUTHENTICATED_SRTP`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} FEC_ORDER=SRTP_FEC`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} FEC_KEY=inline:${KEY_B}`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} MYSTERY=1`,
  ];
  for (const line of skipped) {
    const honourable = parsed(`9 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}`);
    assert.equal(chooseCrypto([parsed(line), honourable], supported)?.tag, 9, line);
  }
  const accepted = [
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20`,
    `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^31 KDR=0 WSH=128 FEC_ORDER=FEC_SRTP -vendor-thing`,
  ];
  for (const line of accepted) assert.equal(chooseCrypto([parsed(line)], supported)?.tag, 1, line);
  assert.equal(chooseCrypto([parsed(`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20`)], supported, { minLifetime: 2 ** 31 }), null);
});

test('works on the attributes of a parsed SDP offer (getAttributes + parse + choose + answer)', () => {
  const sdp = parseSdp(
    [
      'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/SAVP 0',
      `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^20|1:4`,
      'a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:broken',
      `a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:${KEY_B}|2^31`,
      '',
    ].join('\r\n'),
  );
  const offered = getAttributes(sdp.media[0].attributes, 'crypto')
    .map(parseCryptoAttribute)
    .filter((a): a is CryptoAttribute => a !== null);
  assert.deepEqual(offered.map((a) => a.tag), [1, 3]);
  const chosen = chooseCrypto(offered, ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']);
  assert.equal(chosen?.tag, 3);
  assert.deepEqual(chosen && cryptoKeys(chosen).masterKey, Buffer.from(KEY_B, 'base64').subarray(0, 16));
  const answer = chosen && formatCryptoAttribute(generateCryptoAttribute(chosen.tag, chosen.suite));
  assert.match(answer ?? '', /^crypto:3 AES_CM_128_HMAC_SHA1_32 inline:/);
});
