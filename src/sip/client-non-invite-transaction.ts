/**
 * Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6).
 *
 * trying --Timer E (UDP only)--> trying (re-send, E = min(2E, T2))
 * proceeding --Timer E--> proceeding (re-send, E = T2)
 * trying/proceeding --1xx--> proceeding (to TU)
 * trying/proceeding --200-699--> completed (to TU, Timer K; K is zero on reliable transports)
 * trying/proceeding --Timer F (64*T1)--> terminated (timeout);  --transport error--> terminated
 * completed --any response--> completed (absorbed);  --Timer K--> terminated
 */
import type { SipRequest, SipResponse } from './message.js';
import type { TransactionEnv, Transition } from './transaction.js';
import { TransactionMachine } from './transaction-machine.js';
import type { ClientTransactionUser } from './client-invite-transaction.js';

export type ClientNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';
export type ClientNonInviteInput = '1xx' | 'final' | 'timer-e' | 'timer-f' | 'timer-k' | 'transport-error';
export type ClientNonInviteAction = 'resend-request' | 'double-e' | 'e-t2' | 'stop-e-f' | 'response-to-tu' | 'start-k' | 'timeout' | 'transport-error';

type T = Transition<ClientNonInviteState, ClientNonInviteAction>;
const to = (state: ClientNonInviteState, ...actions: ClientNonInviteAction[]): T => ({ state, actions });

export function clientNonInviteTransition(state: ClientNonInviteState, input: ClientNonInviteInput, reliable: boolean): T | null {
  switch (state) {
    case 'trying':
    case 'proceeding':
      if (input === 'timer-e') return state === 'trying' ? to('trying', 'resend-request', 'double-e') : to('proceeding', 'resend-request', 'e-t2');
      if (input === 'timer-f') return to('terminated', 'timeout');
      if (input === '1xx') return to('proceeding', 'response-to-tu');
      if (input === 'final') return reliable ? to('terminated', 'stop-e-f', 'response-to-tu') : to('completed', 'stop-e-f', 'response-to-tu', 'start-k');
      if (input === 'transport-error') return to('terminated', 'transport-error');
      return null;
    case 'completed':
      if (input === '1xx' || input === 'final') return to('completed');
      if (input === 'timer-k') return to('terminated');
      return null;
    case 'terminated':
      return null;
  }
}

export class ClientNonInviteTransaction extends TransactionMachine<ClientNonInviteState, ClientNonInviteInput, ClientNonInviteAction> {
  private eInterval: number;
  private current: SipResponse | null = null;
  user: ClientTransactionUser = {};

  constructor(request: SipRequest, key: string, env: TransactionEnv) {
    super('trying', request, key, env);
    this.eInterval = env.timers.t1;
  }

  /** Sends the request and arms Timer E (unreliable transports only) and Timer F. */
  start(): void {
    this.send(this.request);
    if (this.stateValue === 'terminated') return; // the transport failed synchronously
    if (!this.env.reliable) this.startTimer('E', 'timer-e', this.eInterval);
    this.startTimer('F', 'timer-f');
  }

  receiveResponse(res: SipResponse): void {
    this.current = res;
    this.input(res.status < 200 ? '1xx' : 'final');
    this.current = null;
  }

  protected transition(state: ClientNonInviteState, input: ClientNonInviteInput): T | null {
    return clientNonInviteTransition(state, input, this.env.reliable);
  }

  protected perform(a: ClientNonInviteAction): void {
    switch (a) {
      case 'resend-request':
        this.send(this.request);
        break;
      case 'double-e':
      case 'e-t2':
        this.eInterval = a === 'e-t2' ? this.env.timers.t2 : Math.min(2 * this.eInterval, this.env.timers.t2);
        this.startTimer('E', 'timer-e', this.eInterval);
        break;
      case 'stop-e-f':
        this.timers.stop('E');
        this.timers.stop('F');
        break;
      case 'response-to-tu':
        if (this.current) this.user.onResponse?.(this.current);
        break;
      case 'start-k':
        this.startTimer('K', 'timer-k');
        break;
    }
  }
}
