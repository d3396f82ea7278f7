/**
 * One call leg's SIP and media life: the INVITE (ours or the caller's), early media, the answer, the
 * dialog and RTP session, the state machine and the end, whoever causes it. Every state change and
 * notable step is emitted as an 'event'; the record, status callbacks, metrics and logs subscribe to
 * those events and never reach into the call. `Call` (call.ts) adds what verbs can do on it.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { DtmfDigit } from './dtmf-input.js';
import { CallMedia } from './call-media.js';
import { CallDialog } from './call-dialog.js';
import { CallTimeLimit } from './call-time-limit.js';
import type { Dialog } from '../sip/dialog.js';
import type { IncomingInvite } from '../sip/incoming-invite.js';
import type { SipResponse } from '../sip/message.js';
import { answerOffer, type NegotiatedAudio } from '../sip/offer-answer.js';
import type { SrtpPolicy } from '../sip/sdes-negotiation.js';
import { buildCallParams } from '../webhooks/call-params.js';
import { RtpSession } from '../media/rtp-session.js';
import type { CallEvent } from '../store/store-types.js';
import { transition, isTerminal, type CallInput, type CallState, type UnansweredOutcome } from './call-state.js';
import type { StatusCallbackTarget } from './status-notifier.js';
import { CallEndedError, type CallDeps, type CallInfo } from './call-types.js';

/** The SIP final response we send when the app ends an unanswered call. */
const UNANSWERED_HANGUP_STATUS = 603;

export class CallLeg extends EventEmitter {
  state: CallState = 'initiated';
  readonly startTime = new Date();
  answerTime: Date | null = null;
  endTime: Date | null = null;
  sipResponseCode: number | null = null;
  errorCode: number | null = null;
  errorMessage: string | null = null;
  endReason: string | null = null;
  /** Where status changes are posted (from the number, the application or the REST create); REST may change it. */
  statusCallback: StatusCallbackTarget | null = null;

  /**
   * SRTP policy of the peer (RFC 4568 SDES): inbound, the SIP user's or carrier's, set by whoever
   * routed the INVITE before the call is answered; outbound, the target's (set by the dialer).
   */
  srtpPolicy: SrtpPolicy = 'optional';

  /** Outbound: the 200 OK that answered it (its X- headers go to a Dial's action). */
  answerResponse: SipResponse | null = null;

  /** Aborted when the call ends, whatever ended it. */
  protected readonly lifetime = new AbortController();
  protected media: CallMedia | null = null;
  protected readonly digitListeners = new Set<(digit: string, source: DtmfDigit['source']) => void>();
  protected readonly keyDownListeners = new Set<() => void>();
  private dialog: CallDialog | null = null;
  private answering: Promise<void> | null = null;
  private preparing: Promise<{ answer: string; audio: NegotiatedAudio; localPort: number }> | null = null;
  /** Inbound: a 183 with our SDP went out (early media). */
  private earlySent = false;
  /** o= session id of every description we send on this call (our answer, or our outbound offer). */
  readonly sdpSessionId = String(randomBytes(4).readUInt32BE(0));
  private readonly endedPromise: Promise<void>;
  private resolveEnded!: () => void;
  /** Outbound: cancels the INVITE while it has no final response. */
  private cancelDial: (() => void) | null = null;
  private readonly timeLimit = new CallTimeLimit((seconds) => {
    this.note('time-limit', { seconds });
    void this.hangup('time-limit');
  });

  /**
   * `invite` is the INVITE that brought an inbound call; null for a call we place (outbound-api),
   * which starts `queued` and is driven by `dialing` / `remoteRinging` / `connected` / `notAnswered`.
   */
  constructor(
    readonly info: CallInfo,
    private readonly invite: IncomingInvite | null,
    protected readonly deps: CallDeps,
  ) {
    super();
    this.endedPromise = new Promise((resolve) => (this.resolveEnded = resolve));
    if (invite) invite.on('cancel', () => this.onCallerCancel());
    else this.state = 'queued';
  }

