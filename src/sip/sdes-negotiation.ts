/**
 * SDES-SRTP (RFC 4568) decisions for one audio m-line, under a local policy:
 *
 *   optional  SRTP when the peer offers or accepts it, plain RTP otherwise. Our offers are
 *             RTP/AVP with a=crypto ("best effort" SRTP: a peer that does not know a=crypto
 *             ignores it, RFC 4568 §7.1.1 and §5.1).
 *   required  SRTP or no call: offers are RTP/SAVP (§3.1 of RFC 3711 names the profile); a plain
 *             offer or an answer without a usable a=crypto is refused.
 *   off       never SRTP: an RTP/SAVP offer is refused, a=crypto on RTP/AVP ignored, none offered.
 *
 * The answerer echoes the tag of the line it accepts and puts its own key in it (§7.1.2). A
 * re-INVITE may keep our key (pass the SRTP in force as `current`) or the answer may carry a new
 * one; either way the side that receives the new description switches (§7.1.4).
 *
 * Pure functions over parsed SDP: no sockets, no media (the call layer turns a NegotiatedSrtp into
 * SRTP contexts).
 */
import { getAttributes, type MediaDescription } from './sdp.js';
import {
  chooseCrypto,
  CRYPTO_SUITES,
  formatCryptoAttribute,
  generateCryptoAttribute,
  parseCryptoAttribute,
  type CryptoAttribute,
  type CryptoSuite,
} from './sdp-crypto.js';

export type SrtpPolicy = 'optional' | 'required' | 'off';
export const SRTP_POLICIES: readonly SrtpPolicy[] = ['optional', 'required', 'off'];

/** SRTP agreed for a stream: the suite, our line (we send with its key) and the peer's. */
export interface NegotiatedSrtp {
  suite: CryptoSuite;
  local: CryptoAttribute;
  remote: CryptoAttribute;
}

/** RFC 3261 §20.43 warn-codes for a refused description. */
export interface SdpWarning {
  code: 302 | 306;
  text: string;
}

export type CryptoAnswer =
  | { ok: true; srtp: NegotiatedSrtp | null }
  | { ok: false; reason: string; warning: SdpWarning };

export const SECURE_PROTOCOLS: ReadonlySet<string> = new Set(['RTP/SAVP', 'RTP/SAVPF']);

export function isSecureProtocol(protocol: string): boolean {
  return SECURE_PROTOCOLS.has(protocol);
}

/** The m-line's well-formed a=crypto lines (malformed ones are dropped, not fatal: sdp-crypto.ts). */
export function cryptoLines(m: MediaDescription): CryptoAttribute[] {
  const out: CryptoAttribute[] = [];
  for (const value of getAttributes(m.attributes, 'crypto')) {
    const parsed = parseCryptoAttribute(value);
    if (parsed) out.push(parsed);
  }
  return out;
}

const incompatible = (text: string): CryptoAnswer => ({ ok: false, reason: text, warning: { code: 302, text: 'Incompatible transport protocol' } });

/**
 * Answerer side (§7.1.2): whether we can accept this offered audio m-line and with which SRTP.
 * `current` is the SRTP in force on the call (re-INVITE): its key is kept when the suite stays.
 */
export function answerCrypto(m: MediaDescription, policy: SrtpPolicy, current: NegotiatedSrtp | null = null): CryptoAnswer {
  const secure = isSecureProtocol(m.protocol);
  if (policy === 'off') {
    return secure ? incompatible('SRTP is off for this peer (RTP/SAVP offered)') : { ok: true, srtp: null };
  }
  const offered = cryptoLines(m);
  const chosen = chooseCrypto(offered, CRYPTO_SUITES);
  if (!chosen) {
    if (secure) {
      return { ok: false, reason: 'No acceptable a=crypto (AES_CM_128_HMAC_SHA1_80/_32, one key, no MKI)', warning: { code: 306, text: 'Attribute not understood' } };
    }
    if (policy === 'required') return incompatible(offered.length ? 'SRTP required: no acceptable a=crypto offered' : 'SRTP required: plain RTP offered');
    return { ok: true, srtp: null };
  }
  const keep = current !== null && current.suite === chosen.suite;
  const local: CryptoAttribute = keep ? { ...current.local, tag: chosen.tag } : generateCryptoAttribute(chosen.tag, chosen.suite);
  return { ok: true, srtp: { suite: chosen.suite, local, remote: chosen } };
}

/** The answer m-line's a=crypto attribute for what `answerCrypto` agreed. */
export function cryptoAttributeLine(srtp: NegotiatedSrtp): string {
  return formatCryptoAttribute(srtp.local);
}

/** Offerer side: the lines we offer under `policy` (none when off), _80 first as the stronger tag. */
export function offerCrypto(policy: SrtpPolicy): CryptoAttribute[] {
  if (policy === 'off') return [];
  return CRYPTO_SUITES.map((suite, i) => generateCryptoAttribute(i + 1, suite));
}

/** The m-line protocol of our offer: RTP/SAVP only when SRTP is required. */
export function offerProtocol(policy: SrtpPolicy): 'RTP/AVP' | 'RTP/SAVP' {
  return policy === 'required' ? 'RTP/SAVP' : 'RTP/AVP';
}

/**
 * Offerer side, reading the answer's m-line (§7.1.3): one a=crypto echoing the tag and suite of a
 * line we offered, with a key we can use. No a=crypto means plain RTP, which `required` refuses.
 */
export function readAnswerCrypto(m: MediaDescription, offered: readonly CryptoAttribute[], policy: SrtpPolicy): CryptoAnswer {
  if (offered.length === 0) return { ok: true, srtp: null };
  const answered = cryptoLines(m);
  if (answered.length === 0) {
    return policy === 'required' ? incompatible('SRTP required but the answer has no a=crypto') : { ok: true, srtp: null };
  }
  const line = answered[0];
  const ours = offered.find((o) => o.tag === line.tag);
  if (!ours || ours.suite !== line.suite) {
    return { ok: false, reason: `the answer's a=crypto tag ${line.tag} (${line.suite}) does not match our offer`, warning: { code: 306, text: 'Attribute not understood' } };
  }
  const usable = chooseCrypto([line], [ours.suite as CryptoSuite]);
  if (!usable) return { ok: false, reason: `the answer's a=crypto key for ${line.suite} is not usable`, warning: { code: 306, text: 'Attribute not understood' } };
  return { ok: true, srtp: { suite: usable.suite, local: ours, remote: usable } };
}
