/**
 * Carriers that prove who they are with digest instead of a fixed source address (trunks behind
 * changing or shared addresses, hosted PBXs). An INVITE from a source no carrier lists is
 * challenged with 407 once any carrier has inbound credentials; its Proxy-Authorization must then
 * carry one carrier's inbound username and a response made with that carrier's password. Only the
 * digest HA1s are stored, bound to the server's realm, as for SIP users.
 *
 * With no digest carrier configured nothing is challenged (the caller answers 403 as before), so
 * an address-only install does not start answering scanners with challenges.
 */
import type { SipAddress, SipRequest } from '../sip/message.js';
import type { SrtpPolicyName } from '../store/store-types.js';
import type { DigestAlgorithm, DigestServer, StoredDigestSecrets } from '../sip/digest.js';
import { parseCredentials } from '../sip/digest.js';
import { offeredChallenges, type CallerInvite } from './caller-auth.js';

/** What the store keeps for a carrier that authenticates inbound calls by digest. */
export interface CarrierInboundSecrets extends StoredDigestSecrets {
  sid: string;
  accountSid: string;
  /** The carrier's SRTP policy, which its calls get. */
  srtp: SrtpPolicyName;
  inboundUsername: string;
  /** The realm the HA1s were made for: another realm's HA1 can never match. */
  realm: string;
}

export interface CarrierAuthDeps {
  /** The enabled carrier whose inbound username this is, if any. */
  findByInboundUsername: (username: string) => Promise<CarrierInboundSecrets | null>;
  /** Whether any enabled carrier has inbound credentials (cached by the caller). */
  anyDigestCarrier: () => Promise<boolean>;
  digest: DigestServer;
  algorithms?: readonly DigestAlgorithm[];
  /** Told of every 403 for wrong credentials (the flood guard bans repeat guessers). */
  onAuthFailure?: (source: SipAddress) => void;
}

export type CarrierAuthOutcome =
  /** Authenticated: the call comes in through this carrier. */
  | { carrierSid: string; accountSid: string; srtp: SrtpPolicyName }
  /** 407 or 403 was sent. */
  | 'answered'
  /** No digest carrier exists: the caller decides (403). */
  | 'not-challenged';

function usedAlgorithm(req: SipRequest, realm: string): DigestAlgorithm | undefined {
  return req.headers.getAll('proxy-authorization').map(parseCredentials).find((c) => c !== null && c.realm === realm)?.algorithm;
}

export async function authenticateCarrier(invite: CallerInvite, deps: CarrierAuthDeps): Promise<CarrierAuthOutcome> {
  if (!(await deps.anyDigestCarrier())) return 'not-challenged';
  const req = invite.request;
  let found: CarrierInboundSecrets | null = null;
  const verdict = await deps.digest.verify(req.method, req.headers.getAll('proxy-authorization'), async (username) => {
    const c = await deps.findByInboundUsername(username);
    found = c && c.realm === deps.digest.realm ? c : null;
    return found;
  });
  if (verdict.result === 'missing' || verdict.result === 'stale') {
    invite.respond(407, { headers: offeredChallenges(deps, verdict.result === 'stale').map((value) => ({ name: 'Proxy-Authenticate', value })) });
    return 'answered';
  }
  const carrier = found as CarrierInboundSecrets | null;
  const algorithm = usedAlgorithm(req, deps.digest.realm);
  const allowed = deps.algorithms ?? ['SHA-256', 'MD5'];
  if (verdict.result === 'ok' && carrier && carrier.inboundUsername === verdict.username && algorithm && allowed.includes(algorithm)) {
    return { carrierSid: carrier.sid, accountSid: carrier.accountSid, srtp: carrier.srtp };
  }
  invite.respond(403, { reason: 'Forbidden' });
  if (invite.source) deps.onAuthFailure?.(invite.source);
  return 'answered';
}
