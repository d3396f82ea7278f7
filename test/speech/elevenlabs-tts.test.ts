import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ElevenLabsTts, elevenLabsLanguage, elevenLabsVoiceId } from '../../src/speech/elevenlabs-tts.js';
import { TtsError, type SynthesizedAudio } from '../../src/speech/text-to-speech.js';
import { FakeElevenLabsServer } from './fakes/fake-elevenlabs-server.js';

const KEY = 'xi-test-key';
const VOICE = 'JBFqnCBsd6RMkjVDRZzb';
const fake = new FakeElevenLabsServer(KEY);
before(() => fake.start());
after(() => fake.close());

function engine(extra: Partial<ConstructorParameters<typeof ElevenLabsTts>[0]> = {}): ElevenLabsTts {
  return new ElevenLabsTts({ apiKey: KEY, baseUrl: fake.baseUrl, ...extra });
}

function concat(chunks: SynthesizedAudio[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c.samples, o);
    o += c.samples.length;
  }
  return out;
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

test('the request is the documented one: path, output_format, xi-api-key, JSON body', async () => {
  fake.requests.length = 0;
  const audio = await engine().synthesize({ text: 'Hello world', voice: `ElevenLabs.${VOICE}`, language: 'en-US' });
  assert.equal(fake.requests.length, 1);
  const req = fake.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, `/v1/text-to-speech/${VOICE}/stream`);
  assert.deepEqual([...req.query], [['output_format', 'ulaw_8000']]);
  assert.equal(req.headers['xi-api-key'], KEY);
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers.authorization, undefined, 'the key travels in xi-api-key only');
  assert.deepEqual(req.body, { text: 'Hello world', model_id: 'eleven_flash_v2_5', language_code: 'en' });
  assert.equal(audio.sampleRate, 8000);
  assert.deepEqual(audio.samples, FakeElevenLabsServer.expectedAudio('Hello world', 'ulaw_8000'));
});

test('audio streams: the first chunk arrives while the provider is still holding the rest', { timeout: 10_000 }, async () => {
  let open!: () => void;
  fake.gate = new Promise((resolve) => (open = resolve));
  try {
    const text = 'A long enough sentence to need several chunks of audio on the wire.';
    const chunks: SynthesizedAudio[] = [];
    for await (const chunk of engine().synthesizeStream({ text, voice: `elevenlabs.${VOICE}`, language: 'en-US' })) {
      chunks.push(chunk);
      if (chunks.length === 1) {
        assert.ok(chunk.samples.length > 0 && chunk.samples.length <= fake.chunkBytes);
        open(); // a client that waited for the whole body would never get here: the test would time out
      }
    }
    assert.ok(chunks.length >= 2);
    assert.deepEqual(concat(chunks), FakeElevenLabsServer.expectedAudio(text, 'ulaw_8000'));
  } finally {
    fake.gate = undefined;
  }
});

test('pcm_16000: 16-bit samples split across network chunks are reassembled exactly', async () => {
  fake.requests.length = 0;
  const tts = engine({ outputFormat: 'pcm_16000', model: 'eleven_multilingual_v2' });
  assert.equal(tts.name, 'elevenlabs:eleven_multilingual_v2:pcm_16000');
  const audio = await tts.synthesize({ text: 'Bonjour tout le monde', voice: `ElevenLabs.${VOICE}`, language: 'fr-FR' });
  assert.equal(audio.sampleRate, 16000);
  assert.deepEqual(audio.samples, FakeElevenLabsServer.expectedAudio('Bonjour tout le monde', 'pcm_16000'));
  assert.equal(fake.requests[0]!.query.get('output_format'), 'pcm_16000');
  assert.deepEqual(fake.requests[0]!.body, { text: 'Bonjour tout le monde', model_id: 'eleven_multilingual_v2' }, 'language_code only for models that take it');
});

test('provider errors map to codes with the provider message', async () => {
  const bad = new ElevenLabsTts({ apiKey: 'wrong', baseUrl: fake.baseUrl });
  const unauthorized = await rejectsWith(bad.synthesize({ text: 'hi', voice: `ElevenLabs.${VOICE}`, language: 'en' }), 'unauthorized', /invalid_api_key: Invalid API key/);
  assert.equal(unauthorized.httpStatus, 401);
  await rejectsWith(engine().synthesize({ text: 'hi', voice: 'ElevenLabs.nope', language: 'en' }), 'invalid-request', /HTTP 400: voice_not_found/);
  await rejectsWith(engine().synthesize({ text: 'hi', voice: 'ElevenLabs', language: 'en' }), 'invalid-request', /no voice id/);
});

