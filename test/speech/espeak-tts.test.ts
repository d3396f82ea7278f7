import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EspeakTts, espeakVoiceFor } from '../../src/speech/espeak-tts.js';
import { TtsError } from '../../src/speech/text-to-speech.js';

const tts = new EspeakTts();
after(() => tts.close());

function rms(x: Int16Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! / 32768) ** 2;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Median fundamental frequency of voiced 40 ms windows, by autocorrelation over 70–400 Hz. */
function medianPitch(x: Int16Array, rate: number): number {
  const win = Math.round(0.04 * rate);
  const pitches: number[] = [];
  for (let start = 0; start + win < x.length; start += win) {
    const seg = x.subarray(start, start + win);
    if (rms(seg) < 0.02) continue;
    let bestLag = 0;
    let best = 0;
    for (let lag = Math.floor(rate / 400); lag <= Math.ceil(rate / 70); lag++) {
      let acc = 0;
      for (let i = 0; i + lag < seg.length; i++) acc += seg[i]! * seg[i + lag]!;
      if (acc > best) [best, bestLag] = [acc, lag];
    }
    if (bestLag) pitches.push(rate / bestLag);
  }
  pitches.sort((a, b) => a - b);
  return pitches[Math.floor(pitches.length / 2)] ?? 0;
}

test('Twilio voices and languages map to eSpeak voices', () => {
  assert.equal(espeakVoiceFor('man', 'en-US'), 'en-us');
  assert.equal(espeakVoiceFor('woman', 'en-GB'), 'en-gb+f3');
  assert.equal(espeakVoiceFor('alice', 'fr-FR'), 'fr-fr+f3');
  assert.equal(espeakVoiceFor('man', 'es-ES'), 'es');
  assert.equal(espeakVoiceFor('man', 'es-MX'), 'es-419');
  assert.equal(espeakVoiceFor('man', 'de-DE'), 'de');
  assert.equal(espeakVoiceFor('man', 'pt-BR'), 'pt-br');
  assert.equal(espeakVoiceFor('man', 'en-AU'), 'en-gb');
  assert.equal(espeakVoiceFor('man', 'zh-CN'), 'cmn');
  assert.equal(espeakVoiceFor('man', 'xx-YY'), 'en-us', 'unknown language → en-us');
  assert.equal(espeakVoiceFor('man', ''), 'en-us');
  assert.equal(espeakVoiceFor('Polly.Joanna', 'en-US'), 'en-us+f3');
  assert.equal(espeakVoiceFor('Polly.Joanna-Neural', 'en-US'), 'en-us+f3');
  assert.equal(espeakVoiceFor('Polly.Matthew', 'en-US'), 'en-us');
  assert.equal(espeakVoiceFor('Polly.Hans', 'de-DE'), 'de');
  assert.equal(espeakVoiceFor('Google.en-US-Standard-C', 'en-US'), 'en-us+f3');
  assert.equal(espeakVoiceFor('Google.en-US-Standard-B', 'en-US'), 'en-us');
  assert.equal(espeakVoiceFor('Google.fr-FR-Wavenet-A', 'en-US'), 'fr-fr+f3', "a Google voice's own language wins");
  assert.equal(espeakVoiceFor('espeak.en-gb-scotland+m3', 'fr-FR'), 'en-gb-scotland+m3');
});

test('synthesizes "Hello world" to plausible speech without blocking the event loop', async () => {
  // Warm up first: starting a worker (and, under tsx, compiling its TypeScript) is one-off work.
  await tts.synthesize({ text: 'Ready.', voice: 'man', language: 'en-US' });
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  let audio;
  let long;
  let synthesisMs = 0;
  try {
    audio = await tts.synthesize({ text: 'Hello world', voice: 'alice', language: 'en-US' });
    // A longer synthesis for the stall check: run on the main thread it would stall the loop for all of it.
    const t0 = performance.now();
    long = await tts.synthesize({ text: 'Thank you for calling. Please listen carefully, as our menu options have recently changed.', voice: 'man', language: 'en-US' });
    synthesisMs = performance.now() - t0;
  } finally {
    clearInterval(timer);
  }
  assert.ok(long.samples.length > 8000);
  assert.equal(audio.sampleRate, 8000);
  const seconds = audio.samples.length / audio.sampleRate;
  assert.ok(seconds >= 0.5 && seconds <= 3, `duration ${seconds}s`);
  assert.ok(rms(audio.samples) > 0.02, `rms ${rms(audio.samples)}`);
  // Relative, not absolute, so a slow machine cannot fail it: the loop never stalled for most of a synthesis.
  assert.ok(maxGap < synthesisMs / 2, `event loop stalled for ${maxGap.toFixed(1)} ms during a ${synthesisMs.toFixed(0)} ms synthesis`);
});

