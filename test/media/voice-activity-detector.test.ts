// Voice activity detector on real speech (the espeak-ng fixture) and synthetic signals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeWav } from '../../src/media/wav.js';
import { VoiceActivityDetector, type VoiceActivityEvent } from '../../src/media/voice-activity-detector.js';

const FRAME = 160; // 20 ms at 8 kHz

/** The fixture speech as Int16, with its speech running from 0 to about 4.28 s (measured offline). */
function fixture(): Int16Array {
  const audio = decodeWav(readFileSync(new URL('../interop/fixtures/known-8k-reference.wav', import.meta.url)));
  assert.equal(audio.sampleRate, 8000);
  const f = audio.samples[0]!;
  const out = new Int16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(f[i]! * 32768)));
  return out;
}

/** Deterministic white noise (LCG) with the given RMS, so tests never flake. */
function noise(samples: number, rms: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  let s = seed >>> 0;
  const amp = rms * Math.sqrt(3); // uniform in [-a, a] has RMS a/√3
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((s / 0x100000000 - 0.5) * 2 * amp);
  }
  return out;
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.max(-32768, Math.min(32767, a[i]! + (b[i] ?? 0)));
  return out;
}

function run(pcm: Int16Array, vad = new VoiceActivityDetector()): VoiceActivityEvent[] {
  const events: VoiceActivityEvent[] = [];
  for (let o = 0; o + FRAME <= pcm.length; o += FRAME) {
    const e = vad.process(pcm.subarray(o, o + FRAME));
    if (e) events.push(e);
  }
  return events;
}

const SPEECH_START_MS = 500; // where the fixture is placed in the test signal
const SPEECH_END_MS = SPEECH_START_MS + 4280;

test('silence and steady low noise: no events', () => {
  assert.deepEqual(run(new Int16Array(8000 * 5)), []);
  assert.deepEqual(run(noise(8000 * 5, 60)), []);
  assert.deepEqual(run(noise(8000 * 5, 300)), [], 'moderate steady noise (-41 dBFS) is not speech either');
});

test('fixture speech: one utterance, started near the speech start, stopped after its end', () => {
  const pcm = concat(new Int16Array(8 * SPEECH_START_MS), fixture(), new Int16Array(8000));
  const events = run(pcm);
  assert.deepEqual(events.map((e) => e.type), ['speech-started', 'speech-stopped']);
  const [start, stop] = events as [VoiceActivityEvent, VoiceActivityEvent];
  assert.ok(Math.abs(start.atMs - SPEECH_START_MS) <= 100, `started at ${start.atMs}`);
  assert.ok(start.detectedAtMs - start.atMs === 60, 'attack of 3 frames');
  assert.ok(stop.atMs >= SPEECH_END_MS - 100 && stop.atMs <= SPEECH_END_MS + 100, `last speech at ${stop.atMs}`);
  assert.ok(stop.detectedAtMs >= SPEECH_END_MS, 'stop is reported after the speech ended');
  assert.equal(stop.detectedAtMs - stop.atMs, 400, 'hangover');
});

test('fixture speech mixed with low-level white noise still gives one utterance at the right times', () => {
  const clean = concat(new Int16Array(8 * SPEECH_START_MS), fixture(), new Int16Array(8000));
  const events = run(mix(clean, noise(clean.length, 60, 7)));
  assert.deepEqual(events.map((e) => e.type), ['speech-started', 'speech-stopped']);
  assert.ok(Math.abs(events[0]!.atMs - SPEECH_START_MS) <= 100, `started at ${events[0]!.atMs}`);
  assert.ok(events[1]!.detectedAtMs >= SPEECH_END_MS);
  assert.ok(events[1]!.atMs <= SPEECH_END_MS + 100);
});

test('a single click (or a 2-frame pop) is not speech', () => {
  const click = new Int16Array(8000);
  for (let i = 0; i < 40; i++) click[4000 + i] = i & 1 ? 30000 : -30000; // 5 ms at full scale
  assert.deepEqual(run(mix(click, noise(click.length, 60))), []);
  const pop = new Int16Array(8000);
  pop.set(noise(320, 8000), 4000); // two frames of loud noise
  assert.deepEqual(run(pop), []);
});

test('two utterances separated by more than the hangover give two pairs; a short gap gives one', () => {
  const tone = (ms: number): Int16Array => {
    const out = new Int16Array(8 * ms);
    for (let i = 0; i < out.length; i++) out[i] = Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 8000));
    return out;
  };
  const gap = (ms: number): Int16Array => new Int16Array(8 * ms);
  const long = run(concat(gap(200), tone(500), gap(600), tone(500), gap(600)));
  assert.deepEqual(long.map((e) => `${e.type}@${e.atMs}`), [
    'speech-started@200',
    'speech-stopped@700',
    'speech-started@1300',
    'speech-stopped@1800',
  ]);
  const short = run(concat(gap(200), tone(500), gap(200), tone(500), gap(600)));
  assert.deepEqual(short.map((e) => e.type), ['speech-started', 'speech-stopped']);
});

test('configurable thresholds: a quiet talker is missed by a strict minimum and found by a lenient one', () => {
  const quiet = concat(new Int16Array(4000), noise(8000, 120, 3), new Int16Array(8000)); // -49 dBFS
  assert.deepEqual(run(quiet, new VoiceActivityDetector({ minSpeechDb: -45 })), []);
  const events = run(quiet, new VoiceActivityDetector({ minSpeechDb: -60, attackFrames: 5, hangoverMs: 300 }));
  assert.deepEqual(events.map((e) => `${e.type}@${e.atMs}/${e.detectedAtMs}`), [
    'speech-started@500/600',
    'speech-stopped@1500/1800',
  ]);
});

test('noise floor adapts: background noise that rises and stays is eventually not speech', () => {
  const vad = new VoiceActivityDetector();
  const events = run(concat(noise(8000, 30), noise(8000 * 120, 1000, 5)), vad);
  assert.equal(events.length, 2, 'at most one false utterance when the noise jumps');
  assert.equal(vad.speaking, false);
  assert.ok(vad.noiseFloorDb > -35, `floor followed the noise: ${vad.noiseFloorDb}`);
  vad.reset();
  assert.equal(vad.timeMs, 0);
  assert.equal(vad.noiseFloorDb, -50);
});
