// In-band DTMF detection on generated tones (levels, noise, G.711, twist, timing) and on real
// speech, which must not produce a single digit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GoertzelDtmfDetector, type GoertzelDtmfDetectorOptions } from '../../src/media/dtmf-goertzel.js';
import { decodeFrame, encodeFrame } from '../../src/media/g711.js';
import { decodeWav } from '../../src/media/wav.js';
import { Prng } from '../fuzz/mutator.js';

const RATE = 8000;
const ROW: Record<string, number> = {};
const COL: Record<string, number> = {};
// The ITU-T Q.23 keypad: rows 697/770/852/941 Hz, columns 1209/1336/1477/1633 Hz (0 sits between * and #).
['123A', '456B', '789C', '*0#D'].forEach((keys, r) =>
  [...keys].forEach((k, c) => {
    ROW[k] = [697, 770, 852, 941][r];
    COL[k] = [1209, 1336, 1477, 1633][c];
  }),
);
const ALL = '123A456B789C*0#D';

/** Deterministic PRNG (mulberry32) so noise tests are reproducible. */
function rng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

interface Segment {
  /** A digit, a single frequency in Hz, or null for silence. */
  tone: string | number | null;
  ms: number;
  /** Peak of the composite signal, dBFS. */
  dbfs?: number;
  /** Column tone level minus row tone level, dB. */
  twistDb?: number;
}

/** Float samples (full scale 32767) for a sequence of segments; random phase per tone. */
function synth(segments: Segment[], rand: () => number): Float64Array {
  const total = segments.reduce((n, s) => n + Math.round((s.ms * RATE) / 1000), 0);
  const out = new Float64Array(total);
  let pos = 0;
  for (const seg of segments) {
    const n = Math.round((seg.ms * RATE) / 1000);
    const peak = 32767 * 10 ** ((seg.dbfs ?? -10) / 20);
    let tones: [number, number][] = [];
    if (typeof seg.tone === 'string') {
      const t = 10 ** ((seg.twistDb ?? 0) / 20);
      // Split the peak between the row (amplitude 1) and column (amplitude t) tones.
      tones = [[ROW[seg.tone], peak / (1 + t)], [COL[seg.tone], (peak * t) / (1 + t)]];
    } else if (typeof seg.tone === 'number') tones = [[seg.tone, peak]];
    const phases = tones.map(() => rand() * 2 * Math.PI);
    for (let i = 0; i < n; i++) {
      let v = 0;
      tones.forEach(([f, a], j) => (v += a * Math.sin((2 * Math.PI * f * i) / RATE + phases[j])));
      out[pos + i] = v;
    }
    pos += n;
  }
  return out;
}

function addNoise(x: Float64Array, snrDb: number, signalPower: number, rand: () => number): void {
  const sigma = Math.sqrt(signalPower / 10 ** (snrDb / 10));
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); // Box-Muller
    x[i] += sigma * g;
  }
}

function toInt16(x: Float64Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i])));
  return out;
}

/** Feeds 20 ms frames, after `offset` samples of silence so tones do not align with the blocks. */
function detect(pcm: Int16Array, offset = 0, options?: GoertzelDtmfDetectorOptions): string {
  const det = new GoertzelDtmfDetector(options);
  const all = new Int16Array(offset + pcm.length);
  all.set(pcm, offset);
  let got = '';
  for (let i = 0; i < all.length; i += 160) got += det.push(all.subarray(i, i + 160)).join('');
  return got;
}

function keypad(rand: () => number, tone: Partial<Segment>, toneMs = 80, gapMs = 80): Float64Array {
  return synth([...ALL].flatMap((d) => [{ tone: d, ms: toneMs, ...tone }, { tone: null, ms: gapMs }]), rand);
}

test('all 16 digits at -5 to -25 dBFS, detected once each, at any block alignment', () => {
  for (const dbfs of [-5, -10, -15, -20, -25]) {
    for (const offset of [0, 37, 80, 123]) {
      const got = detect(toInt16(keypad(rng(dbfs * 100 - offset), { dbfs })), offset);
      assert.equal(got, ALL, `${dbfs} dBFS, offset ${offset}`);
    }
  }
});

test('still detected in white noise at 15 dB SNR', () => {
  const rand = rng(7);
  for (const dbfs of [-10, -20]) {
    const x = keypad(rand, { dbfs });
    const perTone = (32767 * 10 ** (dbfs / 20)) / 2;
    addNoise(x, 15, perTone * perTone, rand); // two tones of power A²/2 each
    assert.equal(detect(toInt16(x), 51), ALL, `${dbfs} dBFS`);
  }
});

test('still detected after a G.711 µ-law round trip', () => {
  for (const dbfs of [-5, -15, -25]) {
    const pcm = toInt16(keypad(rng(3), { dbfs }));
    const bytes = Buffer.alloc(pcm.length);
    encodeFrame(pcm, 'PCMU', bytes);
    const back = new Int16Array(pcm.length);
    decodeFrame(bytes, 'PCMU', back);
    assert.equal(detect(back, 19), ALL, `${dbfs} dBFS`);
  }
});

