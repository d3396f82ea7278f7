/**
 * Who a call comes from: an INVITE whose From names a SIP user must prove it with digest
 * credentials in Proxy-Authorization (RFC 3261 §22.3: a UAS that is not a proxy may still
 * challenge with 407, which is what phones expect for their own outgoing calls). Anyone else's
 * INVITE is routed as before (numbers, catch-all): being a SIP user is opt-in by the From.
 */
import { parseNameAddr } from '../sip/header-values.js';
import type { SipAddress, SipRequest } from '../sip/message.js';
import type { ResponseOptions } from '../sip/responses.js';
import { parseChallenge, parseCredentials, type DigestAlgorithm, type DigestServer, type StoredDigestSecrets } from '../sip/digest.js';
import { parseUri } from '../sip/uri.js';
import type { SipUserStore, StoredSipUserRecord } from '../store/store-types.js';

/** The part of an IncomingInvite this needs (an IncomingInvite satisfies it). */
export interface CallerInvite {
  readonly request: SipRequest;
  /** Where the INVITE came from: wrong credentials are reported against it (flood/guessing bans). */
  readonly source?: SipAddress;
  respond(status: number, opts?: ResponseOptions): unknown;
}

export interface CallerAuthDeps {
  users: Pick<SipUserStore, 'findSipUser'>;
  digest: DigestServer;
  /**
   * Challenges offered, most preferred first (default SHA-256 then MD5, RFC 8760 §2.4).
   * Credentials in any other algorithm are refused, so a SHA-256-only server cannot be
   * downgraded. MD5 alone is for old clients (libre 1.x/baresip 1.0, SIPp 3.6) that abort on
   * any SHA-256 challenge instead of skipping it.
   */
  algorithms?: readonly DigestAlgorithm[];
  /** Told of every 403 for wrong credentials (e.g. SipStack.reportAuthFailure, which bans guessers). */
  onAuthFailure?: (source: SipAddress) => void;
}

export type SipUserDigestOutcome =
  | { result: 'ok'; user: StoredSipUserRecord }
  /** Answer 401/407 with these challenge values. */
  | { result: 'challenge'; challenges: string[] }
  | { result: 'forbidden' };

const DEFAULT_ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'];

/** The challenges to offer, in the configured order; throws when none is left (a configuration error). */
export function offeredChallenges(deps: Pick<CallerAuthDeps, 'digest' | 'algorithms'>, stale: boolean): string[] {
  const algorithms = deps.algorithms ?? DEFAULT_ALGORITHMS;
  const byAlgorithm = new Map(deps.digest.challenges(stale).map((v) => [parseChallenge(v)?.algorithm, v] as const));
  const out = algorithms.flatMap((a) => byAlgorithm.get(a) ?? []);
  if (out.length === 0) throw new Error(`no digest challenge for the algorithms ${algorithms.join(', ')}`);
  return out;
}

/**
 * Checks a request's digest credentials (`headerValues`: its Authorization or Proxy-Authorization
 * values) for the SIP user `username`: ok with the user record; a challenge when there are none
 * or the nonce is stale (§22.4); forbidden for a wrong response, an unknown user, another user's
 * credentials, or an algorithm not offered.
 */
export async function checkSipUserDigest(req: SipRequest, username: string, headerValues: readonly string[], deps: CallerAuthDeps): Promise<SipUserDigestOutcome> {
  const seen: { user: StoredSipUserRecord | null } = { user: null };
  // HA1s stored for another realm can never match (the realm is hashed into them).
  const lookup = async (name: string): Promise<StoredDigestSecrets | null> => {
    const rec = await deps.users.findSipUser(name);
    seen.user = rec && rec.realm === deps.digest.realm ? rec : null;
    return seen.user ? { ha1Md5: seen.user.ha1Md5, ha1Sha256: seen.user.ha1Sha256 } : null;
  };
  const verdict = await deps.digest.verify(req.method, headerValues, lookup);
  if (verdict.result === 'missing' || verdict.result === 'stale') return { result: 'challenge', challenges: offeredChallenges(deps, verdict.result === 'stale') };
  if (verdict.result === 'failed' || verdict.username !== username) return { result: 'forbidden' };
  const found = seen.user;
  const used = headerValues.map(parseCredentials).find((c) => c !== null && c.realm === deps.digest.realm)?.algorithm;
  if (!found || found.username !== username || !used || !(deps.algorithms ?? DEFAULT_ALGORITHMS).includes(used)) return { result: 'forbidden' };
  return { result: 'ok', user: found };
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
 * of another user than the From names). A user may only place calls as itself.
 */
export async function authenticateCaller(invite: CallerInvite, deps: CallerAuthDeps): Promise<StoredSipUserRecord | 'not-a-user' | null> {
  const req = invite.request;
  const username = fromUser(req);
  if (username === null || (await deps.users.findSipUser(username)) === null) return 'not-a-user';
  const outcome = await checkSipUserDigest(req, username, req.headers.getAll('proxy-authorization'), deps);
  if (outcome.result === 'ok') return outcome.user;
  if (outcome.result === 'challenge') invite.respond(407, { headers: outcome.challenges.map((value) => ({ name: 'Proxy-Authenticate', value })) });
  else {
    invite.respond(403, { reason: 'Forbidden' });
    if (invite.source) deps.onAuthFailure?.(invite.source);
  }
  return null;
}
