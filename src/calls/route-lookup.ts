/**
 * Who owns an inbound call and which application runs it. A call from an authenticated SIP user
 * runs the user's application (its voiceApplicationSid's, else its own voice URL); any other call
 * is routed by the called identity: an IncomingPhoneNumber (its application's settings win over
 * its own, Twilio's VoiceApplicationSid), else the catch-all (--voice-url) on the server's account.
 */
import type { DigestAlgorithm, DigestServer } from '../sip/digest.js';
import type { IncomingInvite } from '../sip/incoming-invite.js';
import type { SipAddress } from '../sip/message.js';
import type { AccountStore, ApplicationStore, NumberStore, SipUserStore, VoiceSettings } from '../store/store-types.js';
import type { ApplicationTarget } from './application-runner.js';
import { authenticateCaller } from './caller-auth.js';
import type { InboundRoute } from './inbound-router.js';

export interface RouteLookupDeps {
  store: Pick<AccountStore, 'getAccount'> & Pick<ApplicationStore, 'getApplication'> & Pick<NumberStore, 'findNumber'> & Pick<SipUserStore, 'findSipUser'>;
  /** The server's own account: it owns calls to numbers nobody configured. */
  defaultAccount: { sid: string; authToken: string };
  /** The catch-all application (--voice-url), if any; read per call. */
  catchAll: () => ApplicationTarget | null;
  digest: DigestServer;
  algorithms: readonly DigestAlgorithm[];
  /** Told of every INVITE refused for wrong credentials (the flood guard bans repeat offenders). */
  onAuthFailure?: (source: SipAddress) => void;
}

interface Owned {
  accountSid: string;
  voiceApplicationSid: string | null;
}

export class RouteLookup {
  constructor(private readonly deps: RouteLookupDeps) {}

  /** The called identity's route; never null (the catch-all, or the welcome document when none). */
  async route(to: string): Promise<InboundRoute> {
    const number = await this.deps.store.findNumber(to);
    const routed = number ? await this.routeOf(number, number, number.sid) : null;
    return routed ?? { accountSid: this.deps.defaultAccount.sid, authToken: this.deps.defaultAccount.authToken, application: this.deps.catchAll(), statusCallback: null, phoneNumberSid: null };
  }

  /** A SIP user's call: its route once authenticated; 'answered' when challenged or refused; null for other callers. */
  async callerRoute(invite: IncomingInvite): Promise<InboundRoute | 'answered' | null> {
    const { store, digest, algorithms, onAuthFailure } = this.deps;
    const user = await authenticateCaller(invite, { users: store, digest, algorithms, ...(onAuthFailure ? { onAuthFailure } : {}) });
    if (user === null) return 'answered';
    if (user === 'not-a-user') return null;
    const route = await this.routeOf(user, user, null);
    return route ? { ...route, srtp: user.srtp ?? 'optional' } : 'answered';
  }

  private async routeOf(owner: Owned, own: VoiceSettings, phoneNumberSid: string | null): Promise<InboundRoute | null> {
    const { store } = this.deps;
    const account = await store.getAccount(owner.accountSid);
    if (!account) return null;
    let voice: VoiceSettings = own;
    if (owner.voiceApplicationSid) {
      const app = await store.getApplication(owner.accountSid, owner.voiceApplicationSid);
      if (app) voice = app;
    }
    return {
      accountSid: account.sid,
      authToken: account.authToken,
      application: voice.voiceUrl ? { url: voice.voiceUrl, method: voice.voiceMethod, fallbackUrl: voice.voiceFallbackUrl, fallbackMethod: voice.voiceFallbackMethod } : null,
      // A number's (or user's) status callback reports the end of the call, as Twilio's does.
      statusCallback: voice.statusCallback ? { url: voice.statusCallback, method: voice.statusCallbackMethod, events: new Set(['completed']) } : null,
      phoneNumberSid,
    };
  }
}