  get sid(): string {
    return this.info.sid;
  }

  /** The answered call's RTP session (bridges relay it); null before the answer and after the end. */
  get rtp(): RtpSession | null {
    return this.media?.rtp ?? null;
  }

  /** The established SIP dialog (REFER goes on it); null before the answer. */
  get sipDialog(): Dialog | null {
    return this.dialog?.dialog ?? null;
  }

  get answered(): boolean {
    return this.answerTime !== null;
  }

  get ended(): boolean {
    return isTerminal(this.state);
  }

  /** Resolves once the call reached a terminal state and its media is released. */
  whenEnded(): Promise<void> {
    return this.endedPromise;
  }

  /** Aborted when the call ends: combine with a verb's own signal. */
  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  durationSeconds(): number | null {
    if (!this.answerTime) return this.endTime ? 0 : null;
    const end = this.endTime ?? new Date();
    return Math.max(0, Math.round((end.getTime() - this.answerTime.getTime()) / 1000));
  }

  /** Twilio's standard request parameters for this call (every webhook and status callback carries them). */
  webhookParams(status: CallState = this.state): Record<string, string> {
    return buildCallParams({
      accountSid: this.info.accountSid,
      callSid: this.sid,
      from: this.info.from,
      to: this.info.to,
      callStatus: status,
      direction: this.info.direction,
      sipCallId: this.info.sipCallId,
      sipSourceIp: this.info.sourceIp,
      sipHeaders: this.info.sipHeaders,
      ...(this.info.parentCallSid ? { parentCallSid: this.info.parentCallSid } : {}),
    });
  }

  note(type: string, detail: Record<string, unknown>): void {
    const event: CallEvent = { at: new Date().toISOString(), type, detail };
    this.emit('event', event);
  }

  /** Records an error on the call (the first one wins: it is the cause). */
  recordError(code: number, message: string): void {
    if (this.errorCode === null) {
      this.errorCode = code;
      this.errorMessage = message;
    }
    this.note('error', { code, message });
  }

  private move(input: CallInput): boolean {
    const next = transition(this.state, input);
    if (next === null) return false;
    const previous = this.state;
    this.state = next;
    this.note('status', { from: previous, to: next });
    this.emit('status', next, previous);
    return true;
  }

  /** 180 Ringing while the application is asked what to do. */
  ring(): void {
    if (this.state !== 'initiated' || !this.invite) return;
    this.invite.respond(180);
    this.note('sip.out', { status: 180 });
    this.move({ type: 'ring' });
  }

  answer(): Promise<void> {
    if (this.answerTime) return Promise.resolve();
    // An outbound call is answered by the far end; until then nothing may play on it.
    if (this.ended || !this.invite) return Promise.reject(new CallEndedError(this.sid));
    this.answering ??= this.doAnswer(this.invite);
    return this.answering;
  }

  /** Outbound: the INVITE is on its way (queued → initiated); `cancel` withdraws it while unanswered. */
  dialing(sipCallId: string, cancel: () => void): void {
    this.info.sipCallId = sipCallId;
    this.cancelDial = cancel;
    this.note('sip.out', { method: 'INVITE', to: this.info.to });
    this.move({ type: 'dial' });
  }

  /** Outbound: the previous attempt failed over (to the next carrier); the new INVITE is on its way. */
  redialing(sipCallId: string, via: string | null): void {
    this.info.sipCallId = sipCallId;
    this.note('sip.out', { method: 'INVITE', to: this.info.to, ...(via ? { via } : {}), failover: true });
  }

  /** Outbound: a provisional response (180/183) from the far end. */
  remoteRinging(status: number): void {
    this.note('sip.in', { status });
    this.move({ type: 'ring' });
  }

