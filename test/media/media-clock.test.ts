// MediaClock with a fake monotonic time source and a fake timer that fires when the test says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaClock } from '../../src/media/media-clock.js';

/** A timer we fire by hand, `lateMs` after its due time, as a busy event loop would. */
class FakeTime {
  now = 1000; // arbitrary origin: the clock must not assume 0
  private pending: { fn: () => void; at: number } | null = null;
  readonly opts = {
    now: () => this.now,
    schedule: (fn: () => void, ms: number) => {
      assert.ok(ms >= 0, 'negative delay');
      assert.equal(this.pending, null, 'two timers armed at once');
      this.pending = { fn, at: this.now + ms };
      return this.pending;
    },
    cancel: () => {
      this.pending = null;
    },
  };
  get armed(): boolean {
    return this.pending !== null;
  }
  fire(lateMs: number): void {
    const p = this.pending;
    assert.ok(p, 'no timer armed');
    this.pending = null;
    this.now = Math.max(this.now, p.at + lateMs);
    p.fn();
  }
}

test('drift-free over 10,000 ticks although every timer fires late', () => {
  const t = new FakeTime();
  const clock = new MediaClock(t.opts);
  const start = t.now;
  const seen: number[] = [];
  let worst = 0;
  clock.subscribe((tick) => {
    seen.push(tick);
    worst = Math.max(worst, t.now - (start + tick * 20));
  });
  clock.start();
  let seed = 7;
  while (seen.length < 10_000) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    t.fire(1 + (seed % 15)); // 1..15 ms late, every time
  }
  // Every tick ran, in order, with none skipped...
  for (let i = 0; i < seen.length; i++) assert.equal(seen[i], i);
  assert.equal(clock.stats.skipped, 0);
  // ...and tick 10,000 is still within one timer's lateness of start + n×20 ms: no accumulated drift.
  assert.ok(worst <= 15, `worst lateness ${worst} ms`);
  assert.ok(t.now - start < 10_000 * 20 + 20);
  assert.equal(clock.stats.ticks, seen.length);
  clock.stop();
});

test('a timer a little late runs the due ticks back to back', () => {
  const t = new FakeTime();
  const clock = new MediaClock(t.opts);
  const seen: number[] = [];
  clock.subscribe((tick) => seen.push(tick));
  clock.start();
  t.fire(0); // tick 0
  t.fire(45); // due at 20, fired at 65: ticks 1, 2 and 3 are due
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.equal(clock.stats.skipped, 0);
  assert.equal(clock.stats.lateTicks, 2); // 45 and 25 ms late; tick 3 is 5 ms late, not beyond the threshold
  assert.equal(clock.stats.maxLatenessMs, 45);
  clock.stop();
});

test('falling more than maxBehindTicks behind skips and counts instead of bursting', () => {
  const t = new FakeTime();
  const clock = new MediaClock({ ...t.opts, maxBehindTicks: 3 });
  const seen: number[] = [];
  clock.subscribe((tick) => seen.push(tick));
  clock.start();
  for (let i = 0; i < 5; i++) t.fire(0); // ticks 0..4
  t.fire(200); // tick 5 was due at 100; now 300: ticks 5..15 are due
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 15]);
  assert.equal(clock.stats.skipped, 10);
  assert.equal(clock.stats.maxLatenessMs, 0); // tick 15 itself ran on time (due at 300)
  t.fire(0);
  assert.deepEqual(seen.slice(-1), [16]);
  clock.stop();
});

test('stats record late ticks and the worst lateness', () => {
  const t = new FakeTime();
  const clock = new MediaClock({ ...t.opts, lateThresholdMs: 5 });
  clock.subscribe(() => undefined);
  clock.start();
  t.fire(0);
  t.fire(4);
  t.fire(12);
  t.fire(1);
  assert.equal(clock.stats.ticks, 4);
  assert.equal(clock.stats.lateTicks, 1);
  assert.equal(clock.stats.maxLatenessMs, 12);
  assert.equal(clock.lastLatenessMs, 1);
  clock.stop();
});

test('a throwing subscriber is reported and does not starve the others; unsubscribe and stop work', () => {
  const t = new FakeTime();
  const errors: unknown[] = [];
  const clock = new MediaClock({ ...t.opts, onError: (e) => errors.push(e) });
  let calls = 0;
  clock.subscribe(() => {
    throw new Error('boom');
  });
  const off = clock.subscribe(() => calls++);
  clock.start();
  t.fire(0);
  assert.equal(calls, 1);
  assert.equal(errors.length, 1);
  off();
  t.fire(0);
  assert.equal(calls, 1);
  assert.equal(clock.subscriberCount, 1);
  clock.stop();
  assert.equal(t.armed, false);
  assert.equal(clock.isRunning, false);
});

test('runs on real timers too (no timing assertion beyond "it ticks")', async () => {
  const clock = new MediaClock();
  let ticks = 0;
  clock.subscribe(() => ticks++);
  clock.start();
  await new Promise((r) => setTimeout(r, 120));
  clock.stop();
  assert.ok(ticks >= 2, `only ${ticks} ticks in 120 ms`);
});

test('with a precision margin, the timer is armed early and the rest is waited precisely', () => {
  const t = new FakeTime();
  const waits: number[] = [];
  const clock = new MediaClock({
    ...t.opts,
    precisionMarginMs: 2,
    waitPrecisely: (ms) => {
      waits.push(ms);
      t.now += ms; // the precise wait lets exactly that much time pass
    },
  });
  const start = t.now;
  const lateness: number[] = [];
  clock.subscribe((tick) => lateness.push(t.now - (start + tick * 20)));
  clock.start();
  t.fire(0); // tick 0 due immediately: no early wake, no wait
  for (let i = 0; i < 100; i++) t.fire(0.3); // woken 2 ms early (+0.3 ms timer lateness)
  assert.equal(lateness.length, 101);
  // Every tick after the first started exactly on time, and the waits covered the early margin.
  assert.ok(lateness.slice(1).every((l) => Math.abs(l) < 1e-9), `lateness ${lateness.slice(1, 5)}`);
  assert.equal(waits.length, 100);
  assert.ok(waits.every((w) => Math.abs(w - 1.7) < 1e-9), `waits ${waits.slice(0, 3)}`);
  // A timer that fires after the due time waits nothing.
  t.fire(5);
  assert.equal(waits.length, 100);
  clock.stop();
});
