/**
 * The process-wide media clock: one drift-free 20 ms tick that paces every outgoing RTP stream.
 *
 * A timer per call would drift (each setTimeout fires late and the error accumulates) and cost
 * one event-loop wake-up per call per frame. Instead tick n is due at `start + n * frameMs` on a
 * monotonic time source; each timer is armed for the *remaining* time to the next due tick, so
 * lateness never accumulates. If the loop falls a little behind, the due ticks run back to back
 * (a receiver's jitter buffer absorbs that); if it falls more than `maxBehindTicks` behind (GC
 * pause, blocked loop), the missed ticks are skipped and counted rather than sent as a burst.
 */
import { performance } from 'node:perf_hooks';

export interface MediaClockOptions {
  /** Frame duration; 20 ms is G.711's customary ptime. */
  frameMs?: number;
  /** Monotonic milliseconds. Default: performance.now(). */
  now?: () => number;
  /** Arms a one-shot timer. Default: setTimeout. */
  schedule?: (fn: () => void, ms: number) => unknown;
  /** Cancels what `schedule` returned. Default: clearTimeout (only used with the default schedule). */
  cancel?: (handle: unknown) => void;
  /** Ticks more than this many frames overdue are skipped instead of run back to back. Default 3. */
  maxBehindTicks?: number;
  /** A tick that runs more than this late counts in `stats.lateTicks`. Default 5 ms. */
  lateThresholdMs?: number;
  /**
   * Receives errors thrown by subscribers (the other subscribers still run). Default: rethrown
   * asynchronously, so an unhandled subscriber bug is loud rather than silently lost.
   */
  onError?: (err: unknown) => void;
  /**
   * Timers have 1 ms granularity and wake late; with a margin > 0 the timer is armed this many ms
   * early and the last stretch is waited precisely (sub-millisecond) by `waitPrecisely`, blocking the
   * thread without burning CPU. 0 disables it. Default 0.
   */
  precisionMarginMs?: number;
  /** Blocks the thread for `ms` (fractional). Default: Atomics.wait on a private buffer. */
  waitPrecisely?: (ms: number) => void;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` milliseconds (fractional) without spinning. */
function atomicsSleep(ms: number): void {
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
}

export interface MediaClockStats {
  ticks: number;
  lateTicks: number;
  skipped: number;
  maxLatenessMs: number;
}

export type TickListener = (tick: number) => void;

export class MediaClock {
  readonly frameMs: number;
  readonly stats: MediaClockStats = { ticks: 0, lateTicks: 0, skipped: 0, maxLatenessMs: 0 };
  /** How late (ms) the tick being dispatched (or the last one) ran; RTP sessions report it. */
  lastLatenessMs = 0;

  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => unknown;
  private readonly cancel: (handle: unknown) => void;
  private readonly maxBehindTicks: number;
  private readonly lateThresholdMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly precisionMarginMs: number;
  private readonly waitPrecisely: (ms: number) => void;
  private listeners: TickListener[] = [];
  private running = false;
  private startTime = 0;
  private nextTick = 0;
  private timer: unknown = undefined;
  private readonly fire = (): void => this.onTimer();

  constructor(opts: MediaClockOptions = {}) {
    this.frameMs = opts.frameMs ?? 20;
    if (!(this.frameMs > 0)) throw new RangeError('frameMs must be positive');
    this.now = opts.now ?? (() => performance.now());
    if (opts.schedule) {
      this.schedule = opts.schedule;
      this.cancel = opts.cancel ?? (() => undefined);
    } else {
      this.schedule = (fn, ms) => setTimeout(fn, ms);
      this.cancel = (h) => clearTimeout(h as ReturnType<typeof setTimeout>);
    }
    this.maxBehindTicks = opts.maxBehindTicks ?? 3;
    this.lateThresholdMs = opts.lateThresholdMs ?? 5;
    this.precisionMarginMs = Math.max(0, opts.precisionMarginMs ?? 0);
    this.waitPrecisely = opts.waitPrecisely ?? atomicsSleep;
    this.onError =
      opts.onError ??
      ((err) => {
        queueMicrotask(() => {
          throw err;
        });
      });
  }

  get isRunning(): boolean {
    return this.running;
  }

  get subscriberCount(): number {
    return this.listeners.length;
  }

  /** Call `fn` on every tick; returns the unsubscribe function. */
  subscribe(fn: TickListener): () => void {
    // Copy-on-write: dispatch iterates a snapshot, so (un)subscribing inside a tick is safe.
    this.listeners = [...this.listeners, fn];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startTime = this.now();
    this.nextTick = 0;
    this.arm();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) this.cancel(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const due = this.startTime + this.nextTick * this.frameMs;
    this.timer = this.schedule(this.fire, Math.max(0, due - this.precisionMarginMs - this.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.running) return;
    if (this.precisionMarginMs > 0) {
      // Woken early on purpose: wait out the rest precisely so the tick starts on time.
      const early = this.startTime + this.nextTick * this.frameMs - this.now();
      if (early > 0) this.waitPrecisely(Math.min(early, this.precisionMarginMs));
    }
    const now = this.now();
    // Index of the latest tick whose due time has passed.
    const latestDue = Math.floor((now - this.startTime) / this.frameMs);
    if (latestDue - this.nextTick >= this.maxBehindTicks) {
      // Too far behind: drop the backlog, keep only the newest tick, so receivers see a gap
      // in timestamps rather than a burst of packets.
      this.stats.skipped += latestDue - this.nextTick;
      this.nextTick = latestDue;
    }
    while (this.nextTick <= latestDue && this.running) {
      const lateness = now - (this.startTime + this.nextTick * this.frameMs);
      this.dispatch(this.nextTick, lateness);
      this.nextTick++;
    }
    if (this.running) this.arm();
  }

  private dispatch(tick: number, lateness: number): void {
    this.stats.ticks++;
    this.lastLatenessMs = lateness;
    if (lateness > this.lateThresholdMs) this.stats.lateTicks++;
    if (lateness > this.stats.maxLatenessMs) this.stats.maxLatenessMs = lateness;
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](tick);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
