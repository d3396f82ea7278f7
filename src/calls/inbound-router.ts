/**
 * Turns an incoming INVITE into a Call: admission (draining, capacity), an early codec check
 * (488 before anyone is bothered), who may call in (403), the owning account's limits (503), the
 * caller/callee identities the app sees, and which application runs the call. The SIP stack has
 * already sent 100 Trying.
 */
import type { IncomingInvite } from '../sip/incoming-invite.js';
import { parseNameAddr } from '../sip/header-values.js';
import { parseUri } from '../sip/uri.js';
import { answerOffer } from '../sip/offer-answer.js';
import { newSid } from '../ids.js';
import { Call, type CallDeps } from './call.js';
import type { ApplicationRunner, ApplicationTarget, InlineDocument } from './application-runner.js';
import type { CallRegistry } from './call-registry.js';
import type { StatusCallbackTarget } from './status-notifier.js';
import type { Admission } from './inbound-policy.js';
import type { SrtpPolicy } from '../sip/sdes-negotiation.js';
import type { AccountAdmission } from './account-call-limits.js';
import type { CarrierAuthOutcome } from './carrier-auth.js';

/** Who owns an inbound call and what runs it: the called number's configuration, or the catch-all. */
export interface InboundRoute {
  accountSid: string;
  /** The owning account's token: signs the call's webhooks. */
  authToken: string;
  /** Null → the built-in welcome document. */
  application: ApplicationTarget | null;
  statusCallback: StatusCallbackTarget | null;
  phoneNumberSid: string | null;
  /** The caller's SRTP policy (a SIP user's); absent: the carrier's, else optional. */
  srtp?: SrtpPolicy;
}

export interface InboundRouterOptions {
  maxCalls: number;
  /** Resolves the called identity (To: E.164 or SIP user part) to its route; never rejects for an unknown number. */
  route: (to: string) => Promise<InboundRoute>;
  /**
   * Calls from SIP users: their route when the INVITE authenticated as a user (their application),
   * 'answered' when it was challenged or refused (407/403 already sent), null when the caller is not
   * a user (routing by the called number goes on).
   */
  callerRoute?: (invite: IncomingInvite) => Promise<InboundRoute | 'answered' | null>;
  /**
   * Whether a caller that is not an authenticated SIP user may call in (InboundPolicy: a carrier's
   * address, or loopback in development). Absent: everyone may (unit set-ups).
   */
  admitSource?: (address: string) => Promise<Admission>;
  /**
   * For a source `admitSource` refused: a carrier proving itself by digest (carrier-auth.ts).
   * 'answered' when it sent 407/403; 'not-challenged' leaves the 403 to the router.
   */
  authenticateCarrier?: (invite: IncomingInvite) => Promise<CarrierAuthOutcome>;
  /** Told when an INVITE was refused with 403 by `admitSource`. */
  onRefused?: (invite: IncomingInvite) => void;
  /** The owning account's limits (AccountCallLimits.admitInbound); absent: none. */
  admitAccount?: (accountSid: string) => AccountAdmission;
  /** Told when an INVITE was refused with 503 by `admitAccount`. */
  onOverLimit?: (invite: IncomingInvite, accountSid: string, limit: 'account-calls' | 'account-rate') => void;
  /** Told when routing itself failed (the caller got a 500). */
  onError?: (err: Error, invite: IncomingInvite) => void;
}

/** What a caller hears when no application is configured: enough to prove the path works. */
export const WELCOME_DOCUMENT: InlineDocument = {
  verbs: [
    { verb: 'say', text: 'Welcome to Patchbay. No application is configured for this number yet.', voice: 'woman', language: 'en-US', loop: 1 },
    { verb: 'hangup' },
  ],
};

/**
 * Twilio-style identity: a phone-number-like user part (`+15551234567`, `1000`) is given as is;
 * anything else as a SIP URI `sip:user@host`.
 */
