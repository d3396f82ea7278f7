import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { DeepgramRecognizer } from '../../src/speech/deepgram-recognizer.js';
import { SttError, type RecognitionOptions, type RecognitionResult } from '../../src/speech/speech-recognizer.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeDeepgramServer, results, speechStarted, utteranceEnd } from './fakes/fake-deepgram-server.js';

const KEY = 'dg-test-key';

function request(over: Partial<RecognitionOptions> = {}): RecognitionOptions {
  return { language: 'en-US', hints: [], sampleRate: 8000, interimResults: false, profanityFilter: true, ...over };
}

/** 20 ms of 8 kHz audio, distinct values so byte order mistakes would show. */
function frame(seed: number): Int16Array {
  const f = new Int16Array(160);
  for (let i = 0; i < f.length; i++) f[i] = ((seed * 160 + i) % 2000) - 1000;
  return f;
}

function recorder() {
  const log = { partial: [] as RecognitionResult[], final: [] as RecognitionResult[], speech: [] as number[], errors: [] as SttError[] };
  const events = {
    partial: (r: RecognitionResult) => log.partial.push(r),
    final: (r: RecognitionResult) => log.final.push(r),
    speechStarted: (ms: number) => log.speech.push(ms),
    error: (e: SttError) => log.errors.push(e),
  };
  return { log, events };
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<SttError> {
  const err = await p.then(
    () => assert.fail(`expected SttError ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SttError, `expected SttError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

test('streams linear16 with the documented query and auth, joins is_final segments into utterances', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, model: 'nova-3' });
    const { log, events } = recorder();
    const stream = await dg.open(request({ hints: ['sales', 'customer service'], interimResults: true }), events);
    const session = await fake.nextSession();

    assert.equal(session.url.pathname, '/v1/listen');
    assert.equal(session.headers.authorization, `Token ${KEY}`);
    const q = session.url.searchParams;
    assert.equal(q.get('encoding'), 'linear16');
    assert.equal(q.get('sample_rate'), '8000');
    assert.equal(q.get('channels'), '1');
    assert.equal(q.get('model'), 'nova-3');
    assert.equal(q.get('language'), 'en-US');
    assert.equal(q.get('interim_results'), 'true');
    assert.equal(q.get('utterance_end_ms'), '1000');
    assert.equal(q.get('punctuate'), 'true');
    assert.equal(q.get('smart_format'), 'true');
    assert.equal(q.get('profanity_filter'), 'true');
    assert.equal(q.get('vad_events'), 'true');
    assert.equal(q.get('endpointing'), '300');
    assert.deepEqual(q.getAll('keyterm'), ['sales', 'customer service'], 'Nova-3 takes phrases as keyterms');
    assert.deepEqual(q.getAll('keywords'), []);

    for (let i = 0; i < 100; i++) stream.write(frame(i)); // 2 s
    stream.write(new Int16Array(0)); // must not become an (end-of-stream) empty frame
    await session.waitFor(() => session.audioBytes >= 100 * 320, 'all audio');
    assert.equal(session.audioBytes, 100 * 320);
    assert.equal(session.binaryFrames, 100);

    session.send(speechStarted(0.52));
    session.send(results({ transcript: 'I need', start: 0.5, duration: 0.4, isFinal: false, confidence: 0.7 }));
    session.send(results({ transcript: 'I need', start: 0.5, duration: 0.5, isFinal: true, confidence: 0.91 }));
    session.send(results({ transcript: 'sales', start: 1.0, duration: 0.3, isFinal: false, confidence: 0.6 }));
    session.send(results({ transcript: 'sales.', start: 1.0, duration: 0.45, isFinal: true, speechFinal: true, confidence: 0.95 }));
    // A second utterance, finalized by UtteranceEnd instead of speech_final.
    session.send(results({ transcript: 'please', start: 1.6, duration: 0.3, isFinal: true, confidence: 0.88 }));
    session.send(utteranceEnd(1.9));
    // The tail Deepgram finalizes after CloseStream.
    session.finalizeMessages = [results({ transcript: 'thanks', start: 1.95, duration: 0.05, isFinal: true, confidence: 0.8 })];

    const result = await stream.finish();
    assert.equal(session.closeStreamReceived, true);
    assert.deepEqual(session.textMessages.at(-1), { type: 'CloseStream' });
    assert.deepEqual(log.speech, [520]);
    assert.deepEqual(
      log.partial.map((p) => p.transcript),
      ['I need', 'I need sales'],
      'partials carry the utterance so far',
    );
    assert.deepEqual(log.final, [
      { transcript: 'I need sales.', confidence: 0.91, startMs: 500, endMs: 1450 },
      { transcript: 'please', confidence: 0.88, startMs: 1600, endMs: 1900 },
      { transcript: 'thanks', confidence: 0.8, startMs: 1950, endMs: 2000 },
    ]);
    assert.deepEqual(result, { transcript: 'I need sales. please thanks', confidence: 0.8, startMs: 500, endMs: 2000 });
    assert.deepEqual(log.errors, []);
    await session.waitFor(() => session.closed, 'socket closed');
  } finally {
    await fake.close();
  }
});