test('a female voice is pitched higher than a male one; other languages work', async () => {
  const [male, female, french] = await Promise.all([
    tts.synthesize({ text: 'Thank you for calling. Please hold.', voice: 'man', language: 'en-US' }),
    tts.synthesize({ text: 'Thank you for calling. Please hold.', voice: 'woman', language: 'en-US' }),
    tts.synthesize({ text: 'Bonjour, merci de votre appel. Ça va très bien.', voice: 'man', language: 'fr-FR' }),
  ]);
  const m = medianPitch(male.samples, 8000);
  const f = medianPitch(female.samples, 8000);
  assert.ok(f > m * 1.3, `female pitch ${f.toFixed(0)} Hz vs male ${m.toFixed(0)} Hz`);
  assert.ok(french.samples.length / 8000 > 1 && rms(french.samples) > 0.02);
});

test('text that looks like a command-line option is spoken, not parsed', async () => {
  const audio = await tts.synthesize({ text: '--help -v xx', voice: 'man', language: 'en-US' });
  assert.ok(audio.samples.length / 8000 > 0.5 && rms(audio.samples) > 0.02);
});

test('abort: a queued request is dropped; closed engines refuse work', async () => {
  const engine = new EspeakTts({ workers: 1, sampleRate: 16000 });
  const ac = new AbortController();
  const running = engine.synthesize({ text: 'First in line', voice: 'man', language: 'en-US' });
  const queued = engine.synthesize({ text: 'Second in line', voice: 'man', language: 'en-US' }, ac.signal);
  ac.abort();
  await assert.rejects(queued, (err: unknown) => err instanceof TtsError && err.code === 'aborted');
  const first = await running;
  assert.equal(first.sampleRate, 16000);
  assert.ok(first.samples.length > 16000 * 0.4);
  await engine.close();
  await assert.rejects(engine.synthesize({ text: 'x', voice: 'man', language: 'en-US' }), (err: unknown) => err instanceof TtsError && err.code === 'closed');
});

test('SSML: the <Say> fragment is read as markup (breaks are heard as silence, tags are not spoken)', async () => {
  const plain = await tts.synthesize({ text: 'Hello world. Goodbye.', voice: 'man', language: 'en-US' });
  const marked = await tts.synthesize({
    text: 'Hello <emphasis>world</emphasis>. <break time="2s"/><phoneme alphabet="ipa" ph="ɡʊdˈbaɪ">Goodbye</phoneme>.',
    voice: 'man',
    language: 'en-US',
    ssml: true,
  });
  const extra = (marked.samples.length - plain.samples.length) / 8000;
  // The break adds about two seconds (eSpeak's own sentence pause is replaced by it); spoken tag
  // names would add several seconds of words instead.
  assert.ok(extra > 1.2 && extra < 2.6, `SSML adds ${extra.toFixed(2)} s`);
  let longestQuiet = 0;
  for (let i = 0, run = 0; i < marked.samples.length; i++) {
    run = Math.abs(marked.samples[i]!) < 300 ? run + 1 : 0;
    longestQuiet = Math.max(longestQuiet, run);
  }
  assert.ok(longestQuiet / 8000 > 1.5, `longest silence ${(longestQuiet / 8000).toFixed(2)} s`);
  await assert.rejects(
    tts.synthesize({ text: 'broken <break', voice: 'man', language: 'en-US', ssml: true }),
    (err: unknown) => err instanceof TtsError && err.code === 'invalid-request',
  );
});
