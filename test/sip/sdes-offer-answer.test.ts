// SDES-SRTP (RFC 4568) in offer/answer: every row of the policy table, answering and offering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answerOffer, createOffer, readAnswerResult, type AnswerResult, type LocalMedia, type NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { offerCrypto, type NegotiatedSrtp, type SrtpPolicy } from '../../src/sip/sdes-negotiation.js';
import { cryptoKeys, parseCryptoAttribute } from '../../src/sip/sdp-crypto.js';
import { getAttributes, parseSdp } from '../../src/sip/sdp.js';
import { crlf } from '../helpers/sdp-offers.js';

const LOCAL = { address: '127.0.0.1', port: 40000, sessionId: '42', sessionVersion: 1 };
const KEY80 = randomBytes(30).toString('base64');
const KEY32 = randomBytes(30).toString('base64');
const CRYPTO = [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}`, `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}|2^31`];

function offer(protocol: string, crypto: string[] = [], extra: string[] = []): string {
  return crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', `m=audio 5000 ${protocol} 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', ...crypto, 'a=sendrecv', ...extra]);
}

function answer(r: AnswerResult): { answer: string; audio: NegotiatedAudio } {
  assert.ok(r.ok, `expected an answer, got ${r.ok ? '' : r.reason}`);
  return r;
}

function audioLine(sdp: string): { protocol: string; port: number; crypto: string[] } {
  const m = parseSdp(sdp).media[0];
  return { protocol: m.protocol, port: m.port, crypto: getAttributes(m.attributes, 'crypto') };
}

const local = (policy: SrtpPolicy, current: NegotiatedSrtp | null = null): LocalMedia => ({ ...LOCAL, srtp: { policy, current } });

test('RTP/SAVP with a=crypto is answered RTP/SAVP with our own fresh key under the first acceptable line (optional and required)', () => {
  for (const policy of ['optional', 'required'] as SrtpPolicy[]) {
    const { answer: sdp, audio } = answer(answerOffer(offer('RTP/SAVP', CRYPTO), local(policy)));
    const line = audioLine(sdp);
    assert.equal(line.protocol, 'RTP/SAVP');
    assert.equal(line.crypto.length, 1, 'exactly one crypto line in an answer (§7.1.2)');
    const ours = parseCryptoAttribute(line.crypto[0]);
    assert.ok(ours);
    assert.equal(ours.tag, 1);
    assert.equal(ours.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.notEqual(ours.keyParams[0].keySalt.toString('base64'), KEY80, 'we send with our own key, not the offerer\'s');
    assert.ok(audio.srtp);
    assert.equal(audio.srtp.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(audio.srtp.remote.keyParams[0].keySalt.toString('base64'), KEY80);
    assert.deepEqual(audio.srtp.local.keyParams[0].keySalt, ours.keyParams[0].keySalt);
  }
});

test('the offerer\'s order wins: _32 listed first is chosen, with its tag', () => {
  const reversed = [`a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}`, `a=crypto:8 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}`];
  const { answer: sdp, audio } = answer(answerOffer(offer('RTP/SAVP', reversed), local('optional')));
  assert.match(audioLine(sdp).crypto[0], /^7 AES_CM_128_HMAC_SHA1_32 inline:/);
  assert.equal(audio.srtp?.suite, 'AES_CM_128_HMAC_SHA1_32');
});

test('RTP/AVP with a=crypto (best-effort SRTP, baresip "mediaenc srtp") is answered RTP/AVP with a=crypto unless SRTP is off', () => {
  for (const policy of ['optional', 'required'] as SrtpPolicy[]) {
    const { answer: sdp, audio } = answer(answerOffer(offer('RTP/AVP', CRYPTO), local(policy)));
    assert.equal(audioLine(sdp).protocol, 'RTP/AVP');
    assert.equal(audioLine(sdp).crypto.length, 1);
    assert.equal(audio.srtp?.suite, 'AES_CM_128_HMAC_SHA1_80');
  }
  const { answer: sdp, audio } = answer(answerOffer(offer('RTP/AVP', CRYPTO), local('off')));
  assert.deepEqual(audioLine(sdp), { protocol: 'RTP/AVP', port: 40000, crypto: [] }, 'off: the crypto lines are ignored');
  assert.equal(audio.srtp, undefined);
});

test('plain RTP/AVP: plain when optional or off, 488 with Warning 302 when required', () => {
  for (const policy of ['optional', 'off'] as SrtpPolicy[]) {
    const { answer: sdp, audio } = answer(answerOffer(offer('RTP/AVP'), local(policy)));
    assert.deepEqual(audioLine(sdp).crypto, []);
    assert.equal(audio.srtp, undefined);
  }
  const r = answerOffer(offer('RTP/AVP'), local('required'));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.status, 488);
    assert.match(r.reason, /SRTP required/);
    assert.deepEqual(r.warning, { code: 302, text: 'Incompatible transport protocol' });
  }
});

test('SRTP off: an RTP/SAVP offer gets 488 with Warning 302', () => {
  const r = answerOffer(offer('RTP/SAVP', CRYPTO), local('off'));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.reason, /SRTP is off/);
    assert.equal(r.warning?.code, 302);
  }
});

