/**
 * A call's SIP dialog once it is established, either side: in-dialog requests (BYE, re-INVITE for
 * hold or a media move, INFO DTMF), the ACK wait (§15: a UAS must not send BYE before the ACK for
 * its 2xx), and our own BYE. The Call owns one of these from the answer on.
 */
import type { Dialog } from '../sip/dialog.js';
import { parseDtmfInfo } from '../sip/dtmf-info.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { answerOffer } from '../sip/offer-answer.js';
import type { Responder } from '../sip/responses.js';
import type { CallMedia } from './call-media.js';

export interface CallDialogHost {
  /** The call's media (null once it ended). */
  readonly media: CallMedia | null;
  note(type: string, detail: Record<string, unknown>): void;
  /** The far end hung up (BYE). */
  remoteHangup(): void;
  /** Our 2xx was never ACKed (UAS only). */
  ackTimeout(): void;
}

export class CallDialog {
  /** Resolves when the ACK for our 2xx arrives (or never will); immediate on the UAC side, which sent the ACK. */
  private readonly acked: Promise<void>;
  private sdpVersion: number;

  /**
   * `uas`: we answered (inbound). `localSdp` is our last description (offer or answer), with the
   * o= session id and version it carried, so later answers grow the version (RFC 3264 §8).
   */
  constructor(
    readonly dialog: Dialog,
    private readonly host: CallDialogHost,
    uas: boolean,
    private readonly publicAddress: string,
    private readonly sdpSessionId: string,
    private lastLocalSdp: string,
    sdpVersion = 1,
  ) {
    this.sdpVersion = sdpVersion;
    this.acked = uas
      ? new Promise<void>((resolve) => {
          dialog.once('ack', () => resolve());
          dialog.once('ack-timeout', () => resolve());
          dialog.once('terminated', () => resolve());
        })
      : Promise.resolve();
    dialog.on('ack', () => host.note('sip.in', { method: 'ACK' }));
    dialog.on('bye', () => {
      host.note('sip.in', { method: 'BYE' });
      host.remoteHangup();
    });
    dialog.on('ack-timeout', () => host.ackTimeout());
    dialog.on('reinvite', (req, respond) => this.onReinvite(req, respond));
    dialog.on('info', (req, respond) => this.onInfo(req, respond));
  }

  /** Sends BYE (after the ACK, §15); null when it got no response. */
  async bye(): Promise<SipResponse | null> {
    await this.acked;
    this.host.note('sip.out', { method: 'BYE' });
    const response = await this.dialog.sendBye().catch(() => null);
    if (!response) this.host.note('sip.warning', { message: 'BYE got no response' });
    return response;
  }

  /** SIP INFO DTMF (application/dtmf-relay, application/dtmf); other INFO packages are refused with 415. */
  private onInfo(req: SipRequest, respond: Responder): void {
    const type = req.headers.get('content-type') ?? '';
    const info = parseDtmfInfo(type, req.body);
    if (!info) {
      this.host.note('sip.in', { method: 'INFO', contentType: type, result: 415 });
      return respond(415, { headers: [{ name: 'Accept', value: 'application/dtmf-relay, application/dtmf' }] });
    }
    respond(200);
    this.host.media?.pushInfoDigit(info.digit, info.durationMs);
  }

  /** RFC 3264 §8: a re-INVITE may move the media (new address) or hold/resume it. */
  private onReinvite(req: SipRequest, respond: Responder): void {
    const media = this.host.media;
    if (!media) return respond(500);
    if (req.body.length === 0) {
      // Offerless re-INVITE: our 200 carries an offer (the previous description); the ACK answers it.
      return respond(200, { body: Buffer.from(this.lastLocalSdp, 'latin1'), contentType: 'application/sdp' });
    }
    this.sdpVersion++;
    const result = answerOffer(req.body.toString('latin1'), { address: this.publicAddress, port: media.localPort, sessionId: this.sdpSessionId, sessionVersion: this.sdpVersion, srtp: media.localSrtp });
    if (!result.ok) {
      this.host.note('sip.in', { method: 'INVITE', reinvite: true, result: 488 });
      return respond(488, { reason: result.reason });
    }
    media.configure(result.audio);
    this.lastLocalSdp = result.answer;
    this.host.note('sip.in', { method: 'INVITE', reinvite: true, direction: result.audio.direction, remote: `${result.audio.remoteAddress}:${result.audio.remotePort}` });
    respond(200, { body: Buffer.from(result.answer, 'latin1'), contentType: 'application/sdp' });
  }
}