test('Nova-2 gets single-word keywords; no interim results means no utterance_end_ms; silence → null', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl.replace('ws:', 'http:'), endpointingMs: false, smartFormat: false });
    const stream = await dg.open(request({ model: 'nova-2', hints: ['customer service', 'sales', ' '], profanityFilter: false, language: 'fr-FR', sampleRate: 16000 }), {});
    const session = await fake.nextSession();
    const q = session.url.searchParams;
    assert.equal(q.get('model'), 'nova-2');
    assert.deepEqual(q.getAll('keywords'), ['customer', 'service', 'sales']);
    assert.deepEqual(q.getAll('keyterm'), []);
    assert.equal(q.get('utterance_end_ms'), null);
    assert.equal(q.get('endpointing'), 'false');
    assert.equal(q.get('smart_format'), 'false');
    assert.equal(q.get('profanity_filter'), 'false');
    assert.equal(q.get('language'), 'fr-FR');
    assert.equal(q.get('sample_rate'), '16000');
    stream.write(frame(1));
    session.finalizeMessages = [results({ transcript: '', start: 0, duration: 0.02, isFinal: true, speechFinal: true })];
    assert.equal(await stream.finish(), null);
  } finally {
    await fake.close();
  }
});

test('a refused key is "unauthorized", with Deepgram\'s dg-error reason', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const dg = new DeepgramRecognizer({ apiKey: 'wrong', baseUrl: fake.baseUrl });
    await rejectsWith(dg.open(request(), {}), 'unauthorized', /HTTP 401.*Invalid credentials/);
    assert.equal(fake.handshakes[0]!.headers.authorization, 'Token wrong');
    await rejectsWith(new DeepgramRecognizer({ apiKey: '', baseUrl: fake.baseUrl }).open(request(), {}), 'unauthorized');
    assert.equal(fake.handshakes.length, 1, 'no request without a key');
  } finally {
    await fake.close();
  }
  for (const [status, code] of [
    [403, 'unauthorized'],
    [400, 'invalid-request'],
    [429, 'unavailable'],
    [503, 'unavailable'],
  ] as const) {
    const refusing = await FakeDeepgramServer.start({ apiKey: KEY, handshake: status });
    try {
      await rejectsWith(new DeepgramRecognizer({ apiKey: KEY, baseUrl: refusing.baseUrl }).open(request(), {}), code, new RegExp(`HTTP ${status}`));
    } finally {
      await refusing.close();
    }
  }
});

test('nothing listening → "unavailable"', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: `ws://127.0.0.1:${port}` });
  await rejectsWith(dg.open(request(), {}), 'unavailable', /ECONNREFUSED/);
});

test('a handshake that never completes → "unavailable" at the connect timeout', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY, handshake: 'hang' });
  try {
    const clock = new FakeClock();
    const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, connectTimeoutMs: 3000, clock });
    const opening = dg.open(request(), {});
    await fake.waitForHandshakes(1);
    clock.advance(2999);
    clock.advance(1);
    await rejectsWith(opening, 'unavailable', /3000 ms/);
    assert.equal(clock.pending, 0);
  } finally {
    await fake.close();
  }
});

