/**
 * What `SipStack.sendRequest` returns: the request as sent, provisional responses as events, and
 * the final response (or null on Timer B/F timeout or transport failure) as a promise.
 */
import { EventEmitter } from 'node:events';
import type { SipRequest, SipResponse } from './message.js';
import type { ClientTransactionUser } from './client-invite-transaction.js';
import type { TerminationReason } from './transaction.js';

export interface ClientTransactionEvents {
  provisional: [res: SipResponse];
  /** Every final response, including 2xx retransmissions/forks of an INVITE. */
  final: [res: SipResponse];
  /** The transaction ended without a final response. */
  failed: [reason: Exclude<TerminationReason, 'normal'>];
}

export class ClientTransactionHandle extends EventEmitter<ClientTransactionEvents> {
  /** Resolves with the first final response, or null on timeout / transport error. */
  readonly final: Promise<SipResponse | null>;
  private resolveFinal!: (res: SipResponse | null) => void;
  private settled = false;

  constructor(readonly request: SipRequest) {
    super();
    this.final = new Promise((resolve) => {
      this.resolveFinal = resolve;
    });
  }

  /** Callbacks to install on the client transaction. */
  transactionUser(): ClientTransactionUser {
    return {
      onResponse: (res) => {
        if (res.status < 200) {
          this.emit('provisional', res);
          return;
        }
        this.emit('final', res);
        this.settle(res);
      },
      onTerminated: (reason) => {
        if (reason !== 'normal' && !this.settled) this.emit('failed', reason);
        this.settle(null);
      },
    };
  }

  private settle(res: SipResponse | null): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFinal(res);
  }
}