  /**
   * Outbound: a provisional response carried the far end's SDP (early media: its ringback or
   * announcements). The media is the call's from now on; 'early-media' tells a `<Dial>` to relay it.
   */
  remoteEarlyMedia(rtp: RtpSession, audio: NegotiatedAudio): void {
    if (this.ended || this.answerTime) return;
    if (this.media) this.media.configure(audio);
    else this.media = this.createMedia(rtp, audio);
    this.note('sip.in', { earlyMedia: true, codec: audio.codec, remote: `${audio.remoteAddress}:${audio.remotePort}`, srtp: this.media!.srtpSuite });
    this.emit('early-media', this);
  }

  /** Outbound: the far end answered; the dialog and media are the call's from now on. */
  connected(dialog: Dialog, rtp: RtpSession, audio: NegotiatedAudio, localSdp: string, response: SipResponse | null = null): void {
    this.cancelDial = null;
    this.answerResponse = response;
    // After early media the session is the same; the 2xx's description may still differ (RFC 3261 §13.2.1).
    if (this.media?.rtp === rtp) this.media.configure(audio);
    else this.media = this.createMedia(rtp, audio);
    this.established(this.createDialog(dialog, false, localSdp), audio, rtp.localPort, 'sip.in');
  }

  /** The 200 OK went out (inbound) or came in (outbound): the call is answered. */
  private established(dialog: CallDialog, audio: NegotiatedAudio, localRtpPort: number, direction: 'sip.in' | 'sip.out'): void {
    this.dialog = dialog;
    this.answerTime = new Date();
    this.sipResponseCode = 200;
    this.note(direction, { status: 200, codec: audio.codec, remote: `${audio.remoteAddress}:${audio.remotePort}`, localRtpPort, srtp: this.media?.srtpSuite ?? null });
    this.move({ type: 'answer' });
    this.timeLimit.answered(this.answerTime);
  }

  /** Outbound: the INVITE ended without an answer (busy, no-answer, failed), or we withdrew it (canceled). */
  async notAnswered(outcome: UnansweredOutcome | 'canceled', sipCode: number | null, reason: string): Promise<void> {
    this.cancelDial = null;
    if (sipCode !== null) this.note('sip.in', { status: sipCode });
    await this.finish(outcome === 'canceled' ? { type: 'cancel' } : { type: 'unanswered', outcome }, sipCode, reason);
  }

  /** Ends the answered call after `seconds` (Twilio's TimeLimit); counted from the answer. */
  setTimeLimit(seconds: number): void {
    if (!this.ended) this.timeLimit.set(seconds);
  }

  private createMedia(rtp: RtpSession, audio: NegotiatedAudio): CallMedia {
    return new CallMedia(
      rtp,
      audio,
      {
        digit: (d) => this.onCallerDigit(d),
        keyDown: () => {
          for (const listener of [...this.keyDownListeners]) listener();
        },
        sent: (digit, method) => this.note('dtmf.out', { digit, method }),
      },
      this.srtpPolicy,
    );
  }

  private createDialog(dialog: Dialog, uas: boolean, localSdp: string): CallDialog {
    const call = this;
    return new CallDialog(dialog, {
      get media() {
        return call.media;
      },
      note: (type, detail) => this.note(type, detail),
      remoteHangup: () => void this.finish({ type: 'hangup' }, this.sipResponseCode, 'caller-hangup'),
      ackTimeout: () => {
        this.recordError(0, 'no ACK received for the 200 OK');
        void this.sendByeAndFinish('ack-timeout');
      },
    }, uas, this.deps.media.publicAddress, this.sdpSessionId, localSdp);
  }

