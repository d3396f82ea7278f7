// RelayQueue on its own: re-chunking, the depth cap, the standing-queue trim, skip and counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayQueue } from '../../src/media/relay-queue.js';

function seq(from: number, n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => from + i);
}

test('odd-sized pushes come out as whole frames in order; a partial frame is not sent', () => {
  const q = new RelayQueue({ frameSamples: 4, maxDepthFrames: 5, trimWindowTicks: 0 });
  q.push(seq(0, 3));
  const out = new Int16Array(4).fill(-1);
  assert.equal(q.pullFrame(out), false);
  assert.deepEqual(Array.from(out), [-1, -1, -1, -1]); // untouched on underrun
  q.push(seq(3, 6)); // completes frame 0..3 and 4..7, leaves 8 pending
  assert.equal(q.depth, 2);
  assert.equal(q.pullFrame(out), true);
  assert.deepEqual(Array.from(out), [0, 1, 2, 3]);
  q.push(seq(9, 3));
  assert.equal(q.pullFrame(out), true);
  assert.deepEqual(Array.from(out), [4, 5, 6, 7]);
  assert.equal(q.pullFrame(out), true);
  assert.deepEqual(Array.from(out), [8, 9, 10, 11]);
  assert.deepEqual(q.stats, { framesIn: 3, framesOut: 3, dropped: 0, underruns: 1 });
});

test('beyond maxDepthFrames the oldest complete frame is dropped, also inside one big push', () => {
  const q = new RelayQueue({ frameSamples: 2, maxDepthFrames: 2, trimWindowTicks: 0 });
  q.push(seq(0, 11)); // frames [0,1] [2,3] [4,5] [6,7] [8,9], 10 pending
  assert.equal(q.depth, 2);
  const out = new Int16Array(2);
  q.pullFrame(out);
  assert.deepEqual(Array.from(out), [6, 7]);
  q.push(seq(11, 1));
  q.pullFrame(out);
  assert.deepEqual(Array.from(out), [8, 9]);
  q.pullFrame(out);
  assert.deepEqual(Array.from(out), [10, 11]);
  assert.deepEqual(q.stats, { framesIn: 6, framesOut: 3, dropped: 3, underruns: 0 });
});

test('a frame left over after every pull for the trim window is dropped once (standing delay cut)', () => {
  const q = new RelayQueue({ frameSamples: 2, maxDepthFrames: 3, trimWindowTicks: 5 });
  const out = new Int16Array(2);
  let v = 0;
  const frame = (): Int16Array => seq((v += 2) - 2, 2);
  q.push(frame()); // one extra frame: from now on one always waits behind the tick
  const sent: number[] = [];
  for (let t = 0; t < 8; t++) {
    q.push(frame());
    q.pullFrame(out);
    sent.push(out[0]!);
  }
  // Pulls 1-5 leave one frame behind; the fifth trims it, so pull 6 sends the frame pushed just before it.
  assert.deepEqual(sent, [0, 2, 4, 6, 8, 12, 14, 16]);
  assert.equal(q.stats.dropped, 1);
  assert.equal(q.depth, 0);
});

test('jitter that empties the queue now and then never triggers the trim', () => {
  const q = new RelayQueue({ frameSamples: 2, maxDepthFrames: 3, trimWindowTicks: 5 });
  const out = new Int16Array(2);
  for (let t = 0; t < 40; t++) {
    q.push(seq(t, 2));
    if (t % 4 === 0) q.push(seq(t, 2)); // an early packet: one frame waits...
    q.pullFrame(out);
    if (t % 4 === 3) q.pullFrame(out); // ...until a late one drains it
  }
  assert.equal(q.stats.dropped, 0);
});

test('skipFrame consumes the oldest frame without counting it as sent, dropped or an underrun', () => {
  const q = new RelayQueue({ frameSamples: 2, maxDepthFrames: 3 });
  q.push(seq(0, 4));
  q.skipFrame();
  q.skipFrame();
  q.skipFrame(); // nothing left: harmless
  assert.equal(q.depth, 0);
  assert.deepEqual(q.stats, { framesIn: 2, framesOut: 0, dropped: 0, underruns: 0 });
  q.push(seq(10, 3));
  q.clear();
  q.push(seq(20, 2));
  const out = new Int16Array(2);
  assert.equal(q.pullFrame(out), true);
  assert.deepEqual(Array.from(out), [20, 21]); // clear() also dropped the partial frame
});

test('bad options are refused', () => {
  assert.throws(() => new RelayQueue({ frameSamples: 0, maxDepthFrames: 3 }), RangeError);
  assert.throws(() => new RelayQueue({ frameSamples: 160, maxDepthFrames: 0 }), RangeError);
});
