/**
 * Deterministic clock for timer tests: time only moves when the test calls `advance`/`runAll`.
 * Timers due at the same instant fire in the order they were scheduled.
 */
import type { Clock, TimerHandle } from '../../src/sip/clock.js';

interface FakeTimer {
  id: number;
  due: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private current = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.timers.set(t.id, t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Number of timers still scheduled (a stopped component must leave none). */
  get pending(): number {
    return this.timers.size;
  }

  /** Delays of the scheduled timers relative to now, sorted (for asserting what is armed). */
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.due - this.current).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.current = next.due;
      this.timers.delete(next.id);
      next.fn();
    }
    this.current = target;
  }

  /** Fires timers until none remain (bounded to catch runaway rescheduling). */
  runAll(maxTimers = 10_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const next = this.earliest();
      if (!next) return;
      this.current = next.due;
      this.timers.delete(next.id);
      next.fn();
    }
    throw new Error('FakeClock.runAll: timers keep rescheduling');
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers.values()) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}
