import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioDecodeError, decodeWav, encodeWav, isWav } from '../../src/media/wav.js';
import { linearToAlaw, linearToMulaw } from '../../src/media/g711.js';

type Encoding = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64' | 'ulaw' | 'alaw';

const TAGS: Record<Encoding, number> = { u8: 1, s16: 1, s24: 1, s32: 1, f32: 3, f64: 3, ulaw: 7, alaw: 6 };
const BITS: Record<Encoding, number> = { u8: 8, s16: 16, s24: 24, s32: 32, f32: 32, f64: 64, ulaw: 8, alaw: 8 };

function encodeSample(enc: Encoding, v: number): Buffer {
  const b = Buffer.alloc(BITS[enc] / 8);
  const int16 = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
  switch (enc) {
    case 'u8': b[0] = Math.round(v * 127) + 128; break;
    case 's16': b.writeInt16LE(int16); break;
    case 's24': b.writeIntLE(Math.round(v * 8388607), 0, 3); break;
    case 's32': b.writeInt32LE(Math.round(v * 2147483647)); break;
    case 'f32': b.writeFloatLE(v); break;
    case 'f64': b.writeDoubleLE(v); break;
    case 'ulaw': b[0] = linearToMulaw(int16); break;
    case 'alaw': b[0] = linearToAlaw(int16); break;
  }
  return b;
}