export function identityFromUri(uriText: string): string {
  const uri = parseUri(uriText);
  if (!uri) return uriText;
  if (uri.user !== null && /^\+?[0-9*#]+$/.test(uri.user)) return uri.user;
  if (uri.scheme === 'sip' || uri.scheme === 'sips') return `${uri.scheme}:${uri.user !== null ? `${uri.user}@` : ''}${uri.host}`;
  return uriText;
}

export class InboundRouter {
  private draining = false;

  constructor(
    private readonly opts: InboundRouterOptions,
    private readonly registry: CallRegistry,
    private readonly callDeps: CallDeps,
    private readonly runner: ApplicationRunner,
  ) {}

  /** After this, new INVITEs get 503 (Retry-After) while live calls finish. */
  stopAccepting(): void {
    this.draining = true;
  }

  /**
   * Admits or refuses the INVITE at once (503/488 need no lookup), then resolves the called
   * number and starts the call. Resolves to the call, or null when refused or cancelled meanwhile.
   */
  async handle(invite: IncomingInvite): Promise<Call | null> {
    const req = invite.request;
    if (this.draining) {
      invite.respond(503, { headers: [{ name: 'Retry-After', value: '30' }] });
      return null;
    }
    if (this.registry.size >= this.opts.maxCalls) {
      invite.respond(503, { reason: 'Too Many Calls', headers: [{ name: 'Retry-After', value: '5' }] });
      return null;
    }
    if (req.body.length === 0) {
      // Late offer (INVITE without SDP) is not supported yet: say so precisely instead of failing later.
      invite.respond(488, { reason: 'SDP Offer Required' });
      return null;
    }
    const probe = answerOffer(req.body.toString('latin1'), { address: this.callDeps.media.publicAddress, port: 9, sessionId: '0', sessionVersion: 0 });
    if (!probe.ok) {
      invite.respond(488, { reason: probe.reason });
      return null;
    }

    const to = identityFromUri(req.uri);
    let route: InboundRoute;
    let admission: Admission | null = null;
    try {
      const fromUser = this.opts.callerRoute ? await this.opts.callerRoute(invite) : null;
      if (fromUser === 'answered') return null;
      if (fromUser === null && this.opts.admitSource) {
        admission = await this.opts.admitSource(invite.source.host);
        if (!admission.admitted && this.opts.authenticateCarrier) {
          const carrier = await this.opts.authenticateCarrier(invite);
          if (carrier === 'answered') return null;
          if (carrier !== 'not-challenged') admission = { admitted: true, via: 'carrier', ...carrier };
        }
        if (!admission.admitted) {
          // Before any lookup, application or carrier: an unknown source learns nothing and costs nothing.
          invite.respond(403, { reason: 'Forbidden' });
          this.opts.onRefused?.(invite);
          return null;
        }
      }
      route = fromUser ?? (await this.opts.route(to));
    } catch (err) {
      this.opts.onError?.(err as Error, invite);
      invite.respond(500);
      return null;
    }
    // The caller may have given up while the number was looked up.
    if (invite.cancelled || invite.finalResponseSent) return null;
    // SRTP policy of who is calling (RFC 4568): refused before any application is asked.
    const srtp: SrtpPolicy = route.srtp ?? (admission?.admitted && admission.via === 'carrier' ? admission.srtp : 'optional');
    const secure = answerOffer(req.body.toString('latin1'), { address: this.callDeps.media.publicAddress, port: 9, sessionId: '0', sessionVersion: 0, srtp: { policy: srtp } });
    if (!secure.ok) {
      const headers = secure.warning ? [{ name: 'Warning', value: `${secure.warning.code} ${this.callDeps.media.publicAddress} "${secure.warning.text}"` }] : [];
      invite.respond(488, { reason: secure.reason, headers });
      return null;
    }
    // Checked here, synchronously with registry.add below, so two INVITEs cannot share the last slot.
    const limited = this.opts.admitAccount?.(route.accountSid);
    if (limited && !limited.admitted) {
      const reason = limited.limit === 'account-calls' ? 'Account Call Limit' : 'Account Rate Limit';
      invite.respond(503, { reason, headers: [{ name: 'Retry-After', value: limited.limit === 'account-calls' ? '10' : '1' }] });
      this.opts.onOverLimit?.(invite, route.accountSid, limited.limit);
      return null;
    }

    const from = parseNameAddr(req.headers.get('from') ?? '');
    const sipHeaders: Record<string, string> = {};
    for (const f of req.headers.fields) if (/^x-/i.test(f.name)) sipHeaders[f.name] = f.value;
    const call = new Call(
      {
        sid: newSid('CA'),
        accountSid: route.accountSid,
        authToken: route.authToken,
        phoneNumberSid: route.phoneNumberSid,
        from: from ? identityFromUri(from.uri) : 'anonymous',
        to,
        direction: 'inbound',
        sipCallId: invite.callId,
        sourceIp: invite.source.host,
        sipHeaders,
      },
      invite,
      this.callDeps,
    );
    call.statusCallback = route.statusCallback;
    call.srtpPolicy = srtp;
    this.registry.add(call);
    call.note('sip.in', {
      method: 'INVITE',
      from: req.headers.get('from'),
      to: req.uri,
      source: `${invite.source.transport}:${invite.source.host}:${invite.source.port}`,
      ...(admission?.admitted && admission.via === 'carrier' ? { carrierSid: admission.carrierSid } : {}),
    });
    call.ring();

    const target: ApplicationTarget | InlineDocument = route.application ?? WELCOME_DOCUMENT;
    void this.runner.run(call, target);
    return call;
  }
}
