// RFC 3264 offer/answer for G.711 audio: codec choice, telephone-event, hold, rejected streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerOffer, createOffer, readAnswer, type AnswerResult, type NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { parseSdp, SdpParseError } from '../../src/sip/sdp.js';

import { BARESIP_OFFER, crlf } from '../helpers/sdp-offers.js';
const LOCAL = { address: '127.0.0.1', port: 40000, sessionId: '42', sessionVersion: 1 };

/** An offer with a session header and the given media section lines. */
function offer(media: string[], session: string[] = []): string {
  return crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', ...session, ...media]);
}

function accepted(r: AnswerResult): { answer: string; audio: NegotiatedAudio } {
  assert.ok(r.ok, `expected an answer, got ${r.ok ? '' : r.reason}`);
  return r;
}


test('answers baresip\'s offer with PCMU and telephone-event', () => {
  const { answer, audio } = accepted(answerOffer(BARESIP_OFFER, LOCAL));
  assert.deepEqual(audio, {
    remoteAddress: '192.0.2.2',
    remotePort: 21038,
    codec: 'PCMU',
    payloadType: 0,
    telephoneEventPayloadType: 101,
    ptime: 20,
    direction: 'sendrecv',
  });
  assert.equal(
    answer,
    crlf([
      'v=0',
      'o=- 42 1 IN IP4 127.0.0.1',
      's=patchbay',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 40000 RTP/AVP 0 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
    ]),
  );
});

test('answers SIPp\'s PCMA offer, keeping its telephone-event payload type', () => {
  const sipp = offer(['m=audio 6000 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-11,16']);
  const { audio } = accepted(answerOffer(sipp, LOCAL));
  assert.equal(audio.codec, 'PCMA');
  assert.equal(audio.payloadType, 8);
  assert.equal(audio.telephoneEventPayloadType, 101);
  assert.equal(audio.remoteAddress, '10.0.0.1');
});

test('codec choice follows the offer\'s order among the codecs we accept', () => {
  const both = offer(['m=audio 5000 RTP/AVP 8 0']);
  assert.equal(accepted(answerOffer(both, LOCAL)).audio.codec, 'PCMA');
  assert.equal(accepted(answerOffer(both, { ...LOCAL, codecs: ['PCMU'] })).audio.codec, 'PCMU');
  // Unsupported codecs ahead of ours are skipped; static PTs need no rtpmap (RFC 3551).
  const g722first = offer(['m=audio 5000 RTP/AVP 9 18 0', 'a=rtpmap:9 G722/8000', 'a=rtpmap:18 G729/8000']);
  const r = accepted(answerOffer(g722first, LOCAL));
  assert.equal(r.audio.payloadType, 0);
  assert.match(r.answer, /^m=audio 40000 RTP\/AVP 0\r$/m);
  assert.equal(r.audio.telephoneEventPayloadType, null);
  assert.doesNotMatch(r.answer, /telephone-event/);
});

test('dynamic payload types are read from rtpmap, with clock rate and channels checked', () => {
  const dyn = offer([
    'm=audio 5000 RTP/AVP 97 96 98 100',
    'a=rtpmap:97 PCMU/16000',
    'a=rtpmap:96 PCMA/8000/2',
    'a=rtpmap:98 pcmu/8000',
    'a=rtpmap:100 telephone-event/48000',
  ]);
  const { audio, answer } = accepted(answerOffer(dyn, LOCAL));
  assert.equal(audio.codec, 'PCMU');
  assert.equal(audio.payloadType, 98);
  assert.equal(audio.telephoneEventPayloadType, null); // 48 kHz events do not match 8 kHz audio
  assert.match(answer, /a=rtpmap:98 PCMU\/8000/);
});

test('telephone-event uses the offer\'s dynamic payload type', () => {
  const te = offer(['m=audio 5000 RTP/AVP 0 96', 'a=rtpmap:96 telephone-event/8000', 'a=fmtp:96 0-15']);
  const { audio, answer } = accepted(answerOffer(te, LOCAL));
  assert.equal(audio.telephoneEventPayloadType, 96);
  assert.match(answer, /^m=audio 40000 RTP\/AVP 0 96\r$/m);
  assert.match(answer, /a=fmtp:96 0-16/);
});

test('488 when nothing is acceptable', () => {
  const cases: [string, RegExp][] = [
    [offer(['m=audio 5000 RTP/AVP 9 18', 'a=rtpmap:9 G722/8000']), /No common codec/],
    [offer(['m=video 5000 RTP/AVP 96']), /No acceptable audio stream/],
    [offer(['m=audio 5000 RTP/SAVP 0']), /No acceptable a=crypto/],
    [offer(['m=audio 0 RTP/AVP 0']), /No acceptable audio stream/],
    [offer([]), /No acceptable audio stream/],
    ['this is not sdp', /Unparseable SDP/],
  ];
  for (const [o, reason] of cases) {
    const r = answerOffer(o, LOCAL);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.status, 488);
      assert.match(r.reason, reason);
    }
  }
  assert.equal(answerOffer(offer(['m=audio 5000 RTP/AVP 0']), { ...LOCAL, codecs: ['PCMA'] }).ok, false);
});