function chunk(id: string, body: Buffer, sizeOverride?: number): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(sizeOverride ?? body.length, 4);
  return Buffer.concat([head, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmtChunk(enc: Encoding, channels: number, rate: number, extensible = false): Buffer {
  const bits = BITS[enc];
  const f = Buffer.alloc(extensible ? 40 : 16);
  f.writeUInt16LE(extensible ? 0xfffe : TAGS[enc], 0);
  f.writeUInt16LE(channels, 2);
  f.writeUInt32LE(rate, 4);
  f.writeUInt32LE((rate * channels * bits) / 8, 8);
  f.writeUInt16LE((channels * bits) / 8, 12);
  f.writeUInt16LE(bits, 14);
  if (extensible) {
    f.writeUInt16LE(22, 16); // cbSize
    f.writeUInt16LE(bits, 18); // valid bits
    f.writeUInt32LE(channels === 2 ? 3 : 4, 20); // channel mask
    f.writeUInt16LE(TAGS[enc], 24);
    Buffer.from('000000001000800000aa00389b71', 'hex').copy(f, 26);
  }
  return chunk('fmt ', f);
}

interface WavSpec {
  enc: Encoding;
  rate: number;
  channels: Float32Array[];
  extensible?: boolean;
  before?: Buffer[];
  dataSize?: number;
  after?: Buffer[];
}

function makeWav(spec: WavSpec): Buffer {
  const frames = spec.channels[0]!.length;
  const parts: Buffer[] = [];
  for (let i = 0; i < frames; i++) for (const ch of spec.channels) parts.push(encodeSample(spec.enc, ch[i]!));
  const body = Buffer.concat([
    fmtChunk(spec.enc, spec.channels.length, spec.rate, spec.extensible),
    ...(spec.before ?? []),
    chunk('data', Buffer.concat(parts), spec.dataSize),
    ...(spec.after ?? []),
  ]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length + 4, 4);
  head.write('WAVE', 8, 'latin1');
  return Buffer.concat([head, body]);
}

function sine(freq: number, rate: number, n: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  assert.ok(worst <= tol, `${label}: max error ${worst} > ${tol}`);
}

const cases: Array<{ name: string; enc: Encoding; rate: number; channels: number; tol: number; extensible?: boolean }> = [
  { name: '8 kHz µ-law', enc: 'ulaw', rate: 8000, channels: 1, tol: 0.02 },
  { name: '8 kHz A-law', enc: 'alaw', rate: 8000, channels: 1, tol: 0.02 },
  { name: '16-bit 22.05 kHz stereo', enc: 's16', rate: 22050, channels: 2, tol: 1e-4 },
  { name: '24-bit 48 kHz', enc: 's24', rate: 48000, channels: 1, tol: 1e-6 },
  { name: '32-bit float 44.1 kHz', enc: 'f32', rate: 44100, channels: 1, tol: 1e-7 },
  { name: '64-bit float 16 kHz', enc: 'f64', rate: 16000, channels: 1, tol: 1e-7 },
  { name: '8-bit unsigned 11.025 kHz', enc: 'u8', rate: 11025, channels: 1, tol: 0.01 },
  { name: '32-bit int 32 kHz', enc: 's32', rate: 32000, channels: 1, tol: 1e-6 },
  { name: 'extensible 16-bit stereo 16 kHz', enc: 's16', rate: 16000, channels: 2, tol: 1e-4, extensible: true },
  { name: 'extensible float 48 kHz', enc: 'f32', rate: 48000, channels: 1, tol: 1e-7, extensible: true },
];

for (const c of cases) {
  test(`decodeWav: ${c.name}`, () => {
    const chans = Array.from({ length: c.channels }, (_, k) => sine(440 * (k + 1), c.rate, 400, 0.5 - 0.2 * k));
    const bytes = makeWav({ enc: c.enc, rate: c.rate, channels: chans, extensible: c.extensible ?? false });
    assert.ok(isWav(bytes));
    const out = decodeWav(bytes);
    assert.equal(out.sampleRate, c.rate);
    assert.equal(out.channels, c.channels);
    assert.equal(out.samples.length, c.channels);
    chans.forEach((ch, k) => assertClose(out.samples[k]!, ch, c.tol, `${c.name} channel ${k}`));
  });
}

test('decodeWav skips LIST/fact chunks and odd-size chunks with their pad byte', () => {
  const pcm = sine(300, 8000, 101);
  const bytes = makeWav({
    enc: 's16',
    rate: 8000,
    channels: [pcm],
    before: [chunk('LIST', Buffer.from('INFOISFT\x03\x00\x00\x00ab\x00', 'latin1')), chunk('junk', Buffer.from('odd')), chunk('fact', Buffer.alloc(4))],
    after: [chunk('LIST', Buffer.from('trailing'))],
  });
  assertClose(decodeWav(bytes).samples[0]!, pcm, 1e-4, 'with extra chunks');
});

test('decodeWav: data size 0 or 0xFFFFFFFF (streamed WAV) means "the rest of the file"', () => {
  const pcm = sine(500, 8000, 80);
  for (const size of [0, 0xffffffff]) {
    const out = decodeWav(makeWav({ enc: 's16', rate: 8000, channels: [pcm], dataSize: size }));
    assertClose(out.samples[0]!, pcm, 1e-4, `data size ${size}`);
  }
});

test('decodeWav: a truncated file yields the whole frames that are present', () => {
  const pcm = sine(500, 8000, 80);
  const full = makeWav({ enc: 's16', rate: 8000, channels: [pcm, pcm] });
  const out = decodeWav(full.subarray(0, full.length - 5)); // cut mid-frame
  assert.equal(out.samples[0]!.length, 78);
  assertClose(out.samples[1]!, pcm.subarray(0, 78), 1e-4, 'truncated');
});

test('decodeWav: fmt after a sized data chunk is still found', () => {
  const pcm = sine(500, 8000, 10);
  const normal = makeWav({ enc: 's16', rate: 8000, channels: [pcm] });
  const fmt = normal.subarray(12, 12 + 24);
  const data = normal.subarray(36);
  const swapped = Buffer.concat([normal.subarray(0, 12), data, fmt]);
  assertClose(decodeWav(swapped).samples[0]!, pcm, 1e-4, 'data before fmt');
});

function assertDecodeError(bytes: Buffer, code: 'corrupt' | 'unsupported-format', pattern: RegExp): void {
  assert.throws(() => decodeWav(bytes), (err: unknown) => {
    assert.ok(err instanceof AudioDecodeError, `expected AudioDecodeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

test('decodeWav: corrupt input → AudioDecodeError corrupt', () => {
  const good = makeWav({ enc: 's16', rate: 8000, channels: [sine(400, 8000, 20)] });
  assertDecodeError(Buffer.from('not a wave file at all'), 'corrupt', /not a RIFF/);
  assertDecodeError(Buffer.alloc(0), 'corrupt', /not a RIFF/);
  assertDecodeError(Buffer.concat([good.subarray(0, 12), good.subarray(36)]), 'corrupt', /no fmt/);
  assertDecodeError(good.subarray(0, 36), 'corrupt', /no data/);
  const overrun = Buffer.from(good);
  overrun.writeUInt32LE(1000, 16); // fmt chunk size past the end
  assertDecodeError(overrun, 'corrupt', /past the end/);
  const zeroRate = Buffer.from(good);
  zeroRate.writeUInt32LE(0, 24);
  assertDecodeError(zeroRate, 'corrupt', /sample rate/);
  const noChannels = Buffer.from(good);
  noChannels.writeUInt16LE(0, 22);
  assertDecodeError(noChannels, 'corrupt', /channel/);
});

test('decodeWav: unsupported encodings → AudioDecodeError unsupported-format', () => {
  const good = makeWav({ enc: 's16', rate: 8000, channels: [sine(400, 8000, 20)] });
  const adpcm = Buffer.from(good);
  adpcm.writeUInt16LE(0x0002, 20); // MS ADPCM
  assertDecodeError(adpcm, 'unsupported-format', /0x0002/);
  const twelveBit = Buffer.from(good);
  twelveBit.writeUInt16LE(12, 34);
  assertDecodeError(twelveBit, 'unsupported-format', /12 bits/);
  const ext = makeWav({ enc: 's16', rate: 8000, channels: [sine(400, 8000, 20)], extensible: true });
  ext[50]! ^= 0xff; // damage the SubFormat GUID tail (fmt body starts at 20; GUID tail at 46..59)
  assertDecodeError(ext, 'unsupported-format', /SubFormat/);
  const rifx = Buffer.from(good);
  rifx.write('RIFX', 0, 'latin1');
  assertDecodeError(rifx, 'unsupported-format', /RIFX/);
});

test('encodeWav writes a canonical 16-bit mono file that decodes back exactly', () => {
  const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234, -4321]);
  const wav = encodeWav(pcm, 16000);
  assert.equal(wav.length, 44 + pcm.length * 2);
  assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
  assert.equal(wav.readUInt32LE(4), wav.length - 8);
  assert.equal(wav.readUInt16LE(20), 1);
  assert.equal(wav.readUInt16LE(22), 1);
  assert.equal(wav.readUInt32LE(24), 16000);
  assert.equal(wav.readUInt32LE(28), 32000);
  assert.equal(wav.readUInt32LE(40), pcm.length * 2);
  const back = decodeWav(wav);
  assert.equal(back.sampleRate, 16000);
  assert.deepEqual(Array.from(back.samples[0]!, (v) => Math.round(v * 32768)), Array.from(pcm));
});