test('RTP/SAVP without a usable a=crypto gets 488 with Warning 306; a usable alternative m-line is taken instead', () => {
  const unusable = ['a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:' + randomBytes(46).toString('base64'), `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}|2^20|1:4`];
  const r = answerOffer(offer('RTP/SAVP', unusable), local('required'));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.warning?.code, 306);
  // Two m-lines, SAVP then a plain alternative: with SRTP off the SAVP one is rejected (port 0).
  const twoLines = offer('RTP/SAVP', CRYPTO, ['m=audio 5002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000']);
  const { answer: sdp, audio } = answer(answerOffer(twoLines, local('off')));
  const media = parseSdp(sdp).media;
  assert.deepEqual(media.map((m) => [m.protocol, m.port]), [['RTP/SAVP', 0], ['RTP/AVP', 40000]]);
  assert.equal(audio.remotePort, 5002);
});

test('no policy given behaves as optional (what callers that know no policy get)', () => {
  const { audio } = answer(answerOffer(offer('RTP/SAVP', CRYPTO), LOCAL));
  assert.equal(audio.srtp?.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(answer(answerOffer(offer('RTP/AVP'), LOCAL)).audio.srtp, undefined);
});

test('re-INVITE: our key is kept while the suite stays (RFC 4568 §7.1.4), a new suite gets a new key', () => {
  const first = answer(answerOffer(offer('RTP/SAVP', CRYPTO), local('required'))).audio.srtp!;
  const again = answer(answerOffer(offer('RTP/SAVP', CRYPTO, ['a=sendonly']), local('required', first))).audio.srtp!;
  assert.deepEqual(again.local.keyParams[0].keySalt, first.local.keyParams[0].keySalt);
  const newKey = randomBytes(30).toString('base64');
  const rekeyed = answer(answerOffer(offer('RTP/SAVP', [`a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${newKey}`]), local('required', first))).audio.srtp!;
  assert.equal(rekeyed.local.tag, 3, 'the kept key answers under the new tag');
  assert.deepEqual(rekeyed.local.keyParams[0].keySalt, first.local.keyParams[0].keySalt);
  assert.equal(rekeyed.remote.keyParams[0].keySalt.toString('base64'), newKey, 'the peer\'s new key is read');
  const switched = answer(answerOffer(offer('RTP/SAVP', [`a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}`]), local('required', first))).audio.srtp!;
  assert.equal(switched.suite, 'AES_CM_128_HMAC_SHA1_32');
  assert.notDeepEqual(switched.local.keyParams[0].keySalt, first.local.keyParams[0].keySalt);
});

test('offers: required → RTP/SAVP, optional → RTP/AVP, both with _80 (tag 1) then _32 (tag 2); off → plain', () => {
  const expected: Record<SrtpPolicy, [string, number]> = { required: ['RTP/SAVP', 2], optional: ['RTP/AVP', 2], off: ['RTP/AVP', 0] };
  for (const policy of ['required', 'optional', 'off'] as SrtpPolicy[]) {
    const offered = offerCrypto(policy);
    const line = audioLine(createOffer({ ...LOCAL, srtp: { policy, offered } }));
    assert.deepEqual([line.protocol, line.crypto.length], expected[policy], policy);
    if (line.crypto.length) {
      assert.match(line.crypto[0], /^1 AES_CM_128_HMAC_SHA1_80 inline:/);
      assert.match(line.crypto[1], /^2 AES_CM_128_HMAC_SHA1_32 inline:/);
    }
  }
  assert.deepEqual(audioLine(createOffer(LOCAL)), { protocol: 'RTP/AVP', port: 40000, crypto: [] });
});

test('offer → answer → readAnswerResult: each side sends with its key and receives with the other\'s', () => {
  for (const [ours, theirs] of [['required', 'optional'], ['optional', 'required'], ['optional', 'optional']] as [SrtpPolicy, SrtpPolicy][]) {
    const offered = offerCrypto(ours);
    const sdp = createOffer({ ...LOCAL, srtp: { policy: ours, offered } });
    const answered = answer(answerOffer(sdp, { ...LOCAL, port: 50000, srtp: { policy: theirs } }));
    const read = readAnswerResult(answered.answer, { srtp: { policy: ours, offered } });
    assert.ok(read.ok);
    const offerer = read.audio.srtp!;
    const answerer = answered.audio.srtp!;
    assert.equal(offerer.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.deepEqual(cryptoKeys(offerer.local), cryptoKeys(answerer.remote));
    assert.deepEqual(cryptoKeys(offerer.remote), cryptoKeys(answerer.local));
  }
});

test('reading answers: no a=crypto is plain when optional and a failure when required; a tag or suite we did not offer fails', () => {
  const offered = offerCrypto('required');
  const plainAnswer = crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.2', 's=-', 'c=IN IP4 10.0.0.2', 't=0 0', 'm=audio 6000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000']);
  const required = readAnswerResult(plainAnswer, { srtp: { policy: 'required', offered } });
  assert.equal(required.ok, false);
  if (!required.ok) assert.match(required.reason, /SRTP required but the answer has no a=crypto/);
  const optional = readAnswerResult(plainAnswer, { srtp: { policy: 'optional', offered: offerCrypto('optional') } });
  assert.ok(optional.ok);
  assert.equal(optional.audio.srtp, undefined);
  const withCrypto = (line: string): string => crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.2', 's=-', 'c=IN IP4 10.0.0.2', 't=0 0', 'm=audio 6000 RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000', line]);
  const chose32 = readAnswerResult(withCrypto(`a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}`), { srtp: { policy: 'required', offered } });
  assert.ok(chose32.ok);
  assert.equal(chose32.audio.srtp?.suite, 'AES_CM_128_HMAC_SHA1_32');
  assert.equal(chose32.audio.srtp?.local, offered[1]);
  for (const bad of [`a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:${KEY80}`, `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY32}`]) {
    const r = readAnswerResult(withCrypto(bad), { srtp: { policy: 'optional', offered } });
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.match(r.reason, /does not match our offer/);
  }
});
