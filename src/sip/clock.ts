/**
 * Injectable clock for every SIP timer (transactions, dialogs, idle connections).
 *
 * Protocol timers go through this interface so tests can drive RFC 3261 Timers A–K with a fake
 * clock instead of sleeping; production uses `systemClock` (Node's own timers).
 */

/** Opaque handle returned by `Clock.setTimeout`. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds, monotonic enough for timeouts (only differences are used). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
