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
import { TimerSet, timerDuration } from './transaction-timers.js';
import type { TerminationReason, TransactionEnv, Transition } from './transaction.js';
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

export class ClientNonInviteTransaction {
  private stateValue: ClientNonInviteState = 'trying';
  private eInterval: number;
  private readonly timers: TimerSet;
  private current: SipResponse | null = null;
  user: ClientTransactionUser = {};

  constructor(readonly request: SipRequest, readonly key: string, private readonly env: TransactionEnv) {
    this.timers = new TimerSet(env.clock);
    this.eInterval = env.timers.t1;
  }

  get state(): ClientNonInviteState {
    return this.stateValue;
  }

  /** Sends the request and arms Timer E (unreliable transports only) and Timer F. */
  start(): void {
    this.send();
    if (this.stateValue === 'terminated') return; // the transport failed synchronously
    if (!this.env.reliable) this.timers.start('E', this.eInterval, () => this.input('timer-e'));
    this.timers.start('F', timerDuration('F', this.env.timers, this.env.reliable), () => this.input('timer-f'));
  }

  receiveResponse(res: SipResponse): void {
    this.current = res;
    this.input(res.status < 200 ? '1xx' : 'final');
    this.current = null;
  }

  dispose(): void {
    this.timers.stopAll();
    this.stateValue = 'terminated';
  }

  private input(input: ClientNonInviteInput): void {
    const t = clientNonInviteTransition(this.stateValue, input, this.env.reliable);
    if (t) this.apply(t);
  }

  private send(): void {
    this.env.send(this.request, (err) => {
      this.user.onTransportError?.(err);
      this.input('transport-error');
    });
  }

  private apply(t: T): void {
    const prev = this.stateValue;
    this.stateValue = t.state;
    let reason: TerminationReason = 'normal';
    for (const a of t.actions) {
      switch (a) {
        case 'resend-request':
          this.send();
          break;
        case 'double-e':
        case 'e-t2':
          this.eInterval = a === 'e-t2' ? this.env.timers.t2 : Math.min(2 * this.eInterval, this.env.timers.t2);
          this.timers.start('E', this.eInterval, () => this.input('timer-e'));
          break;
        case 'stop-e-f':
          this.timers.stop('E');
          this.timers.stop('F');
          break;
        case 'response-to-tu':
          if (this.current) this.user.onResponse?.(this.current);
          break;
        case 'start-k':
          this.timers.start('K', timerDuration('K', this.env.timers, this.env.reliable), () => this.input('timer-k'));
          break;
        case 'timeout':
          reason = 'timeout';
          break;
        case 'transport-error':
          reason = 'transport-error';
          break;
      }
    }
    if (t.state === 'terminated' && prev !== 'terminated') {
      this.timers.stopAll();
      this.user.onTerminated?.(reason);
    }
  }
}
