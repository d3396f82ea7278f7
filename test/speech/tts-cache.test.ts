import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CachedTts } from '../../src/speech/tts-cache.js';
import { TtsError, type SynthesisRequest, type SynthesizedAudio, type TextToSpeech } from '../../src/speech/text-to-speech.js';
import { ElevenLabsTts } from '../../src/speech/elevenlabs-tts.js';
import { FakeElevenLabsServer } from './fakes/fake-elevenlabs-server.js';

/** A deterministic engine that records its calls; `gate` lets a test hold synthesis open. */
class FakeTts implements TextToSpeech {
  readonly name = 'fake';
  calls: SynthesisRequest[] = [];
  failNext = false;
  gate: Promise<void> = Promise.resolve();
  closed = false;

  async synthesize(req: SynthesisRequest): Promise<SynthesizedAudio> {
    this.calls.push(req);
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new TtsError('engine-failed', 'fake failure');
    }
    const samples = Int16Array.from({ length: 800 + req.text.length }, (_, i) => ((i * 37 + req.text.length * 1000) % 65536) - 32768);
    return { samples, sampleRate: 8000 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'patchbay-tts-'));
  dirs.push(d);
  return d;
}

const hello: SynthesisRequest = { text: 'Hello world', voice: 'alice', language: 'en-US' };

test('the second identical request is a memory hit: no inner call', async () => {
  const inner = new FakeTts();
  const tts = new CachedTts(inner, { cacheDir: await tempDir() });
  assert.equal(tts.name, 'fake');
  const a = await tts.synthesize(hello);
  const b = await tts.synthesize({ ...hello });
  assert.equal(inner.calls.length, 1);
  assert.equal(b, a);
  assert.deepEqual(tts.stats, { memoryHits: 1, diskHits: 0, syntheses: 1 });
});

test('the cache survives a new instance (disk), sample-exact', async () => {
  const cacheDir = await tempDir();
  const inner = new FakeTts();
  const original = await new CachedTts(inner, { cacheDir }).synthesize(hello);
  const files = await readdir(cacheDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^[0-9a-f]{64}\.wav$/);

  const fresh = new FakeTts();
  const restarted = new CachedTts(fresh, { cacheDir });
  const again = await restarted.synthesize(hello);
  assert.equal(fresh.calls.length, 0);
  assert.equal(restarted.stats.diskHits, 1);
  assert.equal(again.sampleRate, 8000);
  assert.deepEqual(again.samples, original.samples);
});

test('voice, language, text and SSML are all part of the key', async () => {
  const inner = new FakeTts();
  const tts = new CachedTts(inner, { cacheDir: await tempDir() });
  await tts.synthesize(hello);
  await tts.synthesize({ ...hello, voice: 'man' });
  await tts.synthesize({ ...hello, language: 'en-GB' });
  await tts.synthesize({ ...hello, text: 'Hello world!' });
  await tts.synthesize({ ...hello, ssml: true });
  assert.equal(inner.calls.length, 5);
  const keys = new Set([hello, { ...hello, voice: 'man' }, { ...hello, ssml: false }].map((r) => tts.keyFor(r)));
  assert.equal(keys.size, 2, 'ssml: false and absent are the same request');
});

test('concurrent identical requests share one synthesis; an aborting caller leaves the others', async () => {
  const inner = new FakeTts();
  let release!: () => void;
  inner.gate = new Promise((resolve) => (release = resolve));
  const tts = new CachedTts(inner, { cacheDir: await tempDir() });
  const ac = new AbortController();
  const waiting = [tts.synthesize(hello), tts.synthesize(hello), tts.synthesize(hello, ac.signal)];
  ac.abort();
  await assert.rejects(waiting[2]!, (err: unknown) => err instanceof TtsError && err.code === 'aborted');
  release();
  const [a, b] = await Promise.all(waiting.slice(0, 2));
  assert.equal(inner.calls.length, 1);
  assert.equal(a, b);
});

test('failures are not cached, and an unreadable cache file is reported and replaced', async () => {
  const cacheDir = await tempDir();
  const inner = new FakeTts();
  const reported: Error[] = [];
  const tts = new CachedTts(inner, { cacheDir, onCacheError: (e) => reported.push(e) });
  inner.failNext = true;
  await assert.rejects(tts.synthesize(hello), /fake failure/);
  await tts.synthesize(hello);
  assert.equal(inner.calls.length, 2, 'the failed request was retried');

  await writeFile(join(cacheDir, `${tts.keyFor(hello)}.wav`), 'garbage');
  const other = new CachedTts(inner, { cacheDir, onCacheError: (e) => reported.push(e) });
  const audio = await other.synthesize(hello);
  assert.equal(inner.calls.length, 3);
  assert.equal(reported.length, 1);
  assert.match(reported[0]!.message, /unreadable TTS cache file/);
  assert.equal(audio.samples.length, 800 + hello.text.length);
  await other.close();
  assert.ok(inner.closed, 'close() reaches the inner engine');
});

