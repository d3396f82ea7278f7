/**
 * Types shared by the four RFC 3261 §17 transaction state machines.
 *
 * Each transaction is a pure transition function (state × input → next state + actions, testable
 * without sockets or clocks) plus a small class that executes the actions against a
 * `TransactionEnv`: the clock, the timer values, whether the transport is reliable and a sender.
 */
import type { Clock } from './clock.js';
import type { SipMessage } from './message.js';
import type { TimerConfig } from './transaction-timers.js';

export interface TransactionEnv {
  clock: Clock;
  timers: TimerConfig;
  /** TCP/TLS/WS: no retransmissions, and the absorb-retransmission timers are zero. */
  reliable: boolean;
  /** Hands a message to the transport; `onError` is called if the transport fails to send it. */
  send(msg: SipMessage, onError: (err: Error) => void): void;
}

export interface Transition<S extends string, A extends string> {
  state: S;
  actions: readonly A[];
}

/** Why a transaction ended: normally, by Timer B/F/H (or the §9.1 CANCEL guard), or a transport error. */
export type TerminationReason = 'normal' | 'timeout' | 'transport-error';

/** Thrown when a TU asks a transaction for something its state forbids (a bug in the caller). */
export class TransactionStateError extends Error {
  readonly code = 'SIP_TRANSACTION_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'TransactionStateError';
  }
}
