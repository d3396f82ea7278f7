/**
 * Per-account admission for inbound calls: at most `maxLiveCalls` calls of one account live at once
 * (every call the account owns counts: inbound, outbound and dialled legs), and at most
 * `callsPerSecond` new inbound calls per second, with a burst of `burstSeconds` worth.
 *
 * On a shared install one tenant's numbers must not be able to take the whole server: a flood of
 * calls to one number (or a runaway app dialling itself) ends at that account's limit, and every
 * other account keeps its capacity. Live calls are counted from the registry's own events, so the
 * check is O(1) per INVITE and cannot drift from what is really live.
 */
import type { Clock } from '../sip/clock.js';
import type { Call } from './call.js';
import type { CallRegistry } from './call-registry.js';

export interface AccountCallLimitsOptions {
  /** Live calls per account; 0 = no limit. */
  maxLiveCalls: number;
  /** New inbound calls per second per account; 0 = no limit. */
  callsPerSecond: number;
  /** Seconds' worth of calls that may arrive at once (default 2). */
  burstSeconds?: number;
  clock: Clock;
}

export type AccountAdmission = { admitted: true } | { admitted: false; limit: 'account-calls' | 'account-rate' };

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets untouched this long are full again and can be forgotten. */
const IDLE_BUCKET_MS = 60_000;

export class AccountCallLimits {
  private readonly live = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private lastSweep = 0;

  constructor(private readonly opts: AccountCallLimitsOptions, registry: CallRegistry) {
    this.burst = Math.max(1, opts.callsPerSecond * (opts.burstSeconds ?? 2));
    registry.on('call', (call: Call) => this.live.set(call.info.accountSid, this.liveCalls(call.info.accountSid) + 1));
    registry.on('call-ended', (call: Call) => {
      const sid = call.info.accountSid;
      const left = this.liveCalls(sid) - 1;
      if (left > 0) this.live.set(sid, left);
      else this.live.delete(sid);
    });
  }

  liveCalls(accountSid: string): number {
    return this.live.get(accountSid) ?? 0;
  }

  /**
   * Whether one more inbound call of `accountSid` may start now; an admitted call takes a token.
   * Call it synchronously just before the call is added to the registry, so two INVITEs cannot
   * both take the last slot.
   */
  admitInbound(accountSid: string): AccountAdmission {
    const { maxLiveCalls, callsPerSecond } = this.opts;
    if (maxLiveCalls > 0 && this.liveCalls(accountSid) >= maxLiveCalls) return { admitted: false, limit: 'account-calls' };
    if (callsPerSecond > 0 && !this.takeToken(accountSid)) return { admitted: false, limit: 'account-rate' };
    return { admitted: true };
  }

  private takeToken(accountSid: string): boolean {
    const now = this.opts.clock.now();
    this.sweep(now);
    const b = this.buckets.get(accountSid) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.opts.callsPerSecond);
    b.at = now;
    this.buckets.set(accountSid, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets full buckets now and then, so the table holds only accounts that are calling. */
  private sweep(now: number): void {
    if (now - this.lastSweep < IDLE_BUCKET_MS) return;
    this.lastSweep = now;
    for (const [sid, b] of this.buckets) if (now - b.at >= IDLE_BUCKET_MS) this.buckets.delete(sid);
  }
}
