// Twilio Media Streams messages: exact bytes of every outbound frame, counters, and every parser error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MediaStreamEncoder,
  MediaStreamEncoderError,
  connectedMessage,
  parseAppMessage,
  type MediaStreamStartInfo,
  type AppMessage,
} from '../../src/streams/media-stream-messages.js';
import { linearToMulaw, mulawToLinear } from '../../src/media/g711.js';

const SID = 'MZ00000000000000000000000000000001';
const ACC = 'AC00000000000000000000000000000002';
const CALL = 'CA00000000000000000000000000000003';

function info(over: Partial<MediaStreamStartInfo> = {}): MediaStreamStartInfo {
  return { streamSid: SID, accountSid: ACC, callSid: CALL, tracks: ['inbound'], customParameters: {}, ...over };
}

test('connected: exact bytes, no streamSid or sequenceNumber', () => {
  assert.equal(connectedMessage(), '{"event":"connected","protocol":"Call","version":"1.0.0"}');
  assert.equal(new MediaStreamEncoder(info()).connected(), connectedMessage());
});

test('start: exact bytes, sequenceNumber "1", numbers for sampleRate/channels, parameters in order', () => {
  const enc = new MediaStreamEncoder(
    info({ tracks: ['inbound', 'outbound'], customParameters: [['2', 'b'], ['1', 'a "q"']] }),
  );
  enc.connected();
  assert.equal(
    enc.start(),
    `{"event":"start","sequenceNumber":"1","streamSid":"${SID}","start":{"streamSid":"${SID}",` +
      `"accountSid":"${ACC}","callSid":"${CALL}","tracks":["inbound","outbound"],` +
      `"customParameters":{"2":"b","1":"a \\"q\\""},` +
      `"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`,
  );
  const parsed = JSON.parse(new MediaStreamEncoder(info({ customParameters: { k: 'v' } })).start());
  assert.deepEqual(parsed.start.customParameters, { k: 'v' });
  assert.equal(parsed.start.mediaFormat.sampleRate, 8000);
});

test('media, dtmf, mark, stop: exact bytes and string counters', () => {
  const enc = new MediaStreamEncoder(info());
  enc.start();
  assert.equal(
    enc.media('inbound', 0, Uint8Array.from([0xff, 0x7f, 0x00])),
    `{"event":"media","sequenceNumber":"2","streamSid":"${SID}","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"/38A"}}`,
  );
  assert.equal(
    enc.dtmf('#'),
    `{"event":"dtmf","streamSid":"${SID}","sequenceNumber":"3","dtmf":{"track":"inbound_track","digit":"#"}}`,
  );
  assert.equal(
    enc.mark('my label'),
    `{"event":"mark","sequenceNumber":"4","streamSid":"${SID}","mark":{"name":"my label"}}`,
  );
  assert.equal(enc.mark(undefined), `{"event":"mark","sequenceNumber":"5","streamSid":"${SID}","mark":{}}`);
  assert.equal(
    enc.stop(),
    `{"event":"stop","sequenceNumber":"6","streamSid":"${SID}","stop":{"accountSid":"${ACC}","callSid":"${CALL}"}}`,
  );
  assert.equal(enc.sequenceNumber, 6);
});

test('media: payload view of a larger buffer encodes only the view', () => {
  const enc = new MediaStreamEncoder(info());
  enc.start();
  const big = Buffer.from([1, 2, 3, 4, 5, 6]);
  const msg = JSON.parse(enc.media('inbound', 20, big.subarray(2, 4)));
  assert.deepEqual([...Buffer.from(msg.media.payload, 'base64')], [3, 4]);
});

test('sequence counts every message; chunks count per track from 1', () => {
  const enc = new MediaStreamEncoder(info({ tracks: ['inbound', 'outbound'] }));
  enc.connected();
  enc.start();
  const frame = new Uint8Array(160).fill(0xff);
  const seen: [string, string, string, string][] = [];
  for (let i = 0; i < 3; i++) {
    for (const track of ['inbound', 'outbound'] as const) {
      const m = JSON.parse(enc.media(track, i * 20, frame));
      seen.push([m.sequenceNumber, m.media.track, m.media.chunk, m.media.timestamp]);
      assert.equal(m.media.payload.length, 216); // 160 bytes → 216 base64 chars (reference §6.1)
    }
  }
  assert.deepEqual(seen, [
    ['2', 'inbound', '1', '0'],
    ['3', 'outbound', '1', '0'],
    ['4', 'inbound', '2', '20'],
    ['5', 'outbound', '2', '20'],
    ['6', 'inbound', '3', '40'],
    ['7', 'outbound', '3', '40'],
  ]);
  assert.equal(JSON.parse(enc.dtmf('5')).sequenceNumber, '8');
  assert.equal(JSON.parse(enc.media('inbound', 60, frame)).media.chunk, '4');
});

test('encoder refuses misuse with typed errors', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof MediaStreamEncoderError);
      return e.code;
    }
    return 'none';
  };
  const enc = new MediaStreamEncoder(info());
  assert.equal(code(() => enc.media('inbound', 0, new Uint8Array(1))), 'NOT_STARTED');
  assert.equal(code(() => enc.dtmf('1')), 'NOT_STARTED');
  enc.start();
  assert.equal(code(() => enc.start()), 'ALREADY_STARTED');
  assert.equal(code(() => enc.connected()), 'ALREADY_STARTED');
  assert.equal(code(() => enc.media('outbound', 0, new Uint8Array(1))), 'BAD_TRACK');
  assert.equal(code(() => enc.media('inbound', -1, new Uint8Array(1))), 'BAD_TIMESTAMP');
  assert.equal(code(() => enc.media('inbound', 1.5, new Uint8Array(1))), 'BAD_TIMESTAMP');
  assert.equal(enc.sequenceNumber, 1, 'refused messages consume no sequence number');
  enc.stop();
  assert.equal(code(() => enc.mark('x')), 'STOPPED');
  assert.equal(code(() => enc.stop()), 'STOPPED');
});

