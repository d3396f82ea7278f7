/**
 * RFC 3261 §17 timer values (Table 4) and a small named-timer set used by the transactions.
 *
 * T1 (RTT estimate), T2 (max non-INVITE retransmit interval) and T4 (max time a message stays in
 * the network) are configurable so tests and LAN deployments can shrink them; every other timer is
 * derived from them exactly as Table 4 says. Timers that only absorb retransmissions (D, I, J, K)
 * are zero on reliable transports (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
 */
import type { Clock, TimerHandle } from './clock.js';

export interface TimerConfig {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMERS: Readonly<TimerConfig> = { t1: 500, t2: 4000, t4: 5000 };

/** Timer names from RFC 3261 Table 4, plus L and M from RFC 6026 §8.4. */
export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M' | 'CANCEL';

/** Initial duration of a timer, in ms. `reliable` is true for TCP/TLS/WS. */
export function timerDuration(name: TimerName, cfg: TimerConfig, reliable: boolean): number {
  switch (name) {
    case 'A':
    case 'E':
    case 'G':
      return cfg.t1; // retransmit timers; only ever started on unreliable transports
    case 'B':
    case 'F':
    case 'H':
    case 'L':
    case 'M':
    case 'CANCEL':
      return 64 * cfg.t1;
    case 'D':
      return reliable ? 0 : Math.max(32_000, 64 * cfg.t1); // "> 32s for UDP"
    case 'I':
    case 'K':
      return reliable ? 0 : cfg.t4;
    case 'J':
      return reliable ? 0 : 64 * cfg.t1;
  }
}

/** Named one-shot timers on an injectable clock; starting a running timer restarts it. */
export class TimerSet {
  private readonly handles = new Map<TimerName, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  start(name: TimerName, ms: number, fn: () => void): void {
    this.stop(name);
    const h = this.clock.setTimeout(() => {
      this.handles.delete(name);
      fn();
    }, ms);
    this.handles.set(name, h);
  }

  stop(name: TimerName): void {
    const h = this.handles.get(name);
    if (h !== undefined) {
      this.clock.clearTimeout(h);
      this.handles.delete(name);
    }
  }

  stopAll(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }

  has(name: TimerName): boolean {
    return this.handles.has(name);
  }
}
