// Runs the real Debian pocketsphinx_continuous (packages pocketsphinx, pocketsphinx-en-us) on the
// spoken fixtures in test/fixtures/speech (see its README), fed like a live call: 8 kHz, 20 ms frames.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWav } from '../../src/media/wav.js';
import { PocketsphinxRecognizer, type PocketsphinxStream } from '../../src/speech/pocketsphinx-recognizer.js';
import { SttError, type RecognitionOptions, type RecognitionResult } from '../../src/speech/speech-recognizer.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/speech');
const MENU = ['sales', 'support', 'billing', 'operator', 'yes', 'no', 'customer service'];
const FRAME = 160; // 20 ms at 8 kHz

const recognizer = new PocketsphinxRecognizer();
after(() => recognizer.close());

function options(over: Partial<RecognitionOptions> = {}): RecognitionOptions {
  return { language: 'en-US', hints: MENU, sampleRate: 8000, interimResults: false, profanityFilter: true, ...over };
}

function fixture(name: string): Int16Array {
  const audio = decodeWav(readFileSync(join(FIXTURES, name)));
  assert.equal(audio.sampleRate, 8000);
  const x = audio.samples[0]!;
  const pcm = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32768)));
  return pcm;
}

function writeFrames(stream: PocketsphinxStream, pcm: Int16Array): void {
  for (let i = 0; i < pcm.length; i += FRAME) stream.write(pcm.subarray(i, i + FRAME));
}

async function recognize(pcm: Int16Array, opts = options()): Promise<{ result: RecognitionResult | null; finals: RecognitionResult[]; stream: PocketsphinxStream }> {
  const finals: RecognitionResult[] = [];
  const stream = await recognizer.open(opts, { final: (r) => finals.push(r), error: (e) => assert.fail(e) });
  writeFrames(stream, pcm);
  return { result: await stream.finish(), finals, stream };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Pids in a process group whose command is `comm` (Linux /proc). */
function groupMembers(pgid: number, comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp ...
      if (Number(fields[2]) === pgid && comm.startsWith(name)) pids.push(Number(entry));
    } catch {
      // The process exited between readdir and read: not a member any more.
    }
  }
  return pids;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

const WORD_FIXTURES = readdirSync(FIXTURES).filter((f) => /^(sales|support|billing|operator|yes|no|customer-service)-(us|gb)\.wav$/.test(f));

test('fixtures: at least two voices of every menu word are present', () => {
  assert.equal(WORD_FIXTURES.length, 14);
});

for (const name of WORD_FIXTURES) {
  test(`recognises ${name} among all menu hints`, async () => {
    const pcm = fixture(name);
    const { result, finals } = await recognize(pcm);
    const expected = name.replace(/-(us|gb)\.wav$/, '').replace('-', ' ');
    assert.equal(result?.transcript, expected);
    assert.equal(finals.length, 1);
    assert.deepEqual(finals[0], result);
    // Each clip has 0.5 s of silence before and after the word; times are in input (8 kHz) time.
    const durationMs = (pcm.length / 8000) * 1000;
    assert.ok(result!.startMs >= 400 && result!.startMs < result!.endMs && result!.endMs <= durationMs - 300, JSON.stringify(result));
    // The grammar search has no posteriors: confidence is 0, never the CLI's placeholder 1.0.
    assert.equal(result!.confidence, 0);
  });
}

test('a word outside the hints is never reported as a confident match', async () => {
  const { result } = await recognize(fixture('banana-us.wav'));
  // With no garbage path the grammar may map it to the nearest hint, but only ever to a hint, and
  // with confidence 0 so an app (or Gather's minimum confidence) can tell it is unverified.
  if (result) {
    assert.ok(MENU.includes(result.transcript), result.transcript);
    assert.equal(result.confidence, 0);
  }
});

test('silence: no finals and finish() resolves null', async () => {
  const { result, finals } = await recognize(new Int16Array(8000 * 2));
  assert.equal(result, null);
  assert.deepEqual(finals, []);
});

test('two words separated by 1 s of silence: two finals, in order, with input-time offsets', async () => {
  const { result, finals } = await recognize(fixture('sales-pause-billing-us.wav'));
  assert.deepEqual(finals.map((f) => f.transcript), ['sales', 'billing']);
  assert.ok(finals[1]!.startMs - finals[0]!.endMs >= 800, JSON.stringify(finals));
  assert.deepEqual(result, { transcript: 'sales billing', confidence: 0, startMs: finals[0]!.startMs, endMs: finals[1]!.endMs });
});

test('a long stream written at once (stdin backpressure) keeps times relative to the first sample', async () => {
  const word = fixture('sales-us.wav');
  const pcm = new Int16Array(8000 * 20 + word.length);
  pcm.set(word, 8000 * 20);
  const { result, finals } = await recognize(pcm);
  assert.equal(result?.transcript, 'sales');
  assert.equal(finals.length, 1);
  assert.ok(result!.startMs >= 20_400 && result!.endMs <= 20_000 + (word.length / 8000) * 1000, JSON.stringify(result));
});