test('twist: within 8 dB forward / 4 dB reverse accepted, beyond rejected', () => {
  const rand = rng(11);
  assert.equal(detect(toInt16(keypad(rand, { twistDb: 6 })), 29), ALL);
  assert.equal(detect(toInt16(keypad(rand, { twistDb: -3 })), 29), ALL);
  assert.equal(detect(toInt16(keypad(rand, { twistDb: 11 })), 29), '');
  assert.equal(detect(toInt16(keypad(rand, { twistDb: -7 })), 29), '');
});

test('tone duration: 40 ms always detected, 20 ms blips never', () => {
  for (let offset = 0; offset < 80; offset += 7) {
    assert.equal(detect(toInt16(keypad(rng(offset), {}, 40, 60)), offset), ALL, `40 ms, offset ${offset}`);
    assert.equal(detect(toInt16(keypad(rng(offset), {}, 20, 60)), offset), '', `20 ms, offset ${offset}`);
  }
});

test('one long press is one digit; a 40 ms gap separates repeats; a 10 ms dropout does not', () => {
  const rand = rng(5);
  assert.equal(detect(toInt16(synth([{ tone: '5', ms: 2000 }], rand)), 13), '5');
  const repeats = synth([{ tone: '7', ms: 60 }, { tone: null, ms: 40 }, { tone: '7', ms: 60 }, { tone: null, ms: 40 }, { tone: '7', ms: 60 }], rand);
  assert.equal(detect(toInt16(repeats), 41), '777');
  const dropout = synth([{ tone: '9', ms: 100 }, { tone: null, ms: 10 }, { tone: '9', ms: 100 }], rand);
  for (let offset = 0; offset < 80; offset += 9) assert.equal(detect(toInt16(dropout), offset), '9', `offset ${offset}`);
});

test('single tones (each DTMF frequency, dial tone, 1 kHz) are not digits', () => {
  const rand = rng(9);
  const freqs = [697, 770, 852, 941, 1209, 1336, 1477, 1633, 350, 440, 1000, 2000];
  const x = synth(freqs.flatMap((f) => [{ tone: f, ms: 300, dbfs: -10 }, { tone: null, ms: 50 }]), rand);
  assert.equal(detect(toInt16(x)), '');
  // Dial tone is 350 + 440 Hz together.
  const dial = synth([{ tone: 350, ms: 500 }], rand).map((v, i) => v + 8000 * Math.sin((2 * Math.PI * 440 * i) / RATE));
  assert.equal(detect(toInt16(dial)), '');
});

test('speech (known-8k-reference.wav) yields no digit, at several gains and alignments', () => {
  const wav = decodeWav(readFileSync(new URL('../interop/fixtures/known-8k-reference.wav', import.meta.url)));
  assert.equal(wav.sampleRate, 8000);
  const speech = wav.samples[0];
  assert.ok(speech.length > 8000 * 3);
  for (const gain of [0.25, 1, 2.5]) {
    const pcm = new Int16Array(speech.length);
    for (let i = 0; i < speech.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(speech[i] * 32767 * gain)));
    for (const offset of [0, 40]) assert.equal(detect(pcm, offset), '', `gain ${gain}, offset ${offset}`);
  }
});

test('frames of any size give the same result', () => {
  const pcm = toInt16(keypad(rng(1), {}));
  const det = new GoertzelDtmfDetector();
  let got = '';
  for (let i = 0, n = 1; i < pcm.length; i += n, n = (n * 7 + 3) % 331) got += det.push(pcm.subarray(i, i + n)).join('');
  assert.equal(got, ALL);
});

test('tones with strong second harmonics (distortion, voice-like) are rejected', () => {
  const rand = rng(21);
  const x = keypad(rand, { dbfs: -12 });
  // Add each digit's row and column second harmonics at -6 dB, where its tones are.
  const clean = keypad(rng(21), { dbfs: -12 });
  let pos = 0;
  for (const d of ALL) {
    const n = 640;
    for (let i = 0; i < n; i++) {
      const t = (2 * Math.PI * i) / RATE;
      x[pos + i] += 0.5 * 4000 * (Math.sin(2 * ROW[d] * t) + Math.sin(2 * COL[d] * t));
    }
    pos += 2 * n;
  }
  assert.equal(detect(toInt16(clean)), ALL);
  assert.equal(detect(toInt16(x)), '');
  // The same signal passes when the harmonic check is off: the check is what rejects it.
  assert.equal(detect(toInt16(x), 0, { harmonicRejectionDb: -100 }), ALL);
});

test('the bottom keypad row is * 0 # D (Q.23): 941 Hz with 1209, 1336, 1477, 1633 Hz', () => {
  const expected: Record<string, [number, number]> = { '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633] };
  for (const [key, [row, col]] of Object.entries(expected)) {
    const x = new Int16Array(RATE / 2);
    for (let i = 0; i < 800; i++) x[i + 400] = Math.round(6000 * (Math.sin((2 * Math.PI * row * i) / RATE) + Math.sin((2 * Math.PI * col * i) / RATE)));
    assert.deepEqual(new GoertzelDtmfDetector().push(x), [key]);
  }
});
