import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { decodeWav } from '../../src/media/wav.js';
import { OpenAiRecognizer, iso639_1 } from '../../src/speech/openai-recognizer.js';
import { SttError, type RecognitionOptions, type RecognitionResult } from '../../src/speech/speech-recognizer.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeOpenAiTranscriptionServer } from './fakes/fake-openai-transcription-server.js';

const KEY = 'sk-test-key';

function request(over: Partial<RecognitionOptions> = {}): RecognitionOptions {
  return { language: 'en-US', hints: [], sampleRate: 8000, interimResults: true, profanityFilter: true, ...over };
}

function ramp(n: number, offset = 0): Int16Array {
  const f = new Int16Array(n);
  for (let i = 0; i < n; i++) f[i] = ((offset + i) % 4000) - 2000;
  return f;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail(`expected SttError ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SttError, `expected SttError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
}

test('BCP 47 tags map to ISO 639-1', () => {
  assert.equal(iso639_1('en-US'), 'en');
  assert.equal(iso639_1('PT-br'), 'pt');
  assert.equal(iso639_1('zh-CN'), 'zh');
  assert.equal(iso639_1('iw-IL'), 'he');
  assert.equal(iso639_1('yue-HK'), undefined, 'no two-letter code: let the model detect');
  assert.equal(iso639_1(''), undefined);
});

test('posts the buffered audio as a WAV with model, language, prompt and include[]=logprobs; confidence from logprobs', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    fake.reply = { kind: 'transcription', text: ' Billing, please. ', logprobs: [-0.1, -0.2, -0.3] };
    const finals: RecognitionResult[] = [];
    const stream = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl }).open(
      request({ hints: ['billing', ' customer service ', ''] }),
      { final: (r) => finals.push(r), partial: () => assert.fail('no partials from a batch engine') },
    );
    const frames: Int16Array[] = [];
    for (let i = 0; i < 75; i++) {
      const f = ramp(160, i * 160);
      frames.push(f.slice());
      stream.write(f);
      f.fill(0); // callers reuse their buffers: the adapter must have copied
    }
    assert.equal(fake.requests.length, 0, 'nothing is sent before finish()');
    const result = await stream.finish();

    assert.equal(fake.requests.length, 1);
    const req = fake.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/audio/transcriptions');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    assert.deepEqual(req.fields, [
      ['model', 'gpt-4o-transcribe'],
      ['response_format', 'json'],
      ['language', 'en'],
      ['prompt', 'billing, customer service'],
      ['include[]', 'logprobs'],
    ]);
    assert.equal(req.file?.name, 'audio.wav');
    assert.equal(req.file?.type, 'audio/wav');
    const wav = decodeWav(req.file!.bytes);
    assert.equal(wav.sampleRate, 8000);
    assert.equal(wav.channels, 1);
    assert.equal(wav.samples[0]!.length, 75 * 160);
    const sent = Int16Array.from(wav.samples[0]!, (x) => Math.round(x * 32768));
    assert.deepEqual(sent.slice(0, 320), Int16Array.from([...frames[0]!, ...frames[1]!]));

    const expected = { transcript: 'Billing, please.', confidence: Math.exp(-0.2), startMs: 0, endMs: 1500 };
    assert.equal(result?.transcript, expected.transcript);
    assert.ok(Math.abs(result!.confidence - expected.confidence) < 1e-12);
    assert.equal(result?.startMs, 0);
    assert.equal(result?.endMs, 1500);
    assert.deepEqual(finals, [result]);
  } finally {
    await fake.close();
  }
});

