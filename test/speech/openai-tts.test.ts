import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAiTts, openAiVoice } from '../../src/speech/openai-tts.js';
import { TtsError, type SynthesizedAudio } from '../../src/speech/text-to-speech.js';
import { FakeOpenAiSpeechServer } from './fakes/fake-openai-speech-server.js';

const KEY = 'sk-test';
const fake = new FakeOpenAiSpeechServer(KEY);
before(() => fake.start());
after(() => fake.close());

function engine(extra: Partial<ConstructorParameters<typeof OpenAiTts>[0]> = {}): OpenAiTts {
  return new OpenAiTts({ apiKey: KEY, baseUrl: fake.baseUrl, ...extra });
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<TtsError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected a TtsError ${code}`),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof TtsError, `not a TtsError: ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

test('the request is the documented one: path, Bearer key, JSON body; pcm is 24 kHz s16le', async () => {
  fake.requests.length = 0;
  const audio = await engine().synthesize({ text: 'Hello world', voice: 'OpenAI.Coral', language: 'en-US' });
  assert.equal(fake.requests.length, 1);
  const req = fake.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/v1/audio/speech');
  assert.equal([...req.query].length, 0);
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(req.body, {
    model: 'gpt-4o-mini-tts',
    input: 'Hello world',
    voice: 'coral',
    response_format: 'pcm',
    instructions: 'Speak in American English.',
  });
  assert.equal(audio.sampleRate, 24_000);
  assert.deepEqual(audio.samples, FakeOpenAiSpeechServer.expectedAudio('Hello world'));
});

test('instructions: the configured style plus the language; none for tts-1', async () => {
  fake.requests.length = 0;
  await engine({ instructions: 'Calm and friendly.', speed: 1.25 }).synthesize({ text: 'Bonjour', voice: 'openai.nova', language: 'fr-FR' });
  await engine({ model: 'tts-1' }).synthesize({ text: 'Bonjour', voice: 'OpenAI.alloy', language: 'fr-FR' });
  await engine().synthesize({ text: 'Hi', voice: 'man', language: '' });
  assert.deepEqual(fake.requests.map((r) => r.body), [
    { model: 'gpt-4o-mini-tts', input: 'Bonjour', voice: 'nova', response_format: 'pcm', instructions: 'Calm and friendly. Speak in French (France).', speed: 1.25 },
    { model: 'tts-1', input: 'Bonjour', voice: 'alloy', response_format: 'pcm' },
    { model: 'gpt-4o-mini-tts', input: 'Hi', voice: 'alloy', response_format: 'pcm' },
  ]);
});

test('audio streams: the first chunk arrives while the provider is still holding the rest', { timeout: 10_000 }, async () => {
  let open!: () => void;
  fake.gate = new Promise((resolve) => (open = resolve));
  try {
    const text = 'Thank you for calling. Please hold while we connect you.';
    const chunks: SynthesizedAudio[] = [];
    for await (const chunk of engine().synthesizeStream({ text, voice: 'OpenAI.alloy', language: 'en-US' })) {
      chunks.push(chunk);
      if (chunks.length === 1) {
        // 301 bytes on the wire: 150 whole samples, the odd byte waits for the next chunk.
        assert.equal(chunk.samples.length, 150);
        open();
      }
    }
    const all = new Int16Array(chunks.reduce((n, c) => n + c.samples.length, 0));
    let o = 0;
    for (const c of chunks) (all.set(c.samples, o), (o += c.samples.length));
    assert.deepEqual(all, FakeOpenAiSpeechServer.expectedAudio(text));
  } finally {
    fake.gate = undefined;
  }
});

test('provider errors map to codes with the provider message', async () => {
  const bad = new OpenAiTts({ apiKey: 'sk-wrong', baseUrl: fake.baseUrl });
  const e401 = await rejectsWith(bad.synthesize({ text: 'hi', voice: 'OpenAI.alloy', language: 'en' }), 'unauthorized', /invalid_api_key: Incorrect API key provided/);
  assert.equal(e401.httpStatus, 401);
  await rejectsWith(engine().synthesize({ text: 'hi', voice: 'OpenAI.Robot', language: 'en' }), 'invalid-request', /Invalid value for 'voice'/);
  fake.failNext = { status: 429, message: 'Rate limit reached for requests' };
  await rejectsWith(engine().synthesize({ text: 'hi', voice: 'OpenAI.alloy', language: 'en' }), 'rate-limited', /Rate limit reached/);
  fake.failNext = { status: 500, message: 'The server had an error while processing your request.' };
  await rejectsWith(engine().synthesize({ text: 'hi', voice: 'OpenAI.alloy', language: 'en' }), 'unavailable', /HTTP 500: The server had an error/);
  fake.misbehave = 'stall-before-answer';
  await rejectsWith(engine({ timeoutMs: 150 }).synthesize({ text: 'hi', voice: 'OpenAI.alloy', language: 'en' }), 'timeout');
});

test('aborting mid-stream aborts the HTTP request', { timeout: 10_000 }, async () => {
  fake.gate = new Promise(() => undefined);
  try {
    const ac = new AbortController();
    const gone = fake.clientGone();
    let chunks = 0;
    const iterate = (async () => {
      for await (const _ of engine().synthesizeStream({ text: 'a sentence long enough for two chunks', voice: 'OpenAI.alloy', language: 'en' }, ac.signal)) {
        chunks++;
        ac.abort();
      }
    })();
    await rejectsWith(iterate, 'aborted');
    assert.equal(chunks, 1);
    await gone;
  } finally {
    fake.gate = undefined;
  }
});

test('SSML: plain words, long breaks as real silence, short ones as commas', async () => {
  fake.requests.length = 0;
  const fragment = '<p>Your code is <say-as interpret-as="digits">123</say-as><break strength="weak"/> I repeat</p><break time="1s"/><emphasis level="strong">Goodbye</emphasis>';
  const audio = await engine().synthesize({ text: fragment, voice: 'OpenAI.alloy', language: '', ssml: true });
  const inputs = fake.requests.map((r) => (r.body as { input: string }).input);
  assert.deepEqual(inputs, ['Your code is 1 2 3, I repeat', 'Goodbye']);
  const first = FakeOpenAiSpeechServer.expectedAudio(inputs[0]!).length;
  assert.equal(audio.samples.length, first + 24_000 + FakeOpenAiSpeechServer.expectedAudio('Goodbye').length);
  assert.ok(audio.samples.subarray(first, first + 24_000).every((s) => s === 0));
});

test('input over 4,096 characters is split at sentence boundaries into several requests', async () => {
  fake.requests.length = 0;
  const sentence = 'This sentence is exactly fifty characters long ok. ';
  const text = sentence.repeat(100).trim(); // 5,099 characters
  const audio = await engine().synthesize({ text, voice: 'OpenAI.alloy', language: '' });
  const inputs = fake.requests.map((r) => (r.body as { input: string }).input);
  assert.equal(inputs.length, 2);
  assert.ok(inputs.every((i) => i.length <= 4096 && i.endsWith('ok.')));
  assert.equal(inputs.join(' '), text);
  assert.equal(audio.samples.length, inputs.reduce((n, i) => n + FakeOpenAiSpeechServer.expectedAudio(i).length, 0));
});

test('voice names', () => {
  assert.equal(openAiVoice('OpenAI.Nova'), 'nova');
  assert.equal(openAiVoice('openai.shimmer'), 'shimmer');
  assert.equal(openAiVoice('OpenAI.voice_1234'), 'voice_1234');
  assert.equal(openAiVoice('OpenAI'), undefined);
  assert.equal(openAiVoice('alice'), undefined);
});