function ok(raw: string | Buffer, expectedStreamSid?: string): AppMessage {
  const r = parseAppMessage(raw, { expectedStreamSid });
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.message;
}

function err(raw: string | Buffer, opts: { expectedStreamSid?: string; maxBytes?: number } = {}): string {
  const r = parseAppMessage(raw, opts);
  assert.ok(!r.ok, 'expected an error');
  assert.equal(r.error.twilioCode, 31951);
  return r.error.code;
}

test('parse: media, mark (with and without name), clear', () => {
  const m = ok(`{"event":"media","streamSid":"${SID}","media":{"payload":"/38A"}}`, SID);
  assert.equal(m.event, 'media');
  if (m.event === 'media') assert.deepEqual([...m.payload], [0xff, 0x7f, 0x00]);
  assert.deepEqual(ok(`{"event":"mark","streamSid":"${SID}","mark":{"name":"x"}}`), { event: 'mark', streamSid: SID, name: 'x' });
  assert.deepEqual(ok(`{"event":"mark","streamSid":"${SID}","mark":{}}`), { event: 'mark', streamSid: SID, name: undefined });
  assert.deepEqual(ok(`{"event":"mark","streamSid":"${SID}"}`), { event: 'mark', streamSid: SID, name: undefined });
  assert.deepEqual(ok(Buffer.from(`{"event":"clear","streamSid":"${SID}"}`), SID), { event: 'clear', streamSid: SID });
  // A missing streamSid is tolerated even when one is expected.
  assert.deepEqual(ok('{"event":"clear"}', SID), { event: 'clear', streamSid: undefined });
  // Unpadded base64 and an empty payload are accepted; any length is allowed.
  const unpadded = ok('{"event":"media","media":{"payload":"AAE"}}');
  if (unpadded.event === 'media') assert.deepEqual([...unpadded.payload], [0, 1]);
  const empty = ok('{"event":"media","media":{"payload":""}}');
  if (empty.event === 'media') assert.equal(empty.payload.length, 0);
});

test('parse: every error case is a typed result, never a throw', () => {
  assert.equal(err('{"event":'), 'BAD_JSON');
  assert.equal(err(''), 'BAD_JSON');
  assert.equal(err('[1]'), 'NOT_OBJECT');
  assert.equal(err('null'), 'NOT_OBJECT');
  assert.equal(err('"media"'), 'NOT_OBJECT');
  assert.equal(err('{"streamSid":"x"}'), 'MISSING_FIELD');
  assert.equal(err('{"event":7}'), 'MISSING_FIELD');
  assert.equal(err('{"event":"sendDigits"}'), 'UNKNOWN_EVENT');
  assert.equal(err('{"event":"start"}'), 'UNKNOWN_EVENT');
  assert.equal(err('{"event":"clear","streamSid":5}'), 'BAD_FIELD_TYPE');
  assert.equal(err('{"event":"clear","streamSid":"MZother"}', { expectedStreamSid: SID }), 'WRONG_STREAM_SID');
  assert.equal(err('{"event":"media"}'), 'MISSING_FIELD');
  assert.equal(err('{"event":"media","media":{}}'), 'MISSING_FIELD');
  assert.equal(err('{"event":"media","media":{"payload":42}}'), 'MISSING_FIELD');
  assert.equal(err('{"event":"media","media":"abc"}'), 'MISSING_FIELD');
  for (const bad of ['@@@@', 'AA A', 'AAAAA', 'A===', 'AAAAA==', 'AA==AA==', 'AB\\nCD', '-_-_']) {
    assert.equal(err(`{"event":"media","media":{"payload":"${bad}"}}`), 'INVALID_BASE64', bad);
  }
  assert.equal(err('{"event":"mark","mark":"x"}'), 'BAD_FIELD_TYPE');
  assert.equal(err('{"event":"mark","mark":{"name":3}}'), 'BAD_FIELD_TYPE');
  const big = `{"event":"media","media":{"payload":"${'A'.repeat(1024 * 1024)}"}}`;
  assert.equal(err(big), 'TOO_LARGE');
  assert.equal(err('{"event":"clear"}', { maxBytes: 10 }), 'TOO_LARGE');
  // Multi-byte UTF-8 counts in bytes, not characters.
  assert.equal(err(`{"event":"mark","mark":{"name":"${'é'.repeat(6)}"}}`, { maxBytes: 40 }), 'TOO_LARGE');
});

test('µ-law round trip: PCM → µ-law → media message → parser → the same bytes', () => {
  const mulaw = new Uint8Array(8000); // one second, every code value many times over
  for (let i = 0; i < mulaw.length; i++) mulaw[i] = linearToMulaw(Math.round(Math.sin(i / 7) * 12000));
  for (let i = 0; i < 256; i++) mulaw[i] = i;
  const enc = new MediaStreamEncoder(info());
  enc.start();
  const out = JSON.parse(enc.media('inbound', 0, mulaw));
  // Re-send the platform's payload as if the app echoed it.
  const back = ok(JSON.stringify({ event: 'media', streamSid: SID, media: { payload: out.media.payload } }), SID);
  assert.equal(back.event, 'media');
  if (back.event !== 'media') return;
  assert.deepEqual(new Uint8Array(back.payload), mulaw);
  assert.equal(mulawToLinear(back.payload[300]!), mulawToLinear(mulaw[300]!));
});