test('memory is bounded by bytes: the least recently used entry is evicted', async () => {
  const inner = new FakeTts();
  // Each entry is ~1.6 KB; room for two.
  const tts = new CachedTts(inner, { cacheDir: await tempDir(), maxMemoryBytes: 3500 });
  await tts.synthesize({ ...hello, text: 'one' });
  await tts.synthesize({ ...hello, text: 'two' });
  await tts.synthesize({ ...hello, text: 'one' }); // touch: "two" is now the oldest
  await tts.synthesize({ ...hello, text: 'three' });
  assert.equal(tts.stats.memoryHits, 1);
  await tts.synthesize({ ...hello, text: 'one' });
  assert.equal(tts.stats.memoryHits, 2, '"one" stayed in memory');
  await tts.synthesize({ ...hello, text: 'two' });
  assert.equal(tts.stats.diskHits, 1, '"two" was evicted and came back from disk');
  assert.equal(inner.calls.length, 3);
});

/** A streaming engine whose chunks the test releases one by one; it records aborts. */
class StreamingTts implements TextToSpeech {
  readonly name = 'streaming-fake';
  calls = 0;
  aborted = 0;
  private releases: (() => void)[] = [];
  private waiting: (() => void)[] = [];

  /** Lets the engine produce its next chunk. */
  next(): void {
    const r = this.releases.shift();
    if (r) r();
    else this.waiting.push(() => this.next());
  }

  async synthesize(): Promise<SynthesizedAudio> {
    throw new Error('the cache must use synthesizeStream when the engine has it');
  }

  async *synthesizeStream(req: SynthesisRequest, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    this.calls++;
    signal?.addEventListener('abort', () => this.aborted++, { once: true });
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        this.releases.push(resolve);
        signal?.addEventListener(
          'abort',
          () => {
            this.releases = this.releases.filter((r) => r !== resolve);
            reject(new TtsError('aborted', 'stopped'));
          },
          { once: true },
        );
        this.waiting.shift()?.();
      });
      yield { samples: new Int16Array(100).fill(i + req.text.length), sampleRate: 16000 };
    }
  }
}

test('streaming miss: chunks reach the caller as they come and are cached; the repeat is one chunk from memory', { timeout: 10_000 }, async () => {
  const inner = new StreamingTts();
  const tts = new CachedTts(inner, { cacheDir: await tempDir() });
  const got: SynthesizedAudio[] = [];
  const stream = tts.synthesizeStream(hello)[Symbol.asyncIterator]();
  inner.next();
  got.push((await stream.next()).value as SynthesizedAudio); // before the engine made chunk 2
  assert.equal(got[0]!.samples[0], hello.text.length);
  inner.next();
  inner.next();
  for (let r = await stream.next(); !r.done; r = await stream.next()) got.push(r.value);
  assert.equal(got.length, 3);
  const again: SynthesizedAudio[] = [];
  for await (const c of tts.synthesizeStream(hello)) again.push(c);
  assert.equal(again.length, 1);
  assert.equal(again[0]!.samples.length, 300);
  assert.equal(again[0]!.sampleRate, 16000);
  assert.deepEqual(tts.stats, { memoryHits: 1, diskHits: 0, syntheses: 1 });
  assert.equal(inner.calls, 1);
});

test('a listener joining a synthesis under way gets every chunk; when all listeners leave, the engine is stopped and nothing cached', { timeout: 10_000 }, async () => {
  const inner = new StreamingTts();
  const tts = new CachedTts(inner, { cacheDir: await tempDir() });
  const first = tts.synthesizeStream(hello)[Symbol.asyncIterator]();
  inner.next();
  await first.next();
  const late = tts.synthesize(hello); // joins after chunk 1
  inner.next();
  inner.next();
  const whole = await late;
  assert.equal(whole.samples.length, 300, 'the late listener got the chunk made before it joined');
  assert.equal(inner.calls, 1);

  const ac = new AbortController();
  const other = { ...hello, text: 'Something else' };
  const lone = tts.synthesizeStream(other, ac.signal)[Symbol.asyncIterator]();
  inner.next();
  await lone.next();
  ac.abort();
  await assert.rejects(lone.next(), (e: unknown) => e instanceof TtsError && e.code === 'aborted');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(inner.aborted, 1, 'nobody listens any more: the engine was told to stop');
  const retry = tts.synthesizeStream(other)[Symbol.asyncIterator]();
  const pending = retry.next();
  inner.next();
  await pending;
  assert.equal(inner.calls, 3, 'the aborted synthesis was not cached');
  await retry.return(undefined);
});

test('the second identical ElevenLabs request is served by the cache without reaching the provider', async () => {
  const fake = await new FakeElevenLabsServer('k').start();
  try {
    const tts = new CachedTts(new ElevenLabsTts({ apiKey: 'k', baseUrl: fake.baseUrl }), { cacheDir: await tempDir() });
    const req = { text: 'Your call is important to us.', voice: 'ElevenLabs.JBFqnCBsd6RMkjVDRZzb', language: 'en-US' };
    const chunks: SynthesizedAudio[] = [];
    for await (const c of tts.synthesizeStream(req)) chunks.push(c);
    assert.ok(chunks.length >= 1);
    const again = await tts.synthesize(req);
    const streamedAgain: SynthesizedAudio[] = [];
    for await (const c of tts.synthesizeStream(req)) streamedAgain.push(c);
    assert.equal(fake.requests.length, 1);
    assert.deepEqual(again.samples, FakeElevenLabsServer.expectedAudio(req.text, 'ulaw_8000'));
    assert.equal(streamedAgain.length, 1);
    assert.equal(streamedAgain[0], again);
  } finally {
    await fake.close();
  }
});