test('hold and resume: every way the offerer can say it', () => {
  const dir = (media: string[], session: string[] = []) => accepted(answerOffer(offer(media, session), LOCAL));
  const base = ['m=audio 5000 RTP/AVP 0'];
  assert.equal(dir([...base, 'a=sendonly']).audio.direction, 'recvonly');
  assert.match(dir([...base, 'a=sendonly']).answer, /a=recvonly/);
  assert.equal(dir([...base, 'a=inactive']).audio.direction, 'inactive');
  assert.equal(dir([...base, 'a=recvonly']).audio.direction, 'sendonly');
  assert.equal(dir(base, ['a=sendonly']).audio.direction, 'recvonly'); // session-level attribute
  assert.equal(dir([...base, 'a=sendrecv'], ['a=sendonly']).audio.direction, 'sendrecv'); // media level wins
  // RFC 2543 hold: c=0.0.0.0 means "do not send to me".
  const legacy = accepted(answerOffer(offer([...base, 'c=IN IP4 0.0.0.0']), LOCAL));
  assert.equal(legacy.audio.direction, 'recvonly');
  assert.equal(legacy.audio.remoteAddress, '0.0.0.0');
  const legacyInactive = accepted(answerOffer(offer([...base, 'c=IN IP4 0.0.0.0', 'a=recvonly']), LOCAL));
  assert.equal(legacyInactive.audio.direction, 'inactive');
});

test('a re-INVITE with a new address and port gives the new remote', () => {
  const first = accepted(answerOffer(offer(['m=audio 5000 RTP/AVP 0']), LOCAL)).audio;
  const moved = offer(['m=audio 6002 RTP/AVP 0', 'c=IN IP4 10.0.0.99']);
  const second = accepted(answerOffer(moved, { ...LOCAL, sessionVersion: 2 }));
  assert.deepEqual([first.remoteAddress, first.remotePort], ['10.0.0.1', 5000]);
  assert.deepEqual([second.audio.remoteAddress, second.audio.remotePort], ['10.0.0.99', 6002]);
  assert.match(second.answer, /^o=- 42 2 IN IP4 127.0.0.1\r$/m);
});

test('every offered m-line is answered in order; all but the chosen audio get port 0', () => {
  const multi = offer([
    'm=audio 0 RTP/AVP 0', // already rejected stream: stays rejected
    'm=video 5002 RTP/AVP 96',
    'a=rtpmap:96 VP8/90000',
    'm=audio 5004 RTP/AVP 8',
    'm=audio 5006 RTP/AVP 0',
  ]);
  const r = accepted(answerOffer(multi, LOCAL));
  const media = parseSdp(r.answer).media;
  assert.deepEqual(
    media.map((m) => [m.type, m.port, m.formats.join(' ')]),
    [
      ['audio', 0, '0'],
      ['video', 0, '96'],
      ['audio', 40000, '8'],
      ['audio', 0, '0'],
    ],
  );
  assert.deepEqual(media[1].attributes, []);
  assert.equal(r.audio.remotePort, 5004);
});

test('IPv6 answers use IP6 address types', () => {
  const r = accepted(answerOffer(offer(['m=audio 5000 RTP/AVP 0', 'c=IN IP6 ::1']), { ...LOCAL, address: '::1' }));
  assert.match(r.answer, /^c=IN IP6 ::1\r$/m);
  assert.equal(r.audio.remoteAddress, '::1');
});

test('createOffer → answerOffer → readAnswer agree', () => {
  const ours = createOffer({ ...LOCAL, codecs: ['PCMA', 'PCMU'] });
  assert.match(ours, /^m=audio 40000 RTP\/AVP 8 0 101\r$/m);
  const theirs = accepted(answerOffer(ours, { address: '127.0.0.2', port: 50000, sessionId: '7', sessionVersion: 1 }));
  assert.equal(theirs.audio.codec, 'PCMA');
  assert.deepEqual(readAnswer(theirs.answer), {
    remoteAddress: '127.0.0.2',
    remotePort: 50000,
    codec: 'PCMA',
    payloadType: 8,
    telephoneEventPayloadType: 101,
    ptime: 20,
    direction: 'sendrecv',
  });
  // Our hold offer (sendonly) is answered recvonly, which reads back as our sendonly.
  const hold = createOffer({ ...LOCAL, direction: 'sendonly' });
  const held = accepted(answerOffer(hold, LOCAL));
  assert.equal(held.audio.direction, 'recvonly');
  assert.equal(readAnswer(held.answer)?.direction, 'sendonly');
});

test('readAnswer: rejected audio or foreign codec → null; garbage throws', () => {
  const answer = (media: string[]) => offer(media);
  assert.equal(readAnswer(answer(['m=audio 0 RTP/AVP 0'])), null);
  assert.equal(readAnswer(answer(['m=audio 5000 RTP/AVP 9'])), null);
  assert.equal(readAnswer(answer(['m=audio 5000 RTP/AVP 0']), ['PCMA']), null);
  assert.equal(readAnswer(answer(['m=audio 5000 RTP/AVP 0', 'a=inactive']))?.direction, 'inactive');
  assert.throws(() => readAnswer('garbage'), SdpParseError);
});
