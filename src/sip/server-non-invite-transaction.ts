/**
 * Non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
 *
 * trying --request retransmission--> trying (absorbed: nothing to re-send yet)
 * trying/proceeding --1xx from TU--> proceeding (send)
 * proceeding --request retransmission--> proceeding (re-send the last provisional)
 * trying/proceeding --200-699 from TU--> completed (send, Timer J; J is zero on reliable transports)
 * completed --request retransmission--> completed (re-send the final response)
 * completed --Timer J--> terminated
 * any --transport error--> terminated
 */
import type { SipResponse, SipRequest } from './message.js';
import { TimerSet, timerDuration } from './transaction-timers.js';
import { TransactionStateError, type TerminationReason, type TransactionEnv, type Transition } from './transaction.js';

export type ServerNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';
export type ServerNonInviteInput = 'request' | 'tu-1xx' | 'tu-final' | 'timer-j' | 'transport-error';
export type ServerNonInviteAction = 'send-response' | 'resend-response' | 'start-j' | 'transport-error';

type T = Transition<ServerNonInviteState, ServerNonInviteAction>;
const to = (state: ServerNonInviteState, ...actions: ServerNonInviteAction[]): T => ({ state, actions });

export function serverNonInviteTransition(state: ServerNonInviteState, input: ServerNonInviteInput, reliable: boolean): T | null {
  switch (state) {
    case 'trying':
    case 'proceeding':
      if (input === 'request') return state === 'trying' ? to('trying') : to('proceeding', 'resend-response');
      if (input === 'tu-1xx') return to('proceeding', 'send-response');
      if (input === 'tu-final') return reliable ? to('terminated', 'send-response') : to('completed', 'send-response', 'start-j');
      if (input === 'transport-error') return to('terminated', 'transport-error');
      return null;
    case 'completed':
      if (input === 'request') return to('completed', 'resend-response');
      if (input === 'timer-j') return to('terminated');
      if (input === 'transport-error') return to('terminated', 'transport-error');
      return null;
    case 'terminated':
      return null;
  }
}

export interface ServerNonInviteUser {
  onTerminated?(reason: TerminationReason): void;
  onTransportError?(err: Error): void;
}

export class ServerNonInviteTransaction {
  private stateValue: ServerNonInviteState = 'trying';
  private lastResponse: SipResponse | null = null;
  private readonly timers: TimerSet;
  user: ServerNonInviteUser = {};

  constructor(readonly request: SipRequest, readonly key: string, private readonly env: TransactionEnv) {
    this.timers = new TimerSet(env.clock);
  }

  get state(): ServerNonInviteState {
    return this.stateValue;
  }

  get finalStatus(): number | null {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse.status : null;
  }

  respond(res: SipResponse): void {
    const t = serverNonInviteTransition(this.stateValue, res.status < 200 ? 'tu-1xx' : 'tu-final', this.env.reliable);
    if (!t) throw new TransactionStateError(`cannot send ${res.status} in non-INVITE server transaction state ${this.stateValue}`);
    this.lastResponse = res;
    this.apply(t);
  }

  /** A retransmission of the request matched to this transaction (§17.2.3). */
  receiveRequest(_req: SipRequest): void {
    this.input('request');
  }

  dispose(): void {
    this.timers.stopAll();
    this.stateValue = 'terminated';
  }

  private input(input: ServerNonInviteInput): void {
    const t = serverNonInviteTransition(this.stateValue, input, this.env.reliable);
    if (t) this.apply(t);
  }

  private apply(t: T): void {
    const prev = this.stateValue;
    this.stateValue = t.state;
    let reason: TerminationReason = 'normal';
    for (const a of t.actions) {
      if (a === 'send-response' || a === 'resend-response') {
        if (this.lastResponse) this.env.send(this.lastResponse, (err) => this.transportError(err));
      } else if (a === 'start-j') {
        this.timers.start('J', timerDuration('J', this.env.timers, this.env.reliable), () => this.input('timer-j'));
      } else {
        reason = 'transport-error';
      }
    }
    if (t.state === 'terminated' && prev !== 'terminated') {
      this.timers.stopAll();
      this.user.onTerminated?.(reason);
    }
  }

  private transportError(err: Error): void {
    this.user.onTransportError?.(err);
    this.input('transport-error');
  }
}
