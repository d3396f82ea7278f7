/**
 * Places one outbound call (UAC): an RTP port and an SDP offer, the INVITE, provisional responses
 * as `ringing`, the ring timeout (CANCEL, then `no-answer`), and the SIP final response mapped to
 * Twilio's statuses. On answer the call owns the dialog and the media, and the application runs
 * on it exactly as on an inbound call (SendDigits first, when asked).
 */
import { RtpSession } from '../media/rtp-session.js';
import { createOffer, readAnswer } from '../sip/offer-answer.js';
import type { InviteOptions } from '../sip/sip-stack.js';
import type { OutgoingInvite, OutgoingInviteOutcome } from '../sip/outgoing-invite.js';
import type { SipResponse } from '../sip/message.js';
import type { UnansweredOutcome } from './call-state.js';
import type { Call, CallMediaDeps } from './call.js';
import type { ApplicationRunner, ApplicationTarget, InlineDocument } from './application-runner.js';

export interface OutboundDialerDeps {
  /** Starts an INVITE (SipStack.invite); throws when the URI cannot be routed. */
  invite(o: InviteOptions): OutgoingInvite;
  media: CallMediaDeps;
  runner: ApplicationRunner;
}

export interface DialPlan {
  /** Request-URI and To (a `sip:` URI). */
  uri: string;
  /** From header URI (`sip:user@host`), with an optional display name. */
  from: string;
  fromDisplayName: string | null;
  timeoutSeconds: number;
  sendDigits: string | null;
  /** Read at the answer: a REST update while ringing may have changed it. */
  application(): ApplicationTarget | InlineDocument;
}

/**
 * Twilio's status for a final response that is not a 2xx (twilio-voice.md §3): busy for 486/600,
 * no-answer for 408/480/487 (nobody picked up), and, as `<Reject reason="rejected">` does here,
 * for 603 Decline; failed for everything else (404, 484, 5xx...).
 */
export function outcomeForStatus(status: number): UnansweredOutcome {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480 || status === 487 || status === 603) return 'no-answer';
  return 'failed';
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export class OutboundDialer {
  constructor(private readonly deps: OutboundDialerDeps) {}

  /** Resolves when the call has ended (answered and hung up, or never answered). Never rejects. */
  async dial(call: Call, plan: DialPlan): Promise<void> {
    try {
      await this.setUp(call, plan);
    } catch (err) {
      call.recordError(12400, `outbound call failed: ${(err as Error).message}`);
      await call.fail('internal-error');
    }
    await call.whenEnded();
  }

  private async setUp(call: Call, plan: DialPlan): Promise<void> {
    const { media } = this.deps;
    if (call.ended) return; // cancelled while queued
    const rtp = await RtpSession.open({ bindAddress: media.bindAddress, ports: media.ports, clock: media.clock });
    let handedOver = false;
    try {
      if (call.ended) return;
      const offer = createOffer({ address: media.publicAddress, port: rtp.localPort, sessionId: call.sdpSessionId, sessionVersion: 1 });
      let invite: OutgoingInvite;
      try {
        invite = this.deps.invite({
          uri: plan.uri,
          from: plan.fromDisplayName ? `${quote(plan.fromDisplayName)} <${plan.from}>` : plan.from,
          to: plan.uri,
          body: Buffer.from(offer, 'latin1'),
          contentType: 'application/sdp',
        });
      } catch (err) {
        call.recordError(13224, `cannot route to ${plan.uri}: ${(err as Error).message}`);
        await call.notAnswered('failed', null, 'bad-destination');
        return;
      }
      call.dialing(invite.callId, () => invite.cancel());
      let provisional = false;
      invite.on('provisional', (res: SipResponse) => {
        // 100 Trying is hop-by-hop; 180/183 mean the far end is alerting (Twilio's "ringing").
        if (res.status <= 100 || call.ended) return;
        if (!provisional) call.remoteRinging(res.status);
        provisional = true;
      });
      const ringTimer = setTimeout(() => {
        // Give up now whether or not the CANCEL can go yet (§9.1 defers it until a provisional).
        invite.cancel();
        void call.notAnswered('no-answer', provisional ? 487 : 408, 'ring-timeout');
      }, plan.timeoutSeconds * 1000);
      const outcome = await invite.done;
      clearTimeout(ringTimer);
      handedOver = await this.settle(call, plan, outcome, rtp, offer);
    } finally {
      if (!handedOver) await rtp.close();
    }
  }

  /** Applies the INVITE's outcome to the call; true when the call took the RTP session. */
  private async settle(call: Call, plan: DialPlan, outcome: OutgoingInviteOutcome, rtp: RtpSession, offer: string): Promise<boolean> {
    switch (outcome.kind) {
      case 'answered': {
        const { dialog, response } = outcome;
        if (call.ended) {
          // Answered just as we gave up (timeout or REST cancel): the far end must not be left talking to nobody.
          await dialog.sendBye().catch(() => null);
          return false;
        }
        let audio = null;
        try {
          audio = readAnswer(response.body.toString('latin1'));
        } catch {
          audio = null;
        }
        if (!audio) {
          call.note('error', { message: 'the answer has no usable audio (PCMU/PCMA)' });
          await dialog.sendBye().catch(() => null);
          await call.notAnswered('failed', 488, 'no-common-codec');
          return false;
        }
        call.connected(dialog, rtp, audio, offer);
        void this.runApplication(call, plan);
        return true;
      }
      case 'rejected':
        await call.notAnswered(outcomeForStatus(outcome.response.status), outcome.response.status, `sip-${outcome.response.status}`);
        return false;
      case 'cancelled':
        // Our CANCEL (REST or ring timeout) already ended the call; this only confirms it.
        await call.notAnswered('canceled', outcome.response?.status ?? 487, 'canceled');
        return false;
      case 'timeout':
        call.note('error', { message: 'no response to the INVITE' });
        await call.notAnswered('failed', 408, 'sip-timeout');
        return false;
      case 'transport-error':
        call.note('error', { message: `cannot reach ${plan.uri}` });
        await call.notAnswered('failed', 503, 'transport-error');
        return false;
    }
  }

  private async runApplication(call: Call, plan: DialPlan): Promise<void> {
    if (plan.sendDigits) {
      try {
        await call.sendDigits(plan.sendDigits, call.signal);
      } catch (err) {
        if (call.ended) return;
        call.note('error', { message: `SendDigits failed: ${(err as Error).message}` });
      }
    }
    if (!call.ended) await this.deps.runner.run(call, plan.application());
  }
}
