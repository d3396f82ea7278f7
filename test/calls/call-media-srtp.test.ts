// CallMedia's SRTP across offer/answer rounds (RFC 4568 §7.1.4): the agreed keys become the RTP
// session's transform; a re-INVITE with the same keys keeps it (and its ROC/replay state), a new key
// replaces it, a description without SRTP never downgrades a secure call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortAllocator } from '../../src/media/port-allocator.js';
import { RtpSession } from '../../src/media/rtp-session.js';
import { CallMedia } from '../../src/calls/call-media.js';
import { generateCryptoAttribute } from '../../src/sip/sdp-crypto.js';
import type { NegotiatedAudio } from '../../src/sip/offer-answer.js';
import type { NegotiatedSrtp } from '../../src/sip/sdes-negotiation.js';
import { manualClock } from '../media/rtp-phone.js';

const ports = new PortAllocator(47600, 47699);
const events = { digit: () => undefined, keyDown: () => undefined, sent: () => undefined };

function audio(srtp: NegotiatedSrtp | null, extra: Partial<NegotiatedAudio> = {}): NegotiatedAudio {
  return { remoteAddress: '127.0.0.1', remotePort: 9, codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: null, ptime: 20, direction: 'sendrecv', ...(srtp ? { srtp } : {}), ...extra };
}

function agreed(suite: NegotiatedSrtp['suite'] = 'AES_CM_128_HMAC_SHA1_80'): NegotiatedSrtp {
  return { suite, local: generateCryptoAttribute(1, suite), remote: generateCryptoAttribute(1, suite) };
}

test('keys in force are kept across re-INVITEs; a new key or suite starts new contexts; no downgrade to plain RTP', async () => {
  const { clock } = manualClock();
  const rtp = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const media = new CallMedia(rtp, audio(null), events, 'required');
  try {
    assert.equal(rtp.srtp, null, 'plain until keys are agreed');
    assert.equal(media.srtpSuite, null);
    const first = agreed();
    media.configure(audio(first));
    const transform = rtp.srtp;
    assert.ok(transform);
    assert.equal(media.srtpSuite, 'AES_CM_128_HMAC_SHA1_80');
    assert.deepEqual(media.localSrtp, { policy: 'required', current: first }, 'what a re-INVITE is answered with');

    // Hold: same keys (a new tag is fine), other direction: same contexts.
    media.configure(audio({ ...first, local: { ...first.local, tag: 4 } }, { direction: 'sendonly' }));
    assert.equal(rtp.srtp, transform);

    // The peer re-keys: new contexts.
    const rekeyed = { ...first, remote: generateCryptoAttribute(1, 'AES_CM_128_HMAC_SHA1_80') };
    media.configure(audio(rekeyed));
    assert.notEqual(rtp.srtp, transform);
    const second = rtp.srtp;

    // A later description without SRTP leaves the media encrypted.
    media.configure(audio(null));
    assert.equal(rtp.srtp, second);
    assert.equal(media.srtpSuite, 'AES_CM_128_HMAC_SHA1_80');

    media.configure(audio(agreed('AES_CM_128_HMAC_SHA1_32')));
    const now = (): { profile: string } | null => rtp.srtp; // read again: asserts above narrowed rtp.srtp
    assert.equal(now()?.profile, 'AES_CM_128_HMAC_SHA1_32');
  } finally {
    await media.close();
  }
});
