/**
 * An out-of-dialog INVITE received by the stack, as the call engine sees it (UAS side).
 *
 * Wraps the INVITE server transaction: provisional and final responses carry our To tag, a 2xx
 * gets Contact and the Record-Route of the request (§12.1.1) and creates the UAS Dialog, which
 * retransmits the 2xx until the ACK arrives (§13.3.1.4). A matching CANCEL (§9.2) answers 487 if
 * no final response was sent yet and emits 'cancel'.
 */
import { EventEmitter } from 'node:events';
import type { Dialog } from './dialog.js';
import type { SipAddress, SipRequest, SipResponse } from './message.js';
import { buildResponse, type ResponseOptions } from './responses.js';
import type { ServerInviteTransaction } from './server-invite-transaction.js';

export interface IncomingInviteEvents {
  cancel: [cancel: SipRequest];
  ack: [ack: SipRequest];
}

/** What an IncomingInvite needs from the stack. */
export interface IncomingInviteHost {
  readonly userAgent?: string;
  readonly allowedMethods: readonly string[];
  contact(transport: SipAddress['transport']): string;
  /** Creates and registers the UAS dialog for this INVITE and the 2xx about to be sent. */
  createUasDialog(invite: IncomingInvite, res: SipResponse): Dialog | null;
  /** Sends a response directly on the transport (2xx retransmissions). */
  resend(res: SipResponse, source: SipAddress): void;
}

export class IncomingInvite extends EventEmitter<IncomingInviteEvents> {
  readonly callId: string;
  private finalSent = false;
  private cancelledValue = false;
  private dialogValue: Dialog | null = null;

  constructor(
    private readonly host: IncomingInviteHost,
    readonly request: SipRequest,
    readonly source: SipAddress,
    readonly transaction: ServerInviteTransaction,
    /** Our To tag for every response but 100 (§8.2.6.2). */
    readonly localTag: string,
  ) {
    super();
    this.callId = request.headers.get('call-id') ?? '';
  }

  get finalResponseSent(): boolean {
    return this.finalSent;
  }

  get cancelled(): boolean {
    return this.cancelledValue;
  }

  /** The dialog created by a 2xx, once sent. */
  get dialog(): Dialog | null {
    return this.dialogValue;
  }

  /**
   * Sends a response. 1xx may be sent several times; after the final response further calls are
   * ignored (returns null). A 2xx returns the UAS dialog.
   */
  respond(status: number, opts: ResponseOptions = {}): Dialog | null {
    if (this.finalSent || this.transaction.state === 'terminated') return null;
    if (status < 100 || status > 699) throw new RangeError(`invalid SIP status ${status}`);
    const res = buildResponse(this.request, status, opts, status === 100 ? undefined : this.localTag, this.host.userAgent);
    if (status >= 200) this.finalSent = true;
    // A tagged 1xx creates an early dialog, so it names our Contact like the 2xx will (§12.1.1).
    if (status > 100 && status < 200 && !res.headers.has('contact')) res.headers.append('Contact', `<${this.host.contact(this.source.transport)}>`);
    if (status < 200 || status >= 300) {
      this.transaction.respond(res);
      return null;
    }
    if (!res.headers.has('contact')) res.headers.append('Contact', `<${this.host.contact(this.source.transport)}>`);
    for (const rr of this.request.headers.getAll('record-route')) res.headers.append('Record-Route', rr);
    if (!res.headers.has('allow')) res.headers.append('Allow', this.host.allowedMethods.join(', '));
    // The dialog is registered before the 2xx leaves, so an ACK racing back always finds it.
    const dialog = this.host.createUasDialog(this, res);
    if (!dialog) {
      // Dialog table full (flood): answering 2xx without a dialog would strand the caller.
      this.transaction.respond(buildResponse(this.request, 503, { headers: [{ name: 'Retry-After', value: '5' }] }, this.localTag, this.host.userAgent));
      return null;
    }
    this.transaction.respond(res);
    this.dialogValue = dialog;
    dialog.on('ack', (ack) => this.emit('ack', ack));
    const seq = Number.parseInt(this.request.headers.get('cseq') ?? '0', 10);
    dialog.startAckWait(res, seq, (r) => this.host.resend(r, this.source));
    return dialog;
  }

  /** Called by the stack for a CANCEL matching this INVITE (§9.2); the 200 to CANCEL is already sent. */
  handleCancel(cancel: SipRequest): void {
    if (this.finalSent) return;
    this.respond(487);
    this.cancelledValue = true;
    this.emit('cancel', cancel);
  }
}
