// AudioOutput: gapless, sample-accurate concatenation and the three ways a play ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AudioOutput } from '../../src/media/audio-output.js';

/** A clip whose samples are first, first+1, ... so continuity is easy to check. */
function ramp(first: number, length: number): Int16Array {
  const a = new Int16Array(length);
  for (let i = 0; i < length; i++) a[i] = first + i;
  return a;
}

test('two 250-sample clips play as one continuous stream of 160-sample frames', async () => {
  const out = new AudioOutput();
  const first = out.play(ramp(1, 250));
  const second = out.play(ramp(251, 250));
  assert.equal(out.queuedSamples, 500);
  const frame = new Int16Array(160);
  const got: number[] = [];
  const settled: string[] = [];
  void first.then((r) => settled.push(`first:${r}`));
  void second.then((r) => settled.push(`second:${r}`));

  assert.equal(out.pullFrame(frame), true); // samples 1..160
  got.push(...frame);
  assert.equal(out.pullFrame(frame), true); // 161..250 from clip 1, then 251..320 from clip 2 in the same frame
  got.push(...frame);
  assert.equal(await first, 'finished'); // its last sample has been pulled
  assert.equal(out.pullFrame(frame), true); // 321..480
  got.push(...frame);
  assert.equal(out.pullFrame(frame), true); // 481..500, then silence
  got.push(...frame);
  assert.equal(await second, 'finished');
  assert.deepEqual(got.slice(0, 500), Array.from({ length: 500 }, (_, i) => i + 1));
  assert.ok(got.slice(500).every((s) => s === 0));
  assert.equal(out.pullFrame(frame), false); // idle
  assert.ok(frame.every((s) => s === 0));
  assert.equal(out.queuedSamples, 0);
  assert.deepEqual(settled, ['first:finished', 'second:finished']);
});

test('a clip is not finished until its last sample is pulled', async () => {
  const out = new AudioOutput();
  let done = false;
  void out.play(ramp(1, 320)).then(() => (done = true));
  const frame = new Int16Array(160);
  out.pullFrame(frame);
  await Promise.resolve();
  assert.equal(done, false);
  out.pullFrame(frame);
  await Promise.resolve();
  assert.equal(done, true);
});

test('abort drops the rest of that clip at once; the next clip follows seamlessly', async () => {
  const out = new AudioOutput();
  const ac = new AbortController();
  const a = out.play(ramp(1, 1000), ac.signal);
  const b = out.play(ramp(5001, 100));
  const frame = new Int16Array(160);
  out.pullFrame(frame); // 1..160 of clip a
  ac.abort();
  assert.equal(await a, 'aborted');
  assert.equal(out.queuedSamples, 100);
  out.pullFrame(frame);
  assert.deepEqual([...frame.subarray(0, 100)], Array.from({ length: 100 }, (_, i) => 5001 + i));
  assert.equal(await b, 'finished');
});

test('an already-aborted signal never queues; clear() resolves everything "cleared"', async () => {
  const out = new AudioOutput();
  const ac = new AbortController();
  ac.abort();
  assert.equal(await out.play(ramp(1, 10), ac.signal), 'aborted');
  assert.equal(out.queuedSamples, 0);
  const live = new AbortController();
  const p1 = out.play(ramp(1, 500), live.signal);
  const p2 = out.play(ramp(1, 500));
  out.clear();
  assert.deepEqual(await Promise.all([p1, p2]), ['cleared', 'cleared']);
  assert.equal(out.queuedSamples, 0);
  assert.equal(out.pullFrame(new Int16Array(160)), false);
  live.abort(); // listener was removed: no effect, no throw
});

test('empty clips finish when reached and do not stall the queue', async () => {
  const out = new AudioOutput();
  const e = out.play(new Int16Array(0));
  const r = out.play(ramp(1, 10));
  const frame = new Int16Array(160);
  assert.equal(out.pullFrame(frame), true);
  assert.equal(await e, 'finished');
  assert.equal(await r, 'finished');
  assert.equal(frame[0], 1);
});