test('network failure is "unavailable"; silence is "timeout"; a cut stream is "unavailable"', { timeout: 10_000 }, async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const nowhere = new ElevenLabsTts({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}` });
  await rejectsWith(nowhere.synthesize({ text: 'hi', voice: `ElevenLabs.${VOICE}`, language: 'en' }), 'unavailable', /ECONNREFUSED/);

  const quick = engine({ timeoutMs: 150 });
  fake.misbehave = 'stall-before-answer';
  await rejectsWith(quick.synthesize({ text: 'hi', voice: `ElevenLabs.${VOICE}`, language: 'en' }), 'timeout', /no answer/);

  fake.misbehave = 'stall-mid-stream';
  const got: SynthesizedAudio[] = [];
  await rejectsWith(
    (async () => {
      for await (const c of quick.synthesizeStream({ text: 'a sentence long enough for two chunks and more of them', voice: `ElevenLabs.${VOICE}`, language: 'en' })) got.push(c);
    })(),
    'timeout',
    /no audio/,
  );
  assert.equal(got.length, 1, 'the audio before the stall was delivered');

  fake.misbehave = 'cut-mid-stream';
  await rejectsWith(engine().synthesize({ text: 'a sentence long enough for two chunks and more of them', voice: `ElevenLabs.${VOICE}`, language: 'en' }), 'unavailable');
});

test('aborting mid-stream aborts the HTTP request', { timeout: 10_000 }, async () => {
  fake.gate = new Promise(() => undefined); // the provider would hold the rest forever
  try {
    const ac = new AbortController();
    const gone = fake.clientGone();
    const iterate = (async () => {
      for await (const _ of engine().synthesizeStream({ text: 'a sentence long enough for two chunks and more', voice: `ElevenLabs.${VOICE}`, language: 'en' }, ac.signal)) {
        ac.abort(new Error('caller hung up'));
      }
    })();
    await rejectsWith(iterate, 'aborted');
    await gone; // the server saw the connection close before the body ended
  } finally {
    fake.gate = undefined;
  }
});

test('SSML: breaks inline up to 3 s, longer ones as real silence between two requests', async () => {
  fake.requests.length = 0;
  const fragment = 'Welcome<break time="1500ms"/>to Patchbay.<break time="5s"/>Goodbye!';
  const audio = await engine().synthesize({ text: fragment, voice: `ElevenLabs.${VOICE}`, language: 'en-GB', ssml: true });
  assert.deepEqual(
    fake.requests.map((r) => (r.body as { text: string }).text),
    ['Welcome <break time="1.5s" /> to Patchbay.', 'Goodbye!'],
  );
  const first = FakeElevenLabsServer.expectedAudio('Welcome <break time="1.5s" /> to Patchbay.', 'ulaw_8000');
  const second = FakeElevenLabsServer.expectedAudio('Goodbye!', 'ulaw_8000');
  assert.equal(audio.samples.length, first.length + 5 * 8000 + second.length);
  assert.ok(audio.samples.subarray(first.length, first.length + 40000).every((s) => s === 0), '5 s of silence in between');
  assert.deepEqual(audio.samples.subarray(first.length + 40000), second);
});

test('SSML: <phoneme> only for the models that read it', async () => {
  const fragment = 'Say <phoneme alphabet="cmu-arpabet" ph="T AH0 M EY1 T OW0">tomato</phoneme> <sub alias="please">pls</sub>';
  fake.requests.length = 0;
  await engine({ model: 'eleven_flash_v2' }).synthesize({ text: fragment, voice: `ElevenLabs.${VOICE}`, language: 'en-US', ssml: true });
  await engine().synthesize({ text: fragment, voice: `ElevenLabs.${VOICE}`, language: 'en-US', ssml: true });
  assert.deepEqual(fake.requests.map((r) => (r.body as { text: string }).text), [
    'Say <phoneme alphabet="cmu-arpabet" ph="T AH0 M EY1 T OW0">tomato</phoneme> please',
    'Say tomato please',
  ]);
});

test('voice ids and languages', () => {
  assert.equal(elevenLabsVoiceId('ElevenLabs.JBFqnCBsd6RMkjVDRZzb'), 'JBFqnCBsd6RMkjVDRZzb');
  assert.equal(elevenLabsVoiceId('elevenlabs.AbC'), 'AbC', 'prefix case-insensitive, id case kept');
  assert.equal(elevenLabsVoiceId('ElevenLabs'), undefined);
  assert.equal(elevenLabsVoiceId('Polly.Joanna'), undefined);
  assert.equal(elevenLabsLanguage('pt-BR'), 'pt');
  assert.equal(elevenLabsLanguage('cmn-CN'), 'zh');
  assert.equal(elevenLabsLanguage(''), undefined);
});
