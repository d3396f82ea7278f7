/**
 * Per-account admission for calls placed through the API: at most `maxConcurrent` of an account's
 * outbound calls are live at once, and they start at most `callsPerSecond` apart. A call over either
 * limit waits, in order, in the account's queue (Twilio's `queued` status) instead of failing; it
 * can be cancelled while waiting. Starts are spaced evenly (1/cps apart) rather than bursting at
 * the start of each second, which is kinder to the SIP peers being called.
 */
import type { Clock, TimerHandle } from '../sip/clock.js';

export interface OutboundLimits {
  maxConcurrent: number;
  callsPerSecond: number;
}

/** A call waiting for its turn. `start` resolves when the call has ended (its slot is then free). */
export interface QueuedCall {
  start(): Promise<void>;
}

interface AccountQueue {
  waiting: QueuedCall[];
  active: number;
  /** Clock time before which the next start must wait. */
  nextStartAt: number;
  timer: TimerHandle | null;
}

export class OutboundQueue {
  private readonly accounts = new Map<string, AccountQueue>();

  constructor(
    private readonly limitsFor: (accountSid: string) => OutboundLimits,
    private readonly clock: Clock,
    /** Told when a call's start() rejects (the call engine reports its own failures; this is a backstop). */
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Queues the call; it starts as soon as the account's limits allow (possibly synchronously). */
  submit(accountSid: string, call: QueuedCall): void {
    const q = this.accountQueue(accountSid);
    q.waiting.push(call);
    this.pump(accountSid, q);
  }

  /** Takes a call out of the queue before it started; false when it is not waiting (started or unknown). */
  withdraw(accountSid: string, call: QueuedCall): boolean {
    const q = this.accounts.get(accountSid);
    const i = q ? q.waiting.indexOf(call) : -1;
    if (!q || i < 0) return false;
    q.waiting.splice(i, 1);
    this.release(accountSid, q);
    return true;
  }

  /** Calls waiting and calls started but not ended, for one account. */
  counts(accountSid: string): { waiting: number; active: number } {
    const q = this.accounts.get(accountSid);
    return { waiting: q?.waiting.length ?? 0, active: q?.active ?? 0 };
  }

  /** Stops pending timers (shutdown); waiting calls stay where they are. */
  close(): void {
    for (const q of this.accounts.values()) {
      if (q.timer) this.clock.clearTimeout(q.timer);
      q.timer = null;
    }
  }

  private accountQueue(accountSid: string): AccountQueue {
    let q = this.accounts.get(accountSid);
    if (!q) {
      q = { waiting: [], active: 0, nextStartAt: -Infinity, timer: null };
      this.accounts.set(accountSid, q);
    }
    return q;
  }

  private pump(accountSid: string, q: AccountQueue): void {
    if (q.timer) return; // a paced start is already scheduled; it pumps again
    const limits = this.limitsFor(accountSid);
    const spacingMs = 1000 / Math.max(limits.callsPerSecond, 1e-6);
    while (q.waiting.length > 0 && q.active < limits.maxConcurrent) {
      const now = this.clock.now();
      if (now < q.nextStartAt) {
        q.timer = this.clock.setTimeout(() => {
          q.timer = null;
          this.pump(accountSid, q);
        }, q.nextStartAt - now);
        return;
      }
      const call = q.waiting.shift()!;
      q.active++;
      // Pace from the later of now and the previous slot, so an idle account does not bank a burst.
      q.nextStartAt = Math.max(now, q.nextStartAt) + spacingMs;
      let ended: Promise<void>;
      try {
        ended = call.start();
      } catch (err) {
        ended = Promise.reject(err as Error);
      }
      void ended
        .catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))))
        .finally(() => {
          q.active--;
          this.pump(accountSid, q);
          this.release(accountSid, q);
        });
    }
    this.release(accountSid, q);
  }

  /** Forgets an idle account, so the map does not grow with every account that ever called. */
  private release(accountSid: string, q: AccountQueue): void {
    if (q.waiting.length === 0 && q.active === 0 && !q.timer && q.nextStartAt <= this.clock.now()) this.accounts.delete(accountSid);
  }
}
