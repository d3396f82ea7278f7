import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeMp3, findFirstMpegFrame, id3v2Length, isMpegAudio, parseMpegFrameHeader } from '../../src/media/mp3.js';
import { AudioDecodeError } from '../../src/media/wav.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/audio/${name}`, import.meta.url));

/** Frequency (1 Hz resolution) with the most energy between lo and hi, by Goertzel over the middle of the clip. */
function dominantFrequency(x: Float32Array, rate: number, lo: number, hi: number): number {
  const win = x.subarray(Math.floor(x.length / 4), Math.floor((3 * x.length) / 4));
  let best = lo;
  let bestPower = -1;
  for (let f = lo; f <= hi; f += 1) {
    const coeff = 2 * Math.cos((2 * Math.PI * f) / rate);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < win.length; i++) {
      const s0 = win[i]! + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (power > bestPower) [best, bestPower] = [f, power];
  }
  return best;
}

const fixtures = [
  { file: 'tone-1000hz-1s-44k1-mono.mp3', rate: 44100, channels: 1, seconds: 1.0, freq: 1000, version: 1 },
  { file: 'tone-440hz-750ms-22k05-stereo-id3.mp3', rate: 22050, channels: 2, seconds: 0.75, freq: 440, version: 2 },
  { file: 'tone-300hz-500ms-8k-mono.mp3', rate: 8000, channels: 1, seconds: 0.5, freq: 300, version: 2.5 },
] as const;

for (const f of fixtures) {
  test(`decodeMp3: ${f.file} (MPEG-${f.version} Layer III) has the right rate, channels, duration and tone`, async () => {
    const bytes = fixture(f.file);
    assert.ok(isMpegAudio(bytes));
    const header = findFirstMpegFrame(bytes);
    assert.deepEqual(header, { version: f.version, layer: 3, sampleRate: f.rate, channels: f.channels });
    const out = await decodeMp3(bytes);
    assert.equal(out.sampleRate, f.rate);
    assert.equal(out.channels, f.channels);
    assert.equal(out.samples.length, f.channels);
    const seconds = out.samples[0]!.length / out.sampleRate;
    assert.ok(Math.abs(seconds - f.seconds) <= 0.03, `duration ${seconds}s, expected ${f.seconds}s ±30 ms`);
    for (const ch of out.samples) {
      const found = dominantFrequency(ch, f.rate, 100, Math.min(4000, f.rate / 2 - 100));
      assert.ok(Math.abs(found - f.freq) <= 3, `dominant frequency ${found} Hz, expected ${f.freq}`);
    }
  });
}

test('ID3v2 tags are measured and skipped when looking for the first frame', () => {
  const bytes = fixture('tone-440hz-750ms-22k05-stereo-id3.mp3');
  const tag = id3v2Length(bytes);
  assert.ok(tag > 10);
  assert.equal(bytes[tag], 0xff);
  assert.equal(id3v2Length(fixture('tone-1000hz-1s-44k1-mono.mp3')), 0);
});

test('parseMpegFrameHeader rejects reserved version, layer, bitrate and rate values', () => {
  const valid = Buffer.from([0xff, 0xfb, 0x50, 0xc4]); // MPEG-1 L3 64 kbit/s 44.1 kHz mono
  assert.deepEqual(parseMpegFrameHeader(valid, 0), { version: 1, layer: 3, sampleRate: 44100, channels: 1 });
  assert.equal(parseMpegFrameHeader(Buffer.from([0xff, 0xeb, 0x50, 0xc4]), 0), undefined); // version 01
  assert.equal(parseMpegFrameHeader(Buffer.from([0xff, 0xf9, 0x50, 0xc4]), 0), undefined); // layer 00
  assert.equal(parseMpegFrameHeader(Buffer.from([0xff, 0xfb, 0xf0, 0xc4]), 0), undefined); // bitrate 1111
  assert.equal(parseMpegFrameHeader(Buffer.from([0xff, 0xfb, 0x5c, 0xc4]), 0), undefined); // rate 11
  assert.equal(parseMpegFrameHeader(Buffer.from([0xfe, 0xfb, 0x50, 0xc4]), 0), undefined); // no sync
  assert.equal(parseMpegFrameHeader(valid, 1), undefined); // not enough bytes
});

test('decodeMp3: bytes without MPEG frames → AudioDecodeError corrupt', async () => {
  await assert.rejects(decodeMp3(Buffer.from('definitely not an mp3 file, just text')), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError);
    assert.equal(err.code, 'corrupt');
    return true;
  });
});