test('whisper-1 (request model wins) gets no include[]; no logprobs → confidence 0; empty text → null', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    const openai = new OpenAiRecognizer({ apiKey: KEY, baseUrl: `${fake.baseUrl}/`, model: 'gpt-4o-mini-transcribe' });
    fake.reply = { kind: 'transcription', text: 'yes', logprobs: [-0.5] };
    let stream = await openai.open(request({ model: 'whisper-1', language: 'yue-HK' }), {});
    stream.write(ramp(800));
    assert.deepEqual(await stream.finish(), { transcript: 'yes', confidence: 0, startMs: 0, endMs: 100 });
    assert.deepEqual(fake.requests[0]!.fields, [
      ['model', 'whisper-1'],
      ['response_format', 'json'],
    ]);

    fake.reply = { kind: 'transcription', text: '  ' };
    stream = await openai.open(request(), {});
    stream.write(ramp(800));
    assert.equal(await stream.finish(), null);
    assert.equal(fake.requests[1]!.fields[0]![1], 'gpt-4o-mini-transcribe');

    stream = await openai.open(request(), {});
    assert.equal(await stream.finish(), null, 'no audio: no request');
    assert.equal(fake.requests.length, 2);
  } finally {
    await fake.close();
  }
});

test('audio is bounded: only the first maxAudioMs are sent', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    fake.reply = { kind: 'transcription', text: 'long' };
    const stream = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, maxAudioMs: 1000 }).open(request(), {});
    for (let i = 0; i < 75; i++) stream.write(ramp(160)); // 1.5 s
    const result = await stream.finish();
    assert.equal(decodeWav(fake.requests[0]!.file!.bytes).samples[0]!.length, 8000);
    assert.equal(result?.endMs, 1000);
  } finally {
    await fake.close();
  }
});

test('HTTP errors map to codes and carry the provider\'s message', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    let stream = await new OpenAiRecognizer({ apiKey: 'sk-wrong', baseUrl: fake.baseUrl }).open(request(), {});
    stream.write(ramp(160));
    await rejectsWith(stream.finish(), 'unauthorized', /HTTP 401: Incorrect API key provided/);

    const openai = new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl });
    for (const [status, code, type] of [
      [429, 'engine-failed', 'requests'],
      [500, 'engine-failed', 'server_error'],
      [503, 'engine-failed', 'server_error'],
      [400, 'invalid-request', 'invalid_request_error'],
    ] as const) {
      fake.reply = { kind: 'error', status, message: `scripted failure ${status}`, type };
      stream = await openai.open(request(), {});
      stream.write(ramp(160));
      await rejectsWith(stream.finish(), code, new RegExp(`HTTP ${status}: scripted failure ${status}`));
    }
    await rejectsWith(new OpenAiRecognizer({ apiKey: '', baseUrl: fake.baseUrl }).open(request(), {}), 'unauthorized');
  } finally {
    await fake.close();
  }
});

test('nothing listening → "unavailable"', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const stream = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}` }).open(request(), {});
  stream.write(ramp(160));
  await rejectsWith(stream.finish(), 'unavailable', /ECONNREFUSED/);
});

test('a server that never answers → "timeout" at requestTimeoutMs', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    fake.reply = { kind: 'hang' };
    const clock = new FakeClock();
    const stream = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, requestTimeoutMs: 7000, clock }).open(request(), {});
    stream.write(ramp(160));
    const finishing = stream.finish();
    await fake.waitForRequests(1);
    clock.advance(6999);
    clock.advance(1);
    await rejectsWith(finishing, 'timeout', /7000 ms/);
    assert.equal(clock.pending, 0);
  } finally {
    await fake.close();
  }
});

test('abort mid-request (signal) cancels the upload and rejects finish() with "aborted"', async () => {
  const fake = await FakeOpenAiTranscriptionServer.start(KEY);
  try {
    fake.reply = { kind: 'hang' };
    const clock = new FakeClock();
    const ac = new AbortController();
    const finals: RecognitionResult[] = [];
    const stream = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, clock }).open(request(), { final: (r) => finals.push(r) }, ac.signal);
    stream.write(ramp(160));
    const finishing = stream.finish();
    await fake.waitForRequests(1);
    ac.abort();
    await rejectsWith(finishing, 'aborted');
    assert.equal(clock.pending, 0, 'request timer released');
    assert.deepEqual(finals, []);

    // abort() before finish(): no request at all.
    const early = await new OpenAiRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl }).open(request(), {});
    early.write(ramp(160));
    early.abort();
    await rejectsWith(early.finish(), 'aborted');
    assert.equal(fake.requests.length, 1);
  } finally {
    await fake.close();
  }
});
