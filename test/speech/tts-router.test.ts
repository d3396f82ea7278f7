import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeForVoice, TtsRouter } from '../../src/speech/tts-router.js';
import { collectAudio, type SynthesisRequest, type SynthesizedAudio, type TextToSpeech } from '../../src/speech/text-to-speech.js';

/** Records what it was asked; streams two chunks when `streams`. */
class RecordingTts implements TextToSpeech {
  readonly calls: SynthesisRequest[] = [];
  closed = false;
  constructor(
    readonly name: string,
    private readonly streams = false,
  ) {
    if (streams) this.synthesizeStream = this.stream.bind(this);
  }
  synthesizeStream?: (req: SynthesisRequest) => AsyncIterable<SynthesizedAudio>;
  async synthesize(req: SynthesisRequest): Promise<SynthesizedAudio> {
    this.calls.push(req);
    return { samples: new Int16Array([1, 2, 3]), sampleRate: 8000 };
  }
  private async *stream(req: SynthesisRequest): AsyncGenerator<SynthesizedAudio> {
    this.calls.push(req);
    yield { samples: new Int16Array([1]), sampleRate: 24000 };
    yield { samples: new Int16Array([2]), sampleRate: 24000 };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const req = (voice: string): SynthesisRequest => ({ text: 'Hello', voice, language: 'en-US' });

test('voice names pick the engine family (case-insensitive prefixes)', () => {
  for (const v of ['man', 'woman', 'alice', 'Polly.Joanna', 'Polly.Joanna-Neural', 'Google.en-US-Standard-C', 'espeak.en-gb', '', 'Elevenlabsish'])
    assert.equal(routeForVoice(v), 'default', v);
  for (const v of ['ElevenLabs.JBFqnCBsd6RMkjVDRZzb', 'elevenlabs.x', 'ELEVENLABS', ' ElevenLabs.x ']) assert.equal(routeForVoice(v), 'elevenlabs', v);
  for (const v of ['OpenAI.nova', 'openai.Coral', 'OPENAI']) assert.equal(routeForVoice(v), 'openai', v);
});

test('each voice reaches its engine, with the request untouched', async () => {
  const espeak = new RecordingTts('espeak-ng');
  const eleven = new RecordingTts('elevenlabs:eleven_flash_v2_5:ulaw_8000');
  const openai = new RecordingTts('openai:gpt-4o-mini-tts');
  const warnings: string[] = [];
  const router = new TtsRouter({ default: espeak, elevenLabs: eleven, openAi: openai, onWarning: (m) => warnings.push(m) });
  assert.equal(router.name, 'router(espeak-ng,elevenlabs:eleven_flash_v2_5:ulaw_8000,openai:gpt-4o-mini-tts)');
  await router.synthesize(req('Polly.Joanna'));
  await router.synthesize(req('elevenlabs.AbC'));
  await router.synthesize({ ...req('OpenAI.nova'), text: '<break time="1s"/>Hi', ssml: true });
  await router.synthesize(req('alice'));
  assert.deepEqual(espeak.calls.map((c) => c.voice), ['Polly.Joanna', 'alice']);
  assert.deepEqual(eleven.calls, [req('elevenlabs.AbC')]);
  assert.deepEqual(openai.calls, [{ ...req('OpenAI.nova'), text: '<break time="1s"/>Hi', ssml: true }]);
  assert.deepEqual(warnings, []);
  await router.close();
  assert.ok(espeak.closed && eleven.closed && openai.closed);
});

test('a cloud voice without its engine falls back to the default engine, warning once per engine', async () => {
  const espeak = new RecordingTts('espeak-ng');
  const warnings: string[] = [];
  const router = new TtsRouter({ default: espeak, onWarning: (m) => warnings.push(m) });
  assert.equal(router.name, 'router(espeak-ng)', 'the name changes with the configuration (cache keys follow it)');
  await router.synthesize(req('ElevenLabs.abc'));
  await router.synthesize(req('ElevenLabs.def'));
  await router.synthesize(req('OpenAI.nova'));
  assert.equal(espeak.calls.length, 3);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /"ElevenLabs\.abc" needs the ElevenLabs engine, which is not configured/);
  assert.match(warnings[1]!, /OpenAI engine/);
});

test('synthesizeStream streams through the chosen engine, and gives non-streaming engines one chunk', async () => {
  const espeak = new RecordingTts('espeak-ng');
  const openai = new RecordingTts('openai:gpt-4o-mini-tts', true);
  const router = new TtsRouter({ default: espeak, openAi: openai });
  const streamed: SynthesizedAudio[] = [];
  for await (const c of router.synthesizeStream(req('OpenAI.nova'))) streamed.push(c);
  assert.deepEqual(streamed.map((c) => [...c.samples]), [[1], [2]]);
  const whole = await collectAudio(router.synthesizeStream(req('man')));
  assert.deepEqual([...whole.samples], [1, 2, 3]);
  assert.equal(openai.calls.length, 1);
  assert.equal(espeak.calls.length, 1);
});
