/**
 * INVITE server transaction: RFC 3261 §17.2.1 (Figure 7) with the RFC 6026 "Accepted" state.
 *
 * proceeding --1xx from TU--> proceeding (send)
 * proceeding --2xx from TU--> accepted (send, Timer L)          RFC 6026 §7.1: the transaction stays
 *     alive after a 2xx so retransmitted INVITEs are absorbed, and ACKs for the 2xx reach the TU.
 * proceeding --300-699 from TU--> completed (send, Timer G on UDP, Timer H)
 * proceeding/completed --INVITE retransmission--> same (re-send the last response, §17.2.1)
 * completed --Timer G--> completed (re-send, G = min(2G, T2));  --Timer H--> terminated (timeout)
 * completed --ACK--> confirmed (Timer I; zero on reliable transports, so terminated at once)
 * confirmed --ACK--> confirmed (absorbed);  --Timer I--> terminated
 * accepted --2xx from TU--> accepted (send: the UAS core retransmits 2xx through us, §13.3.1.4)
 * accepted --ACK--> accepted (ACK handed to the TU);  --Timer L--> terminated
 */
import type { SipRequest, SipResponse } from './message.js';
import { TransactionStateError, type TerminationReason, type TransactionEnv, type Transition } from './transaction.js';
import { TransactionMachine } from './transaction-machine.js';

export type ServerInviteState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
export type ServerInviteInput =
  | 'invite' | 'ack' | 'tu-1xx' | 'tu-2xx' | 'tu-300-699'
  | 'timer-g' | 'timer-h' | 'timer-i' | 'timer-l' | 'transport-error';
export type ServerInviteAction =
  | 'send-response' | 'resend-response' | 'start-g' | 'double-g' | 'start-h' | 'stop-g-h'
  | 'start-i' | 'start-l' | 'ack-to-tu' | 'timeout' | 'transport-error';

type T = Transition<ServerInviteState, ServerInviteAction>;
const to = (state: ServerInviteState, ...actions: ServerInviteAction[]): T => ({ state, actions });

/** Pure transition function; `null` means the input is not valid in that state (ignored). */
export function serverInviteTransition(state: ServerInviteState, input: ServerInviteInput, reliable: boolean): T | null {
  switch (state) {
    case 'proceeding':
      if (input === 'invite') return to('proceeding', 'resend-response');
      if (input === 'tu-1xx') return to('proceeding', 'send-response');
      if (input === 'tu-2xx') return to('accepted', 'send-response', 'start-l');
      if (input === 'tu-300-699') return reliable ? to('completed', 'send-response', 'start-h') : to('completed', 'send-response', 'start-g', 'start-h');
      if (input === 'transport-error') return to('terminated', 'transport-error');
      return null;
    case 'completed':
      if (input === 'invite') return to('completed', 'resend-response');
      if (input === 'timer-g') return to('completed', 'resend-response', 'double-g');
      if (input === 'timer-h') return to('terminated', 'stop-g-h', 'timeout');
      if (input === 'ack') return reliable ? to('terminated', 'stop-g-h') : to('confirmed', 'stop-g-h', 'start-i');
      if (input === 'transport-error') return to('terminated', 'stop-g-h', 'transport-error');
      return null;
    case 'confirmed':
      if (input === 'ack' || input === 'invite') return to('confirmed');
      if (input === 'timer-i') return to('terminated');
      return null;
    case 'accepted':
      if (input === 'invite') return to('accepted'); // the TU's own 2xx retransmissions cover this
      if (input === 'tu-2xx') return to('accepted', 'send-response');
      if (input === 'ack') return to('accepted', 'ack-to-tu');
      if (input === 'timer-l') return to('terminated');
      if (input === 'transport-error') return to('accepted', 'transport-error'); // RFC 6026 §7.1: stay
      return null;
    case 'terminated':
      return null;
  }
}

/** Callbacks from the transaction to its user (the UAS core / dialog layer). */
export interface ServerInviteUser {
  onAck?(ack: SipRequest): void;
  onTerminated?(reason: TerminationReason): void;
  onTransportError?(err: Error): void;
}

export class ServerInviteTransaction extends TransactionMachine<ServerInviteState, ServerInviteInput, ServerInviteAction> {
  private lastResponse: SipResponse | null = null;
  private gInterval: number;
  private pendingAck: SipRequest | null = null;
  user: ServerInviteUser = {};

  constructor(request: SipRequest, key: string, env: TransactionEnv) {
    super('proceeding', request, key, env);
    this.gInterval = env.timers.t1;
  }

  /** Status of the final response sent so far, or null while proceeding. */
  get finalStatus(): number | null {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse.status : null;
  }

  /** Sends a response from the TU (100–699). */
  respond(res: SipResponse): void {
    const input: ServerInviteInput = res.status < 200 ? 'tu-1xx' : res.status < 300 ? 'tu-2xx' : 'tu-300-699';
    const t = this.transition(this.stateValue, input);
    if (!t) throw new TransactionStateError(`cannot send ${res.status} in INVITE server transaction state ${this.stateValue}`);
    this.lastResponse = res;
    this.apply(t);
  }

  /** A request matched to this transaction: an INVITE retransmission or an ACK (§17.2.3). */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') this.pendingAck = req;
    this.input(req.method === 'ACK' ? 'ack' : 'invite');
    this.pendingAck = null;
  }

  protected transition(state: ServerInviteState, input: ServerInviteInput): T | null {
    return serverInviteTransition(state, input, this.env.reliable);
  }

  protected perform(a: ServerInviteAction): void {
    switch (a) {
      case 'send-response':
      case 'resend-response':
        if (this.lastResponse) this.send(this.lastResponse);
        break;
      case 'start-g':
        this.startTimer('G', 'timer-g', this.gInterval);
        break;
      case 'double-g':
        this.gInterval = Math.min(2 * this.gInterval, this.env.timers.t2);
        this.startTimer('G', 'timer-g', this.gInterval);
        break;
      case 'start-h':
        this.startTimer('H', 'timer-h');
        break;
      case 'stop-g-h':
        this.timers.stop('G');
        this.timers.stop('H');
        break;
      case 'start-i':
        this.startTimer('I', 'timer-i');
        break;
      case 'start-l':
        this.startTimer('L', 'timer-l');
        break;
      case 'ack-to-tu':
        if (this.pendingAck) this.user.onAck?.(this.pendingAck);
        break;
    }
  }
}