test('hints with words missing from the dictionary are dropped, the rest still work', async () => {
  const { result, stream } = await recognize(fixture('support-us.wav'), options({ hints: ['Sales!', 'zzyzxq plan', 'support'] }));
  assert.equal(stream.search.kind, 'grammar');
  assert.deepEqual(stream.search.dropped, [{ hint: 'zzyzxq plan', reason: 'unknown-words', unknownWords: ['zzyzxq'] }]);
  assert.equal(result?.transcript, 'support');
});

test('only unknown hints: falls back to the language model without crashing', async () => {
  const { stream, result } = await recognize(fixture('yes-us.wav'), options({ hints: ['zzyzxq'] }));
  assert.equal(stream.search.kind, 'language-model');
  // The general model is poor on phone audio; only check that it decodes and reports posteriors in range.
  if (result) assert.ok(result.confidence >= 0 && result.confidence <= 1);
});

test('abort() kills the decoder process group; finish() then rejects with aborted', async () => {
  const finals: RecognitionResult[] = [];
  const stream = await recognizer.open(options(), { final: (r) => finals.push(r) });
  await stream.ready;
  assert.equal(groupMembers(stream.processGroup, 'pocketsphinx_continuous').length, 1);
  writeFrames(stream, fixture('sales-us.wav').subarray(0, 4000));
  stream.abort();
  await assert.rejects(stream.finish(), (e: unknown) => e instanceof SttError && e.code === 'aborted');
  await waitFor(() => !groupAlive(stream.processGroup), 'process group gone after abort');
  assert.deepEqual(finals, []);
});

test('an AbortSignal aborts an open stream', async () => {
  const ac = new AbortController();
  const stream = await recognizer.open(options(), {}, ac.signal);
  await stream.ready;
  ac.abort();
  await assert.rejects(stream.finish(), (e: unknown) => e instanceof SttError && e.code === 'aborted');
  await waitFor(() => !groupAlive(stream.processGroup), 'process group gone after signal');
});

test('an already aborted signal: open() rejects aborted without starting a decoder', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(recognizer.open(options(), {}, ac.signal), (e: unknown) => e instanceof SttError && e.code === 'aborted');
});

test('decoder crash: events.error and finish() rejects engine-failed; stdin EPIPE is not an unhandled error', async () => {
  const errors: SttError[] = [];
  const stream = await recognizer.open(options(), { error: (e) => errors.push(e) });
  await stream.ready;
  const [decoder] = groupMembers(stream.processGroup, 'pocketsphinx_continuous');
  assert.ok(decoder);
  process.kill(decoder, 'SIGKILL');
  // Keep writing into the dead pipeline, as a live call would until it learns of the failure.
  for (let i = 0; i < 200; i++) stream.write(new Int16Array(FRAME));
  await assert.rejects(stream.finish(), (e: unknown) => e instanceof SttError && e.code === 'engine-failed');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'engine-failed');
  assert.match(errors[0]!.message, /killed by signal 9/);
  await waitFor(() => !groupAlive(stream.processGroup), 'no leftover processes after a crash');
});

test('maxConcurrent: further opens wait for a free decoder and can be cancelled while waiting', async () => {
  const one = new PocketsphinxRecognizer({ maxConcurrent: 1 });
  try {
    const first = await one.open(options(), {});
    const ac = new AbortController();
    let settled = false;
    const queued = one.open(options(), {}, ac.signal).finally(() => (settled = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'second open waits while the only decoder is busy');
    ac.abort();
    await assert.rejects(queued, (e: unknown) => e instanceof SttError && e.code === 'aborted');
    const third = one.open(options(), {});
    assert.equal(await first.finish(), null);
    const stream = await third;
    writeFrames(stream, fixture('no-us.wav'));
    assert.equal((await stream.finish())?.transcript, 'no');
  } finally {
    await one.close();
  }
});

test('missing binary or model: open() rejects unavailable, naming the Debian packages', async () => {
  for (const rec of [new PocketsphinxRecognizer({ binary: '/nonexistent/pocketsphinx_continuous' }), new PocketsphinxRecognizer({ modelDir: '/nonexistent/model' })]) {
    await assert.rejects(rec.open(options(), {}), (e: unknown) => e instanceof SttError && e.code === 'unavailable' && e.message.includes('pocketsphinx pocketsphinx-en-us'));
  }
});

test('languages other than English: invalid-request', async () => {
  for (const language of ['fr-FR', 'es', 'de-DE', 'en-AU']) {
    await assert.rejects(recognizer.open(options({ language }), {}), (e: unknown) => e instanceof SttError && e.code === 'invalid-request');
  }
  for (const language of ['en', 'en-GB', 'en-us']) {
    const stream = await recognizer.open(options({ language }), {});
    assert.equal(await stream.finish(), null);
  }
});

test('latency: open → decoder ready, and finish → result for a 1 s word (measured, not asserted)', async (t) => {
  const pcm = fixture('sales-us.wav').subarray(0, 8000 * 1.5);
  const t0 = performance.now();
  const stream = await recognizer.open(options(), {});
  const opened = performance.now();
  await stream.ready;
  const ready = performance.now();
  writeFrames(stream, pcm);
  const t1 = performance.now();
  const result = await stream.finish();
  const done = performance.now();
  assert.equal(result?.transcript, 'sales');
  t.diagnostic(`open ${(opened - t0).toFixed(1)} ms, ready ${(ready - t0).toFixed(1)} ms, finish→result ${(done - t1).toFixed(1)} ms`);
});
