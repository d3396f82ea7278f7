/**
 * Who a call comes from: an INVITE whose From names a SIP user must prove it with digest
 * credentials in Proxy-Authorization (RFC 3261 §22.3: a UAS that is not a proxy may still
 * challenge with 407, which is what phones expect for their own outgoing calls). Anyone else's
 * INVITE is routed as before (numbers, catch-all): being a SIP user is opt-in by the From.
 */
import { parseNameAddr } from '../sip/header-values.js';
import type { SipRequest } from '../sip/message.js';
import type { ResponseOptions } from '../sip/responses.js';
import type { DigestServer, StoredDigestSecrets } from '../sip/digest.js';
import { parseUri } from '../sip/uri.js';
import type { SipUserStore, StoredSipUserRecord } from '../store/store-types.js';

/** The part of an IncomingInvite this needs (an IncomingInvite satisfies it). */
export interface CallerInvite {
  readonly request: SipRequest;
  respond(status: number, opts?: ResponseOptions): unknown;
}

export interface CallerAuthDeps {
  users: Pick<SipUserStore, 'findSipUser'>;
  digest: DigestServer;
}

/**
 * The digest lookup for one realm, remembering the user it found: HA1s stored for another realm
 * can never match (the realm is hashed into them), so such a user has no usable secrets here.
 */
export function sipUserSecrets(
  users: Pick<SipUserStore, 'findSipUser'>,
  realm: string,
): { lookup: (username: string) => Promise<StoredDigestSecrets | null>; found: () => StoredSipUserRecord | null } {
  let user: StoredSipUserRecord | null = null;
  return {
    lookup: async (username) => {
      const rec = await users.findSipUser(username);
      user = rec && rec.realm === realm ? rec : null;
      return user ? { ha1Md5: user.ha1Md5, ha1Sha256: user.ha1Sha256 } : null;
    },
    found: () => user,
  };
}

/** The user part of a sip:/sips: From URI; null for anonymous, tel: or malformed From values. */
function fromUser(req: SipRequest): string | null {
  const from = parseNameAddr(req.headers.get('from') ?? '');
  const uri = from ? parseUri(from.uri) : null;
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return null;
  return uri.user && uri.user.length > 0 ? uri.user : null;
}

/**
 * Resolves to the authenticated SIP user; to 'not-a-user' when the From names no SIP user (the
 * caller answered nothing, routing continues); to null when this already answered the INVITE:
 * 407 with Proxy-Authenticate (no or stale credentials) or 403 (wrong credentials, or credentials
 * of another user than the From names).
 */
export async function authenticateCaller(invite: CallerInvite, deps: CallerAuthDeps): Promise<StoredSipUserRecord | 'not-a-user' | null> {
  const req = invite.request;
  const username = fromUser(req);
  if (username === null || (await deps.users.findSipUser(username)) === null) return 'not-a-user';

  const secrets = sipUserSecrets(deps.users, deps.digest.realm);
  const verdict = await deps.digest.verify(req.method, req.headers.getAll('proxy-authorization'), secrets.lookup);
  if (verdict.result === 'missing' || verdict.result === 'stale') {
    const challenges = deps.digest.challenges(verdict.result === 'stale');
    invite.respond(407, { headers: challenges.map((value) => ({ name: 'Proxy-Authenticate', value })) });
    return null;
  }
  const user = secrets.found();
  // A user may only place calls as itself: Alice's password does not let her call as Bob.
  if (verdict.result === 'failed' || verdict.username !== username || !user || user.username !== username) {
    invite.respond(403, { reason: 'Forbidden' });
    return null;
  }
  return user;
}
