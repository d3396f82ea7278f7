/**
 * Which carriers take a call to a phone number, in which order, and how one attempt through a
 * carrier is addressed. Least-cost-routing style: the carriers whose prefixes match the number,
 * the longest matching prefix first (a `+4420` route beats a `+44` one), then by priority (lower
 * first), then the older carrier first. A carrier without prefixes matches every number with the
 * shortest possible prefix. Failover follows RFC 3261's split between "this server failed" and
 * "the callee answered": 5xx, 408 and no response move on to the next carrier; 4xx (486 Busy)
 * and 6xx (603 Decline) are the callee's answer and end the attempt.
 */
import type { HeaderField, SipAddress } from '../sip/message.js';
import type { SrtpPolicyName, StoredCarrierRecord } from '../store/store-types.js';

/** One INVITE to try: where it goes and how to authenticate. */
export interface SipAttempt {
  /** Request-URI (and To, unless `to` is set). */
  uri: string;
  /** To header URI when it differs from the Request-URI (a registered device: its contact vs the user's address). */
  to?: string;
  /** Next hop; null = resolve from the URI. */
  dest: SipAddress | null;
  /** Extra INVITE headers (X-*, User-to-User...). */
  headers: HeaderField[];
  /** Digest credentials for a 401/407 challenge. */
  credentials: { username: string; password: string } | null;
  /** Host part for the From URI on this attempt (a carrier's fromDomain); null = ours. */
  fromHost: string | null;
  /** What the attempt goes through, for the call's timeline (`carrier TK…`). */
  via: string | null;
  /** SRTP policy of what the attempt reaches (a carrier's); absent: the leg's, else optional. */
  srtp?: SrtpPolicyName;
}

const digitsOf = (n: string): string => n.replace(/^\+/, '');

/** The longest prefix of `carrier` matching `number` (length), -1 when none matches, 0 for a carrier without prefixes. */
function matchLength(carrier: StoredCarrierRecord, number: string): number {
  if (carrier.prefixes.length === 0) return 0;
  const digits = digitsOf(number);
  let best = -1;
  for (const p of carrier.prefixes) {
    const prefix = digitsOf(p);
    if (digits.startsWith(prefix) && prefix.length > best) best = prefix.length;
  }
  return best;
}

/** The enabled carriers that take `number`, best first. `carriers` come in priority then creation order. */
export function carriersFor(carriers: readonly StoredCarrierRecord[], number: string): StoredCarrierRecord[] {
  const ranked = carriers
    .filter((c) => c.enabled)
    .map((carrier, index) => ({ carrier, index, match: matchLength(carrier, number) }))
    .filter((r) => r.match >= 0);
  ranked.sort((a, b) => b.match - a.match || a.carrier.priority - b.carrier.priority || a.index - b.index);
  return ranked.map((r) => r.carrier);
}

const hostPart = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * A URI user part: RFC 3261 §25.1 allows unreserved, user-unreserved and escaped characters only,
 * so a `#` (tech prefixes like `1234#`, DTMF-style numbers) travels as `%23`.
 */
export const sipUserPart = (s: string): string => s.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/** The INVITE for `number` through `carrier`: sip:<techPrefix><number>@host:port, with its credentials. */
export function carrierAttempt(carrier: StoredCarrierRecord, number: string, headers: HeaderField[] = []): SipAttempt {
  const transport = carrier.transport === 'udp' ? '' : `;transport=${carrier.transport}`;
  return {
    uri: `sip:${sipUserPart(carrier.techPrefix + number)}@${hostPart(carrier.host)}:${carrier.port}${transport}`,
    dest: { transport: carrier.transport, host: carrier.host, port: carrier.port },
    headers,
    credentials: carrier.username && carrier.password ? { username: carrier.username, password: carrier.password } : null,
    fromHost: carrier.fromDomain ?? hostPart(carrier.host),
    via: `carrier ${carrier.sid}`,
    srtp: carrier.srtp ?? 'optional',
  };
}

/** Whether an attempt that ended like this should move on to the next carrier. */
export function failsOver(outcome: { kind: 'rejected'; status: number } | { kind: 'timeout' } | { kind: 'transport-error' } | { kind: 'no-response' }): boolean {
  if (outcome.kind !== 'rejected') return true;
  return outcome.status === 408 || (outcome.status >= 500 && outcome.status < 600);
}
