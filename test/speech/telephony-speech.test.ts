import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resample } from '../../src/media/resampler.js';
import { TelephonySpeech, toTelephonyRate } from '../../src/speech/telephony-speech.js';
import { OpenAiTts } from '../../src/speech/openai-tts.js';
import { ElevenLabsTts } from '../../src/speech/elevenlabs-tts.js';
import type { SynthesisRequest, SynthesizedAudio, TextToSpeech } from '../../src/speech/text-to-speech.js';
import { FakeOpenAiSpeechServer } from './fakes/fake-openai-speech-server.js';
import { FakeElevenLabsServer } from './fakes/fake-elevenlabs-server.js';

const openaiFake = new FakeOpenAiSpeechServer('sk');
const elevenFake = new FakeElevenLabsServer('xi');
before(async () => {
  await openaiFake.start();
  await elevenFake.start();
});
after(async () => {
  await openaiFake.close();
  await elevenFake.close();
});

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/** The reference: the whole clip resampled in one go, with the same 'fast' filter. */
function oneShot(samples: Int16Array, rate: number): Int16Array {
  const f = Float32Array.from(samples, (s) => s / 32768);
  return Int16Array.from(resample(f, rate, 8000, 'fast'), (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
}

function maxDiff(a: Int16Array, b: Int16Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A speech-like test signal: a tone sweep, loud enough that a discontinuity would show. */
function sweep(n: number, rate: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(12000 * Math.sin(2 * Math.PI * (200 + (i / n) * 3000) * (i / rate))));
}

test('24 kHz and 16 kHz chunks become 8 kHz through one streaming resampler: identical to a one-shot resample', async () => {
  for (const rate of [24_000, 16_000]) {
    const signal = sweep(rate, rate); // one second
    const sizes = [1, 479, 160, 3001, 77];
    async function* chunks(): AsyncGenerator<SynthesizedAudio> {
      for (let o = 0, k = 0; o < signal.length; k++) {
        const n = sizes[k % sizes.length]!;
        yield { samples: signal.subarray(o, o + n), sampleRate: rate };
        o += n;
      }
    }
    const out: Int16Array[] = [];
    for await (const c of toTelephonyRate(chunks())) {
      assert.equal(c.sampleRate, 8000);
      out.push(c.samples);
    }
    const streamed = concat(out);
    const reference = oneShot(signal, rate);
    assert.equal(maxDiff(streamed, reference), 0, `${rate} Hz: no difference from the one-shot resample`);

    // The same chunks resampled independently differ at the chunk edges: the test would see clicks.
    const naive = concat(
      (() => {
        const parts: Int16Array[] = [];
        for (let o = 0, k = 0; o < signal.length; k++) {
          const n = sizes[k % sizes.length]!;
          parts.push(oneShot(signal.subarray(o, o + n), rate));
          o += n;
        }
        return parts;
      })(),
    );
    const n = Math.min(naive.length, reference.length);
    assert.ok(maxDiff(naive.subarray(0, n), reference.subarray(0, n)) > 1000, 'independent resampling is detectably wrong');
  }
});

test('speakStream: the first 8 kHz audio arrives while OpenAI is still holding the rest; the whole equals the one-shot result', { timeout: 10_000 }, async () => {
  const speech = new TelephonySpeech(new OpenAiTts({ apiKey: 'sk', baseUrl: openaiFake.baseUrl }));
  let open!: () => void;
  openaiFake.gate = new Promise((resolve) => (open = resolve));
  openaiFake.requests.length = 0;
  const input = { text: 'Please stay on the line, an agent will be with you shortly.', voice: 'OpenAI.alloy', language: 'en-US' };
  const parts: Int16Array[] = [];
  try {
    for await (const chunk of speech.speakStream(input)) {
      parts.push(chunk);
      if (parts.length === 1) open();
    }
  } finally {
    openaiFake.gate = undefined;
  }
  assert.ok(parts.length >= 2);
  const whole = concat(parts);
  assert.equal(maxDiff(whole, oneShot(FakeOpenAiSpeechServer.expectedAudio(input.text), 24_000)), 0);

  // Memoized: the repeat is the whole clip at once, and the provider is not asked again.
  const again: Int16Array[] = [];
  for await (const chunk of speech.speakStream(input)) again.push(chunk);
  assert.equal(again.length, 1);
  assert.deepEqual(again[0], whole);
  assert.deepEqual(await speech.speak(input.text, input.voice, input.language), whole);
  assert.equal(openaiFake.requests.length, 1);
});

test('µ-law 8 kHz from ElevenLabs passes through untouched', async () => {
  const speech = new TelephonySpeech(new ElevenLabsTts({ apiKey: 'xi', baseUrl: elevenFake.baseUrl }));
  const pcm = await speech.speak('Goodbye.', 'ElevenLabs.JBFqnCBsd6RMkjVDRZzb', 'en-US');
  assert.deepEqual(pcm, FakeElevenLabsServer.expectedAudio('Goodbye.', 'ulaw_8000'));
});

class RecordingTts implements TextToSpeech {
  readonly name = 'recording';
  readonly calls: SynthesisRequest[] = [];
  gate: Promise<void> = Promise.resolve();
  async synthesize(req: SynthesisRequest): Promise<SynthesizedAudio> {
    this.calls.push(req);
    await this.gate;
    return { samples: new Int16Array(16).fill(req.text.length), sampleRate: 8000 };
  }
}

test('the SSML fragment goes to the engine as SSML, and is its own memo entry', async () => {
  const tts = new RecordingTts();
  const speech = new TelephonySpeech(tts);
  await speech.speak('Hello world', 'alice', 'en-US');
  await speech.speak('Hello world', 'alice', 'en-US', undefined, 'Hello <break time="1s"/> world');
  const streamed: Int16Array[] = [];
  for await (const c of speech.speakStream({ text: 'Hello world', voice: 'alice', language: 'en-US', ssml: 'Hello <break time="1s"/> world' })) streamed.push(c);
  assert.deepEqual(tts.calls, [
    { text: 'Hello world', voice: 'alice', language: 'en-US' },
    { text: 'Hello <break time="1s"/> world', voice: 'alice', language: 'en-US', ssml: true },
  ]);
  assert.equal(streamed.length, 1);
});

test("an aborted caller gets its signal's reason; the others still get the audio", async () => {
  const tts = new RecordingTts();
  let release!: () => void;
  tts.gate = new Promise((resolve) => (release = resolve));
  const speech = new TelephonySpeech(tts);
  const ac = new AbortController();
  const hangup = Object.assign(new Error('call ended'), { name: 'AbortError' });
  const leaving = speech.speak('Hi', 'man', 'en-US', ac.signal);
  const staying = speech.speak('Hi', 'man', 'en-US');
  ac.abort(hangup);
  await assert.rejects(leaving, (e: unknown) => e === hangup);
  release();
  assert.equal((await staying).length, 16);
  assert.equal(tts.calls.length, 1);
});

test('a request right after the last listener left starts afresh instead of joining the dying synthesis', async () => {
  const tts = new RecordingTts();
  let release!: () => void;
  tts.gate = new Promise((resolve) => (release = resolve));
  const speech = new TelephonySpeech(tts);
  const ac = new AbortController();
  const first = speech.speak('Hi', 'man', 'en-US', ac.signal);
  ac.abort(Object.assign(new Error('barge-in'), { name: 'AbortError' }));
  await assert.rejects(first, /barge-in/);
  const second = speech.speak('Hi', 'man', 'en-US'); // the first synthesis is still being stopped
  release();
  assert.equal((await second).length, 16);
  assert.equal(tts.calls.length, 2);
});