test('Deepgram never answering CloseStream → "timeout", socket closed, no timers left', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY, onCloseStream: 'ignore' });
  try {
    const clock = new FakeClock();
    const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, finishTimeoutMs: 2000, clock });
    const { log, events } = recorder();
    const stream = await dg.open(request(), events);
    const session = await fake.nextSession();
    stream.write(frame(0));
    const finishing = stream.finish();
    await session.waitFor(() => session.closeStreamReceived, 'CloseStream');
    clock.advance(2000);
    await rejectsWith(finishing, 'timeout');
    await session.waitFor(() => session.closed, 'client closing the socket');
    assert.equal(clock.pending, 0);
    assert.deepEqual(log.errors, [], 'reported once, through finish()');
    await rejectsWith(stream.finish(), 'timeout');
  } finally {
    await fake.close();
  }
});

test('abort through the signal mid-stream closes the socket and drops later results', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const clock = new FakeClock();
    const dg = new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, clock });
    const { log, events } = recorder();
    const ac = new AbortController();
    const stream = await dg.open(request(), events, ac.signal);
    const session = await fake.nextSession();
    stream.write(frame(0));
    await session.waitFor(() => session.audioBytes === 320, 'audio');
    ac.abort();
    await session.waitFor(() => session.closed, 'socket closed by abort');
    stream.write(frame(1));
    assert.equal(session.audioBytes, 320);
    await rejectsWith(stream.finish(), 'aborted');
    assert.deepEqual(log, { partial: [], final: [], speech: [], errors: [] });
    assert.equal(clock.pending, 0, 'keep-alive timer released');
  } finally {
    await fake.close();
  }
});

test('abort() while finish() is pending rejects it with "aborted"', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY, onCloseStream: 'ignore' });
  try {
    const stream = await new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl }).open(request(), {});
    const session = await fake.nextSession();
    const finishing = stream.finish();
    await session.waitFor(() => session.closeStreamReceived, 'CloseStream');
    stream.abort();
    await rejectsWith(finishing, 'aborted');
    await session.waitFor(() => session.closed, 'socket closed');
  } finally {
    await fake.close();
  }
});

test('an already-aborted signal never connects', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    await rejectsWith(new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl }).open(request(), {}, AbortSignal.abort()), 'aborted');
    assert.equal(fake.handshakes.length, 0);
  } finally {
    await fake.close();
  }
});

test('Deepgram closing with an error (NET-0001) → events.error "engine-failed", then finish() rejects', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const { log, events } = recorder();
    const stream = await new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl }).open(request(), events);
    const session = await fake.nextSession();
    session.closeWith(1011, 'NET-0001');
    await session.waitFor(() => session.closed, 'close');
    await new Promise((r) => setImmediate(r));
    assert.equal(log.errors.length, 1);
    assert.equal(log.errors[0]!.code, 'engine-failed');
    assert.match(log.errors[0]!.message, /1011 NET-0001/);
    await rejectsWith(stream.finish(), 'engine-failed', /NET-0001/);
  } finally {
    await fake.close();
  }
});

test('KeepAlive goes out as a text frame after keepAliveMs without audio, not while audio flows', async () => {
  const fake = await FakeDeepgramServer.start({ apiKey: KEY });
  try {
    const clock = new FakeClock();
    const stream = await new DeepgramRecognizer({ apiKey: KEY, baseUrl: fake.baseUrl, keepAliveMs: 4000, clock }).open(request(), {});
    const session = await fake.nextSession();
    for (let t = 0; t < 6000; t += 1000) {
      stream.write(frame(t));
      clock.advance(1000);
    }
    await session.waitFor(() => session.binaryFrames === 6, 'audio');
    assert.equal(session.keepAlives, 0, 'audio keeps the stream alive');
    clock.advance(4000);
    await session.waitFor(() => session.keepAlives === 1, 'a KeepAlive');
    clock.advance(4000);
    await session.waitFor(() => session.keepAlives === 2, 'a second KeepAlive');
    assert.deepEqual(session.textMessages, [{ type: 'KeepAlive' }, { type: 'KeepAlive' }]);
    assert.equal(await stream.finish(), null);
    assert.equal(clock.pending, 0);
  } finally {
    await fake.close();
  }
});
