import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeToTelephony, sniffAudioFormat, toTelephonyPcm } from '../../src/media/audio-decoder.js';
import { AudioDecodeError, encodeWav } from '../../src/media/wav.js';
import { linearToMulaw } from '../../src/media/g711.js';

/** 16-bit interleaved stereo WAV built by hand (encodeWav only writes mono). */
function stereoWav(left: Float32Array, right: Float32Array, rate: number): Buffer {
  const wav = Buffer.alloc(44 + left.length * 4);
  wav.write('RIFF', 0, 'latin1');
  wav.writeUInt32LE(wav.length - 8, 4);
  wav.write('WAVEfmt ', 8, 'latin1');
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(2, 22);
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 4, 28);
  wav.writeUInt16LE(4, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36, 'latin1');
  wav.writeUInt32LE(left.length * 4, 40);
  for (let i = 0; i < left.length; i++) {
    wav.writeInt16LE(Math.round(left[i]! * 32767), 44 + i * 4);
    wav.writeInt16LE(Math.round(right[i]! * 32767), 46 + i * 4);
  }
  return wav;
}

function rms(x: Int16Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i]! / 32768) ** 2;
  return Math.sqrt(s / (to - from));
}

test('a stereo 44.1 kHz WAV becomes 8 kHz mono of the right length, averaged across channels', async () => {
  const n = 44100 * 2; // 2 s
  const left = Float32Array.from({ length: n }, (_, i) => 0.6 * Math.sin((2 * Math.PI * 1000 * i) / 44100));
  const right = new Float32Array(n); // silent: the mono mix is half the left channel
  const pcm = await decodeToTelephony(stereoWav(left, right, 44100), 'audio/wav');
  assert.ok(pcm instanceof Int16Array);
  assert.equal(pcm.length, 16000);
  const level = rms(pcm, 1000, 15000);
  assert.ok(Math.abs(level - 0.3 / Math.SQRT2) < 0.01, `rms ${level}`);
});

test('clip edges fade in and out over ~2 ms so playback does not click', async () => {
  const dc = new Int16Array(800).fill(16000); // 100 ms of a constant level at 8 kHz
  const pcm = await decodeToTelephony(encodeWav(dc, 8000));
  assert.equal(pcm.length, 800);
  assert.ok(Math.abs(pcm[0]!) < 200, `first sample ${pcm[0]}`);
  assert.ok(Math.abs(pcm[799]!) < 200, `last sample ${pcm[799]}`);
  assert.ok(pcm[4]! < pcm[8]! && pcm[8]! < pcm[12]!, 'rises monotonically');
  assert.ok(Math.abs(pcm[16]! - 16000) <= 1, `full level after 2 ms (${pcm[16]})`);
  assert.ok(Math.abs(pcm[400]! - 16000) <= 1);
});

test('toTelephonyPcm clips instead of wrapping around', () => {
  const pcm = toTelephonyPcm(Float32Array.from({ length: 64 }, (_, i) => (i % 2 ? 3 : -3)));
  assert.equal(pcm[32], -32768);
  assert.equal(pcm[33], 32767);
});

test('format is sniffed from magic bytes before the declared Content-Type', async () => {
  const mp3 = readFileSync(new URL('../fixtures/audio/tone-1000hz-1s-44k1-mono.mp3', import.meta.url));
  const wav = encodeWav(new Int16Array(100), 8000);
  assert.equal(sniffAudioFormat(mp3, 'application/octet-stream'), 'mp3');
  assert.equal(sniffAudioFormat(wav, 'audio/mpeg'), 'wav');
  assert.equal(sniffAudioFormat(Buffer.from([1, 2, 3]), 'audio/x-wav; charset=binary'), 'wav');
  assert.equal(sniffAudioFormat(Buffer.from([1, 2, 3]), 'Audio/MPEG'), 'mp3');
  assert.equal(sniffAudioFormat(Buffer.from([1, 2, 3]), 'audio/ulaw'), 'ulaw');
  assert.equal(sniffAudioFormat(Buffer.from([1, 2, 3]), 'text/html'), undefined);
  assert.equal(sniffAudioFormat(Buffer.from([1, 2, 3])), undefined);
  const fromMp3 = await decodeToTelephony(mp3, 'application/octet-stream');
  assert.ok(Math.abs(fromMp3.length - 8000) <= 240, `mp3 → ${fromMp3.length} samples`);
});

test('headerless µ-law (audio/ulaw) plays as 8 kHz', async () => {
  const bytes = Buffer.from(Array.from({ length: 400 }, (_, i) => linearToMulaw(Math.round(8000 * Math.sin((2 * Math.PI * 500 * i) / 8000)))));
  const pcm = await decodeToTelephony(bytes, 'audio/ulaw');
  assert.equal(pcm.length, 400);
  assert.ok(Math.abs(rms(pcm, 50, 350) - 8000 / 32768 / Math.SQRT2) < 0.01);
});

test('unrecognised bytes → AudioDecodeError unsupported-format', async () => {
  await assert.rejects(decodeToTelephony(Buffer.from('<html>oops</html>'), 'text/html'), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError);
    assert.equal(err.code, 'unsupported-format');
    assert.match(err.message, /text\/html/);
    return true;
  });
});
