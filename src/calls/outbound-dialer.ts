/**
 * Places one outbound call leg (UAC): an RTP port and an SDP offer, the INVITE, provisional
 * responses as `ringing`, the ring timeout (CANCEL, then `no-answer`), and the SIP final response
 * mapped to Twilio's statuses. A leg may have several attempts (one per carrier): an attempt that
 * fails on the server side (5xx, 408, no response) moves on to the next with the same call, media
 * and ring timeout; a callee's answer (486, 603...) ends the leg. On answer the call owns the dialog
 * and the media: `connect` stops there (a `<Dial>` leg is bridged next), `dial` runs the
 * application on it exactly as on an inbound call (SendDigits first, when asked).
 *
 * SRTP (RFC 4568 SDES): each attempt is offered under its target's policy (the attempt's, else
 * the plan's, else optional) with fresh keys; the answer's a=crypto sets up the media's SRTP. A
 * `required` attempt answered without usable SRTP is hung up (BYE) and the leg fails with 488.
 */
import { RtpSession } from '../media/rtp-session.js';
import { createOffer, readAnswerResult, type LocalSrtp, type NegotiatedAudio } from '../sip/offer-answer.js';
import { offerCrypto, type SrtpPolicy } from '../sip/sdes-negotiation.js';
import type { InviteOptions } from '../sip/sip-stack.js';
import type { OutgoingInvite, OutgoingInviteOutcome } from '../sip/outgoing-invite.js';
import type { SipResponse } from '../sip/message.js';
import type { UnansweredOutcome } from './call-state.js';
import type { Call, CallMediaDeps } from './call.js';
import type { ApplicationRunner, ApplicationTarget, InlineDocument } from './application-runner.js';
import { failsOver, type SipAttempt } from './carrier-routes.js';

export interface OutboundDialerDeps {
  /** Starts an INVITE (SipStack.invite); throws when the URI cannot be routed. */
  invite(o: InviteOptions): OutgoingInvite;
  media: CallMediaDeps;
  runner: ApplicationRunner;
  /** An attempt with no response at all (not even 100 Trying) after this long fails over, when another remains. Default 4000. */
  noResponseFailoverMs?: number;
}

/** An attempt with the SRTP policy of what it reaches (a carrier's, a user's), when known. */
export type SecureAttempt = SipAttempt & { srtp?: SrtpPolicy };

/** One leg to place: its attempts in order (carrier failover) and the ring timeout they share. */
export interface LegPlan {
  attempts: SecureAttempt[];
  /** SRTP policy for attempts that carry none. Default 'optional'. */
  srtp?: SrtpPolicy;
  /** From user part or URI: `sip:user@host` is used as is; a bare user gets the attempt's fromHost or `localHost`. */
  from: string;
  fromDisplayName: string | null;
  timeoutSeconds: number;
}

export interface DialPlan extends LegPlan {
  sendDigits: string | null;
  /** Read at the answer: a REST update while ringing may have changed it. */
  application(): ApplicationTarget | InlineDocument;
}

/** How `connect` ended: answered (the call is connected; `response` is the 200) or not (the call has ended). */
export type LegResult = { answered: true; response: SipResponse } | { answered: false; response: SipResponse | null };

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

