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
import { TransactionStateError, type TerminationReason, type TransactionEnv, type Transition } from './transaction.js';
import { TransactionMachine } from './transaction-machine.js';

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

export class ServerNonInviteTransaction extends TransactionMachine<ServerNonInviteState, ServerNonInviteInput, ServerNonInviteAction> {
  private lastResponse: SipResponse | null = null;
  user: ServerNonInviteUser = {};

  constructor(request: SipRequest, key: string, env: TransactionEnv) {
    super('trying', request, key, env);
  }

  get finalStatus(): number | null {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse.status : null;
  }

  respond(res: SipResponse): void {
    const t = this.transition(this.stateValue, res.status < 200 ? 'tu-1xx' : 'tu-final');
    if (!t) throw new TransactionStateError(`cannot send ${res.status} in non-INVITE server transaction state ${this.stateValue}`);
    this.lastResponse = res;
    this.apply(t);
  }

  /** A retransmission of the request matched to this transaction (§17.2.3). */
  receiveRequest(_req: SipRequest): void {
    this.input('request');
  }

  protected transition(state: ServerNonInviteState, input: ServerNonInviteInput): T | null {
    return serverNonInviteTransition(state, input, this.env.reliable);
  }

  protected perform(a: ServerNonInviteAction): void {
    if (a === 'send-response' || a === 'resend-response') {
      if (this.lastResponse) this.send(this.lastResponse);
    } else if (a === 'start-j') {
      this.startTimer('J', 'timer-j');
    }
  }
}