  /**
   * Inbound, unanswered: opens the RTP session and the SDP answer once. Early media (183) and the
   * 200 OK share them, so the caller's media path does not change at the answer (RFC 3261 §13.2.1:
   * the 2xx repeats the answer the reliable-or-not 183 gave).
   */
  private prepareMedia(invite: IncomingInvite): Promise<{ answer: string; audio: NegotiatedAudio; localPort: number }> {
    this.preparing ??= (async () => {
      const { media } = this.deps;
      const rtp = await RtpSession.open({ bindAddress: media.bindAddress, ports: media.ports, clock: media.clock });
      if (this.ended) {
        await rtp.close();
        throw new CallEndedError(this.sid);
      }
      const offer = invite.request.body.toString('latin1');
      const srtp = { policy: this.srtpPolicy };
      const result = answerOffer(offer, { address: media.publicAddress, port: rtp.localPort, sessionId: this.sdpSessionId, sessionVersion: 1, srtp });
      if (!result.ok) {
        // Codecs were checked when the INVITE arrived; the SRTP policy may refuse it only now.
        await rtp.close();
        // RFC 3261 §20.43: warn-code, warn-agent (our host), quoted warn-text.
        const headers = result.warning ? [{ name: 'Warning', value: `${result.warning.code} ${media.publicAddress} "${result.warning.text}"` }] : [];
        invite.respond(488, { reason: result.reason, headers });
        this.note('sip.out', { status: 488, reason: result.reason });
        if (result.warning) this.recordError(0, result.reason);
        await this.finish({ type: 'fail' }, 488, result.warning ? 'srtp-mismatch' : 'no-common-codec');
        throw new CallEndedError(this.sid);
      }
      this.media = this.createMedia(rtp, result.audio);
      return { answer: result.answer, audio: result.audio, localPort: rtp.localPort };
    })();
    return this.preparing;
  }

  /**
   * Inbound, unanswered: 183 Session Progress with our SDP answer, so the caller hears what is
   * relayed to it (a `<Dial answerOnBridge>` callee's early media) before any answer. Resolves
   * with the media's RTP session; the call stays unanswered (not billed, no 200 OK).
   */
  async earlyMedia(): Promise<RtpSession> {
    const invite = this.invite;
    if (this.ended || !invite) throw new CallEndedError(this.sid);
    if (this.answerTime) return this.media!.rtp;
    const prepared = await this.prepareMedia(invite);
    if (this.ended || !this.media) throw new CallEndedError(this.sid);
    if (!this.earlySent && !this.answerTime) {
      this.earlySent = true;
      invite.respond(183, { body: Buffer.from(prepared.answer, 'latin1'), contentType: 'application/sdp' });
      this.note('sip.out', { status: 183, localRtpPort: prepared.localPort });
    }
    return this.media.rtp;
  }

  private async doAnswer(invite: IncomingInvite): Promise<void> {
    const { answer, audio, localPort } = await this.prepareMedia(invite);
    if (this.ended) throw new CallEndedError(this.sid);
    const dialog = invite.respond(200, { body: Buffer.from(answer, 'latin1'), contentType: 'application/sdp' });
    if (!dialog) {
      await this.finish({ type: 'cancel' }, 487, 'caller-cancel');
      throw new CallEndedError(this.sid);
    }
    this.established(this.createDialog(dialog, true, answer), audio, localPort, 'sip.out');
  }

  private onCallerDigit(d: DtmfDigit): void {
    this.note('dtmf', { digit: d.digit, source: d.source, ...(d.durationMs !== null ? { durationMs: d.durationMs } : {}) });
    this.digitHeard(d.digit);
    for (const listener of [...this.digitListeners]) listener(d.digit, d.source);
  }

  async reject(reason: 'busy' | 'rejected'): Promise<void> {
    if (this.ended) throw new CallEndedError(this.sid);
    // Only an unanswered inbound call can be refused; any other call just ends.
    if (!this.invite || this.answerTime) return this.hangup(`rejected-${reason}`);
    const status = reason === 'busy' ? 486 : 603;
    this.invite.respond(status);
    this.note('sip.out', { status });
    await this.finish({ type: 'reject', reason }, status, `rejected-${reason}`);
  }