/** The far end's audio in a provisional response's SDP (early media), if it has one we can use. */
function earlyAudio(res: SipResponse, srtp: LocalSrtp): NegotiatedAudio | null {
  if (res.body.length === 0 || !/^application\/sdp/i.test(res.headers.get('content-type') ?? '')) return null;
  try {
    const result = readAnswerResult(res.body.toString('latin1'), { srtp });
    return result.ok ? result.audio : null;
  } catch {
    return null; // early media is optional: a bad 183 body only means none is relayed
  }
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export class OutboundDialer {
  constructor(
    private readonly deps: OutboundDialerDeps,
    /** Host (and port) for From URIs built from a bare user. */
    private readonly localHost: string,
  ) {}

  /** Resolves when the call has ended (answered and hung up, or never answered). Never rejects. */
  async dial(call: Call, plan: DialPlan): Promise<void> {
    const result = await this.connect(call, plan);
    if (result.answered) await this.runApplication(call, plan);
    await call.whenEnded();
  }

  /** Places the leg; resolves at the answer (the call is connected) or when it ended unanswered. Never rejects. */
  async connect(call: Call, plan: LegPlan): Promise<LegResult> {
    try {
      return await this.setUp(call, plan);
    } catch (err) {
      call.recordError(12400, `outbound call failed: ${(err as Error).message}`);
      await call.fail('internal-error');
      return { answered: false, response: null };
    }
  }

  private fromHeader(plan: LegPlan, attempt: SipAttempt): string {
    let uri = /^sips?:/i.test(plan.from) ? plan.from : `sip:${plan.from}@${attempt.fromHost ?? this.localHost}`;
    // A From at our own address (the REST API's `sip:+1555…@<us>`) is our identity like a bare
    // number: through a carrier it takes the carrier's domain (fromDomain), which the carrier expects.
    const ours = `@${this.localHost}`;
    if (attempt.fromHost && uri.toLowerCase().endsWith(ours.toLowerCase())) uri = `${uri.slice(0, -ours.length)}@${attempt.fromHost}`;
    return plan.fromDisplayName ? `${quote(plan.fromDisplayName)} <${uri}>` : uri;
  }

  private async setUp(call: Call, plan: LegPlan): Promise<LegResult> {
    const { media } = this.deps;
    if (call.ended) return { answered: false, response: null }; // cancelled while queued
    const rtp = await RtpSession.open({ bindAddress: media.bindAddress, ports: media.ports, clock: media.clock });
    let handedOver = false;
    let ringTimer: NodeJS.Timeout | null = null;
    try {
      if (call.ended) return { answered: false, response: null };
      let current: OutgoingInvite | null = null;
      let provisional = false;
      let timedOut = false;
      ringTimer = setTimeout(() => {
        // Give up now whether or not the CANCEL can go yet (§9.1 defers it until a provisional).
        timedOut = true;
        current?.cancel();
        void call.notAnswered('no-answer', provisional ? 487 : 408, 'ring-timeout');
      }, plan.timeoutSeconds * 1000);
      let last: { outcome: OutgoingInviteOutcome; attempt: SipAttempt; offer: string; srtp: LocalSrtp } | null = null;
      for (let i = 0; i < plan.attempts.length && !call.ended; i++) {
        const attempt = plan.attempts[i]!;
        const more = i + 1 < plan.attempts.length;
        // Fresh keys per attempt: a carrier we failed over from never holds the winner's key.
        const policy = attempt.srtp ?? plan.srtp ?? 'optional';
        const srtp: LocalSrtp = { policy, offered: offerCrypto(policy) };
        call.srtpPolicy = policy;
        const offer = createOffer({ address: media.publicAddress, port: rtp.localPort, sessionId: call.sdpSessionId, sessionVersion: 1, srtp });
        let invite: OutgoingInvite;
        try {
          invite = this.deps.invite({
            uri: attempt.uri,
            from: this.fromHeader(plan, attempt),
            to: attempt.to ?? attempt.uri,
            body: Buffer.from(offer, 'latin1'),
            contentType: 'application/sdp',
            headers: attempt.headers,
            ...(attempt.dest ? { dest: attempt.dest } : {}),
            ...(attempt.credentials ? { credentials: attempt.credentials } : {}),
          });
        } catch (err) {
          call.note('error', { message: `cannot route to ${attempt.uri}: ${(err as Error).message}` });
          if (more) continue;
          call.recordError(13224, `cannot route to ${attempt.uri}: ${(err as Error).message}`);
          await call.notAnswered('failed', null, 'bad-destination');
          return { answered: false, response: null };
        }
        current = invite;
        if (i === 0) call.dialing(invite.callId, () => current?.cancel());
        else call.redialing(invite.callId, attempt.via);
        if (attempt.via) call.note('sip.route', { via: attempt.via, uri: attempt.uri });
        let responded = false;
        invite.on('provisional', (res: SipResponse) => {
          responded = true;
          // 100 Trying is hop-by-hop; 180/183 mean the far end is alerting (Twilio's "ringing").
          if (res.status <= 100 || call.ended) return;
          if (!provisional) call.remoteRinging(res.status);
          provisional = true;
          const early = earlyAudio(res, srtp);
          if (early) call.remoteEarlyMedia(rtp, early);
        });
        invite.on('ended', () => (responded = true));
        // A carrier that says nothing at all is down: try the next one without waiting for Timer B.
        let resolveSilence!: (v: null) => void;
        const silent = new Promise<null>((r) => (resolveSilence = r));
        const silence = more
          ? setTimeout(() => {
              if (responded || call.ended) return;
              call.note('sip.failover', { via: attempt.via, reason: 'no response' });
              invite.cancel();
              resolveSilence(null);
            }, this.deps.noResponseFailoverMs ?? 4000)
          : null;
        const outcome = await Promise.race([invite.done, silent]);
        if (silence) clearTimeout(silence);
        if (outcome === null) continue;
        last = { outcome, attempt, offer, srtp };
        if (more && !timedOut && !call.ended && this.shouldFailOver(outcome)) {
          call.note('sip.failover', { via: attempt.via, status: outcome.kind === 'rejected' ? outcome.response.status : outcome.kind });
          continue;
        }
        break;
      }
      if (ringTimer) clearTimeout(ringTimer);
      if (!last) {
        if (!call.ended) await call.notAnswered('failed', 408, 'no-response');
        return { answered: false, response: null };
      }
      const result = await this.settle(call, last.outcome, rtp, last.offer, last.attempt, last.srtp);
      handedOver = result.answered;
      return result;
    } finally {
      if (ringTimer) clearTimeout(ringTimer);
      if (!handedOver) await rtp.close();
    }
  }

  private shouldFailOver(outcome: OutgoingInviteOutcome): boolean {
    switch (outcome.kind) {
      case 'rejected':
        return failsOver({ kind: 'rejected', status: outcome.response.status });
      case 'timeout':
      case 'transport-error':
        return true;
      default:
        return false;
    }
  }

  /** Applies the INVITE's outcome to the call. */
  private async settle(call: Call, outcome: OutgoingInviteOutcome, rtp: RtpSession, offer: string, attempt: SipAttempt, srtp: LocalSrtp): Promise<LegResult> {
    switch (outcome.kind) {
      case 'answered': {
        const { dialog, response } = outcome;
        if (call.ended) {
          // Answered just as we gave up (timeout or REST cancel): the far end must not be left talking to nobody.
          await dialog.sendBye().catch(() => null);
          return { answered: false, response };
        }
        let read: ReturnType<typeof readAnswerResult>;
        try {
          read = readAnswerResult(response.body.toString('latin1'), { srtp });
        } catch (err) {
          read = { ok: false, reason: `the answer is not SDP: ${(err as Error).message}`, srtp: false };
        }
        if (!read.ok) {
          // Answered, but we cannot (or, SRTP policy, may not) exchange media: hang the callee up.
          if (read.srtp) call.recordError(0, read.reason);
          else call.note('error', { message: read.reason });
          await dialog.sendBye().catch(() => null);
          await call.notAnswered('failed', 488, read.srtp ? 'srtp-mismatch' : 'no-common-codec');
          return { answered: false, response };
        }
        call.connected(dialog, rtp, read.audio, offer, response);
        return { answered: true, response };
      }
      case 'rejected':
        await call.notAnswered(outcomeForStatus(outcome.response.status), outcome.response.status, `sip-${outcome.response.status}`);
        return { answered: false, response: outcome.response };
      case 'cancelled':
        // Our CANCEL (REST or ring timeout) already ended the call; this only confirms it.
        await call.notAnswered('canceled', outcome.response?.status ?? 487, 'canceled');
        return { answered: false, response: outcome.response };
      case 'timeout':
        call.note('error', { message: `no response to the INVITE to ${attempt.uri}` });
        await call.notAnswered('failed', 408, 'sip-timeout');
        return { answered: false, response: null };
      case 'transport-error':
        call.note('error', { message: `cannot reach ${attempt.uri}` });
        await call.notAnswered('failed', 503, 'transport-error');
        return { answered: false, response: null };
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
