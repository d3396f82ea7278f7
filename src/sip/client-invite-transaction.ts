/**
 * INVITE client transaction: RFC 3261 §17.1.1 (Figure 5) with the RFC 6026 "Accepted" state.
 *
 * calling --Timer A (UDP only)--> calling (re-send INVITE, A doubles: no T2 cap for INVITE)
 * calling --Timer B (64*T1)--> terminated (timeout to the TU)
 * calling/proceeding --1xx--> proceeding (to TU; retransmissions stop)
 * calling/proceeding --2xx--> accepted (to TU, Timer M). RFC 6026 §7.2: 2xx retransmissions and
 *     forked 2xx keep reaching the TU, which ACKs them itself (§13.2.2.4).
 * calling/proceeding --300-699--> completed (ACK built here per §17.1.1.3, to TU, Timer D)
 * completed --300-699--> completed (re-send ACK);  --Timer D--> terminated
 * accepted --2xx--> accepted (to TU);  --Timer M--> terminated
 * calling/proceeding --transport error--> terminated;  --abort--> terminated (timeout), used by the
 *     §9.1 rule that a cancelled INVITE without a final response is given up after 64*T1.
 */
import { createRequest, type HeaderField, type SipRequest, type SipResponse } from './message.js';
import { splitHeaderValues } from './header-values.js';
import type { TerminationReason, TransactionEnv, Transition } from './transaction.js';
import { TransactionMachine } from './transaction-machine.js';

export type ClientInviteState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
export type ClientInviteInput = '1xx' | '2xx' | '300-699' | 'timer-a' | 'timer-b' | 'timer-d' | 'timer-m' | 'transport-error' | 'abort';
export type ClientInviteAction =
  | 'resend-request' | 'double-a' | 'stop-a-b' | 'response-to-tu' | 'send-ack' | 'start-d' | 'start-m' | 'timeout' | 'transport-error';

type T = Transition<ClientInviteState, ClientInviteAction>;
const to = (state: ClientInviteState, ...actions: ClientInviteAction[]): T => ({ state, actions });

export function clientInviteTransition(state: ClientInviteState, input: ClientInviteInput, reliable: boolean): T | null {
  switch (state) {
    case 'calling':
    case 'proceeding':
      if (input === 'timer-a') return state === 'calling' ? to('calling', 'resend-request', 'double-a') : null;
      if (input === 'timer-b') return state === 'calling' ? to('terminated', 'timeout') : null;
      if (input === '1xx') return to('proceeding', 'stop-a-b', 'response-to-tu');
      if (input === '2xx') return to('accepted', 'stop-a-b', 'response-to-tu', 'start-m');
      if (input === '300-699') {
        return reliable ? to('terminated', 'stop-a-b', 'send-ack', 'response-to-tu') : to('completed', 'stop-a-b', 'send-ack', 'response-to-tu', 'start-d');
      }
      if (input === 'transport-error') return to('terminated', 'transport-error');
      if (input === 'abort') return to('terminated', 'timeout');
      return null;
    case 'completed':
      if (input === '300-699') return to('completed', 'send-ack');
      if (input === 'timer-d') return to('terminated');
      if (input === 'transport-error') return to('terminated', 'transport-error');
      return null;
    case 'accepted':
      if (input === '2xx') return to('accepted', 'response-to-tu');
      if (input === 'timer-m') return to('terminated');
      return null;
    case 'terminated':
      return null;
  }
}

/**
 * ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, CSeq number and
 * top Via as the INVITE, To from the response (it carries the tag), Route from the INVITE.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const fields: HeaderField[] = [];
  const topVia = invite.headers.get('via');
  if (topVia !== undefined) fields.push({ name: 'Via', value: splitHeaderValues(topVia)[0] ?? topVia });
  for (const r of invite.headers.getAll('route')) fields.push({ name: 'Route', value: r });
  const maxForwards = invite.headers.get('max-forwards');
  if (maxForwards !== undefined) fields.push({ name: 'Max-Forwards', value: maxForwards });
  fields.push({ name: 'From', value: invite.headers.get('from') ?? '' });
  fields.push({ name: 'To', value: res.headers.get('to') ?? invite.headers.get('to') ?? '' });
  fields.push({ name: 'Call-ID', value: invite.headers.get('call-id') ?? '' });
  const seq = (invite.headers.get('cseq') ?? '1').trim().split(/\s+/)[0];
  fields.push({ name: 'CSeq', value: `${seq} ACK` });
  return createRequest('ACK', invite.uri, fields);
}

export interface ClientTransactionUser {
  onResponse?(res: SipResponse): void;
  onTerminated?(reason: TerminationReason): void;
  onTransportError?(err: Error): void;
}

export class ClientInviteTransaction extends TransactionMachine<ClientInviteState, ClientInviteInput, ClientInviteAction> {
  private aInterval: number;
  private ack: SipRequest | null = null;
  private current: SipResponse | null = null;
  user: ClientTransactionUser = {};

  constructor(request: SipRequest, key: string, env: TransactionEnv) {
    super('calling', request, key, env);
    this.aInterval = env.timers.t1;
  }

  /** Sends the INVITE and arms Timer A (unreliable transports only) and Timer B. */
  start(): void {
    this.send(this.request);
    if (this.stateValue === 'terminated') return; // the transport failed synchronously
    if (!this.env.reliable) this.startTimer('A', 'timer-a', this.aInterval);
    this.startTimer('B', 'timer-b');
  }

  receiveResponse(res: SipResponse): void {
    this.current = res;
    this.input(res.status < 200 ? '1xx' : res.status < 300 ? '2xx' : '300-699');
    this.current = null;
  }

  /** Gives up on the INVITE (§9.1: no final response 64*T1 after CANCEL). */
  abort(): void {
    this.input('abort');
  }

  protected transition(state: ClientInviteState, input: ClientInviteInput): T | null {
    return clientInviteTransition(state, input, this.env.reliable);
  }

  protected perform(a: ClientInviteAction): void {
    switch (a) {
      case 'resend-request':
        this.send(this.request);
        break;
      case 'double-a':
        this.aInterval *= 2;
        this.startTimer('A', 'timer-a', this.aInterval);
        break;
      case 'stop-a-b':
        this.timers.stop('A');
        this.timers.stop('B');
        break;
      case 'response-to-tu':
        if (this.current) this.user.onResponse?.(this.current);
        break;
      case 'send-ack':
        if (this.current && !this.ack) this.ack = buildNon2xxAck(this.request, this.current);
        if (this.ack) this.send(this.ack);
        break;
      case 'start-d':
        this.startTimer('D', 'timer-d');
        break;
      case 'start-m':
        this.startTimer('M', 'timer-m');
        break;
    }
  }
}
