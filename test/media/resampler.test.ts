import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler, resample } from '../../src/media/resampler.js';

function sine(freq: number, rate: number, n: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** RMS over the middle of the signal (away from the edges, where the filter sees silence). */
function midRms(x: Float32Array): number {
  const from = Math.floor(x.length * 0.1);
  const to = Math.floor(x.length * 0.9);
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (to - from));
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

/** Frequency from the zero-crossing count over the middle of a clean tone. */
function toneFrequency(x: Float32Array, rate: number): number {
  const from = Math.floor(x.length * 0.1);
  const to = Math.floor(x.length * 0.9);
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if ((x[i - 1]! < 0) !== (x[i]! < 0)) crossings++;
  return (crossings / 2) * (rate / (to - from));
}

function correlation(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

test('48 kHz → 8 kHz keeps a 1 kHz tone: frequency, amplitude within 1 dB, length', () => {
  const input = sine(1000, 48000, 48000);
  const out = resample(input, 48000, 8000);
  assert.equal(out.length, 8000);
  assert.ok(Math.abs(toneFrequency(out, 8000) - 1000) < 5, `frequency ${toneFrequency(out, 8000)}`);
  const gain = db(midRms(out) / midRms(input));
  assert.ok(Math.abs(gain) < 1, `gain ${gain} dB`);
});

test('48 kHz → 8 kHz removes a 6 kHz tone (it would alias to 2 kHz) by more than 40 dB', () => {
  for (const quality of ['high', 'fast'] as const) {
    const input = sine(6000, 48000, 48000);
    const out = resample(input, 48000, 8000, quality);
    const attenuation = db(midRms(out) / midRms(input));
    assert.ok(attenuation < -40, `${quality}: 6 kHz only ${attenuation} dB down`);
  }
});

test('44.1 kHz → 8 kHz passes 3.4 kHz (top of the telephone band) within 1 dB', () => {
  const input = sine(3400, 44100, 44100);
  const gain = db(midRms(resample(input, 44100, 8000)) / midRms(input));
  assert.ok(Math.abs(gain) < 1, `gain ${gain} dB`);
});

test('8 kHz → 16 kHz → 8 kHz round trip correlates > 0.99 with the original', () => {
  const input = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 8000) + 0.2 * Math.sin((2 * Math.PI * 1770 * i) / 8000));
  const up = resample(input, 8000, 16000);
  assert.equal(up.length, 16000);
  const back = resample(up, 16000, 8000);
  assert.equal(back.length, 8000);
  assert.ok(correlation(input, back) > 0.99, `correlation ${correlation(input, back)}`);
  // Upsampling does not invent energy above the old Nyquist: 16 kHz output keeps the 440 Hz tone.
  assert.ok(Math.abs(toneFrequency(resample(sine(440, 8000, 8000), 8000, 16000), 16000) - 440) < 5);
});

test('streaming in odd-sized blocks gives exactly the one-shot result', () => {
  const input = sine(700, 22050, 5000);
  const oneShot = resample(input, 22050, 8000);
  const r = new Resampler(22050, 8000);
  const parts: number[] = [];
  for (let i = 0; i < input.length; i += 333) parts.push(...r.process(input.subarray(i, i + 333)));
  parts.push(...r.flush());
  assert.equal(parts.length, Math.ceil((5000 * 8000) / 22050));
  assert.deepEqual(Float32Array.from(parts), oneShot);
  assert.equal(r.flush().length, 0, 'a second flush adds nothing');
  assert.throws(() => r.process(input), /after flush/);
});

test('a rate pair with a huge phase count (44100 → 47999) still converts cleanly', () => {
  const input = sine(1000, 44100, 44100);
  const out = resample(input, 44100, 47999);
  assert.equal(out.length, 47999);
  assert.ok(Math.abs(db(midRms(out) / midRms(input))) < 0.1);
  assert.ok(Math.abs(toneFrequency(out, 47999) - 1000) < 5);
});

test('output is time-aligned with the input (no filter delay)', () => {
  const input = new Float32Array(4800);
  input[2400] = 1; // an impulse at t = 50 ms
  const out = resample(input, 48000, 8000);
  let peak = 0;
  for (let i = 1; i < out.length; i++) if (Math.abs(out[i]!) > Math.abs(out[peak]!)) peak = i;
  assert.equal(peak, 400);
});

test('equal rates pass through; invalid rates are rejected', () => {
  const input = sine(100, 8000, 100);
  assert.deepEqual(resample(input, 8000, 8000), input);
  const r = new Resampler(16000, 16000);
  assert.deepEqual(r.process(input), input);
  assert.equal(r.flush().length, 0);
  assert.throws(() => new Resampler(0, 8000), RangeError);
  assert.throws(() => new Resampler(8000, 44100.5), RangeError);
});
