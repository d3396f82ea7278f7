/**
 * The machinery the four RFC 3261 §17 transactions share: the current state, the timer set, feeding
 * an input through the transaction's pure transition function, and running the resulting actions.
 * Ending is handled here once: 'timeout' and 'transport-error' actions set the reason, and entering
 * 'terminated' stops every timer and tells the TU. Each transaction performs only its own actions.
 */
import type { SipMessage, SipRequest } from './message.js';
import { TimerSet, timerDuration, type TimerName } from './transaction-timers.js';
import type { TerminationReason, TransactionEnv, Transition } from './transaction.js';

export interface TransactionUserBase {
  onTerminated?(reason: TerminationReason): void;
  onTransportError?(err: Error): void;
}

export abstract class TransactionMachine<S extends string, I extends string, A extends string> {
  protected stateValue: S;
  protected readonly timers: TimerSet;
  abstract user: TransactionUserBase;

  constructor(
    initial: S,
    readonly request: SipRequest,
    readonly key: string,
    protected readonly env: TransactionEnv,
  ) {
    this.stateValue = initial;
    this.timers = new TimerSet(env.clock);
  }

  get state(): S {
    return this.stateValue;
  }

  /** Ends the transaction immediately without further sends (stack shutdown). */
  dispose(): void {
    this.timers.stopAll();
    this.stateValue = 'terminated' as S;
  }

  /** The transaction's pure transition function (null: the input is ignored in this state). */
  protected abstract transition(state: S, input: I): Transition<S, A> | null;

  /** Runs one of the transaction's own actions ('timeout' and 'transport-error' never reach it). */
  protected abstract perform(action: A): void;

  protected input(input: I): void {
    const t = this.transition(this.stateValue, input);
    if (t) this.apply(t);
  }

  protected apply(t: Transition<S, A>): void {
    const prev = this.stateValue;
    this.stateValue = t.state;
    let reason: TerminationReason = 'normal';
    for (const a of t.actions) {
      if (a === 'timeout') reason = 'timeout';
      else if (a === 'transport-error') reason = 'transport-error';
      else this.perform(a);
    }
    if (t.state === 'terminated' && prev !== 'terminated') {
      this.timers.stopAll();
      this.user.onTerminated?.(reason);
    }
  }

  /** Arms a timer for `ms` (default: its RFC duration on this transport); when it fires, feeds `input`. */
  protected startTimer(name: TimerName, input: I, ms = timerDuration(name, this.env.timers, this.env.reliable)): void {
    this.timers.start(name, ms, () => this.input(input));
  }

  /** Sends through the transport; a send failure is reported to the TU and fed in as 'transport-error'. */
  protected send(msg: SipMessage): void {
    this.env.send(msg, (err) => {
      this.user.onTransportError?.(err);
      // Every transaction's input alphabet has 'transport-error' (§17.1.4, §17.2.4).
      this.input('transport-error' as I);
    });
  }
}
