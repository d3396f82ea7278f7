// Offer/answer inputs the fuzzer (test/fuzz) found problems with; each test is one finding, kept minimal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerOffer, readAnswer } from '../../src/sip/offer-answer.js';

const LOCAL = { address: '127.0.0.1', port: 40000, sessionId: '1', sessionVersion: 1 };
const offer = (ptime: string): string =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', `a=ptime:${ptime}`].join('\r\n') + '\r\n';

// Fuzz: offer-answer seed=1 iteration 4156: a=ptime with 400 digits negotiated ptime = Infinity.
test('an absurd a=ptime (Infinity, beyond 1 s) falls back to 20 ms', () => {
  for (const ptime of ['9'.repeat(400), '5000']) {
    const r = answerOffer(offer(ptime), LOCAL);
    assert.ok(r.ok);
    assert.equal(r.audio.ptime, 20, ptime.slice(0, 10));
    assert.equal(readAnswer(offer(ptime))?.ptime, 20);
  }
});

test('a sensible a=ptime is still honoured', () => {
  const r = answerOffer(offer('30'), LOCAL);
  assert.ok(r.ok);
  assert.equal(r.audio.ptime, 30);
});