  async hangup(reason = 'app-hangup'): Promise<void> {
    if (this.ended) return;
    if (this.answering && !this.answerTime) await this.answering.catch(() => undefined);
    if (this.ended) return;
    if (this.answerTime) return this.sendByeAndFinish(reason);
    if (!this.invite) return this.withdraw('canceled', reason);
    this.invite.respond(UNANSWERED_HANGUP_STATUS);
    this.note('sip.out', { status: UNANSWERED_HANGUP_STATUS });
    await this.finish({ type: 'hangup' }, UNANSWERED_HANGUP_STATUS, reason);
  }

  /** Cancels an unanswered call (REST Status=canceled): 487 to an inbound caller, CANCEL for our INVITE. */
  async cancel(reason: string): Promise<void> {
    if (this.ended || this.answerTime) return;
    if (this.answering) await this.answering.catch(() => undefined);
    if (this.ended || this.answerTime) return;
    if (!this.invite) return this.withdraw('canceled', reason);
    this.invite.respond(487);
    this.note('sip.out', { status: 487 });
    await this.finish({ type: 'cancel' }, 487, reason);
  }

  /** Ends the call because something broke (shutdown, internal error). */
  async fail(reason: string): Promise<void> {
    if (this.ended) return;
    if (this.answerTime) return this.sendByeAndFinish(reason);
    if (!this.invite) return this.withdraw('failed', reason);
    if (!this.invite.finalResponseSent) {
      this.invite.respond(500);
      this.note('sip.out', { status: 500 });
    }
    await this.finish({ type: 'fail' }, 500, reason);
  }

  /** Outbound, unanswered: CANCEL the INVITE (if it was sent) and end the call now. */
  private async withdraw(outcome: 'canceled' | 'failed', reason: string): Promise<void> {
    const cancel = this.cancelDial;
    this.cancelDial = null;
    if (cancel) {
      this.note('sip.out', { method: 'CANCEL' });
      cancel();
    }
    await this.finish(outcome === 'canceled' ? { type: 'cancel' } : { type: 'fail' }, cancel ? 487 : null, reason);
  }

  private async sendByeAndFinish(reason: string): Promise<void> {
    const dialog = this.dialog;
    // Finish first: the caller must not hear anything more, and the record is written either way.
    const finished = this.finish({ type: 'hangup' }, this.sipResponseCode, reason);
    // §15: a callee must not send BYE before the ACK for its 2xx; CallDialog waits for it.
    if (dialog) await dialog.bye();
    await finished;
  }

  /** A key the caller pressed, for what a subclass runs on the call (Media Streams). */
  protected digitHeard(_digit: string): void {}

  /** The call ended: a subclass stops what it runs on the call (Media Streams). */
  protected releaseServices(): void {}

  private onCallerCancel(): void {
    this.note('sip.in', { method: 'CANCEL' });
    void this.finish({ type: 'cancel' }, 487, 'caller-cancel');
  }

  private async finish(input: CallInput, sipCode: number | null, reason: string): Promise<void> {
    if (this.ended) return;
    this.endTime = new Date();
    if (sipCode !== null) this.sipResponseCode = sipCode;
    this.endReason = reason;
    this.move(input);
    this.lifetime.abort(new CallEndedError(this.sid));
    this.timeLimit.clear();
    const media = this.media;
    this.media = null;
    this.digitListeners.clear();
    this.keyDownListeners.clear();
    this.releaseServices();
    if (media) {
      const { srtp, ...stats } = media.stats();
      // `srtp`: the suite that protected the media (null: plain RTP); `srtpStats`: its packet counts.
      this.note('media', { ...stats, srtp: srtp?.profile ?? null, ...(srtp ? { srtpStats: srtp } : {}) });
      await media.close().catch((err: unknown) => this.note('error', { message: `closing RTP: ${(err as Error).message}` }));
    }
    this.emit('ended', this);
    this.resolveEnded();
  }
}
