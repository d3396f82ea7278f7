/**
 * SDP Security Descriptions (SDES, RFC 4568) for SRTP: the `a=crypto` attribute.
 *
 *   a=crypto:<tag> <crypto-suite> inline:<base64 key||salt>[|lifetime][|MKI:length][;inline:...] [session-params]
 *
 * Parsing is total: a line that does not follow the grammar of §9.1/§9.2 yields null, never an
 * exception, so one bad line in an offer only removes that line. `chooseCrypto` applies the
 * answerer rules of §7.1.2/§6.1: take the offer's lines in order (the offerer lists them by
 * preference) and answer the first one whose suite we support and whose parameters we can honour.
 *
 * This module knows suite names as strings only (`CryptoSuite`); `src/media` has the same names
 * as `SrtpProfile` and the call layer maps one to the other (sip and media never import each other).
 */
import { randomBytes } from 'node:crypto';

export type CryptoSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';
export const CRYPTO_SUITES: readonly CryptoSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** Both suites use a 128-bit master key and a 112-bit master salt: 30 bytes inline (§6.2). */
export const SDES_KEY_LENGTH = 16;
export const SDES_SALT_LENGTH = 14;

/** One `inline:` key parameter (§6.1). */
export interface CryptoKeyParam {
  /** Master key followed by master salt, decoded from base64. */
  keySalt: Buffer;
  /** Master key lifetime in packets (`2^20` or `1048576` on the wire), null when absent. */
  lifetime: number | null;
  /** Master Key Identifier carried in each packet, null when absent. */
  mki: { value: number; length: number } | null;
}

export interface CryptoAttribute {
  /** 1 to 9 decimal digits; the answer echoes the tag of the line it accepts (§5.1). */
  tag: number;
  /** Suite name as written; unknown suites parse too, so an answerer can skip them. */
  suite: string;
  keyParams: CryptoKeyParam[];
  /** Session parameters verbatim (`KDR=0`, `UNENCRYPTED_SRTCP`, `WSH=128`, `-vendor`...). */
  sessionParams: string[];
}

export interface ChooseCryptoOptions {
  /**
   * Lines whose master key expires sooner than this many packets are skipped: we do not re-key
   * within a call. Default 2^20 (about 5.8 hours of 20 ms packets), the lifetime most phones offer.
   */
  minLifetime?: number;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS = /^[0-9]+$/;
const SUITE = /^[A-Za-z0-9_]+$/;
const DEFAULT_MIN_LIFETIME = 2 ** 20;

/** Session parameters defined by RFC 4568 §6.3 for SRTP (the part before `=` where there is one). */
const KNOWN_SESSION_PARAMS = new Set(['KDR', 'UNENCRYPTED_SRTP', 'UNENCRYPTED_SRTCP', 'UNAUTHENTICATED_SRTP', 'FEC_ORDER', 'FEC_KEY', 'WSH']);

function isCryptoSuite(suite: string): suite is CryptoSuite {
  return (CRYPTO_SUITES as readonly string[]).includes(suite);
}

/** `2^20` or `1048576` (§9.2 lifetime); null when malformed. */
function parseLifetime(text: string): number | null {
  if (text.startsWith('2^')) {
    const exponent = text.slice(2);
    if (!DIGITS.test(exponent) || exponent.length > 2 || Number(exponent) > 64) return null;
    return 2 ** Number(exponent);
  }
  if (!DIGITS.test(text) || text.length > 15) return null;
  const value = Number(text);
  return value > 0 ? value : null;
}

/** `inline:<key||salt>[|lifetime][|MKI:length]` (§6.1); null when malformed. */
function parseKeyParam(text: string, suite: string): CryptoKeyParam | null {
  const colon = text.indexOf(':');
  if (colon < 0 || text.slice(0, colon).toLowerCase() !== 'inline') return null;
  const fields = text.slice(colon + 1).split('|');
  if (fields.length > 3 || !BASE64.test(fields[0]) || fields[0].length % 4 === 1) return null;
  const keySalt = Buffer.from(fields[0], 'base64');
  if (isCryptoSuite(suite) && keySalt.length !== SDES_KEY_LENGTH + SDES_SALT_LENGTH) return null;
  let lifetime: number | null = null;
  let mki: CryptoKeyParam['mki'] = null;
  for (const [i, field] of fields.slice(1).entries()) {
    const mkiColon = field.indexOf(':');
    if (mkiColon >= 0) {
      const value = field.slice(0, mkiColon);
      const length = field.slice(mkiColon + 1);
      if (mki || !DIGITS.test(value) || !DIGITS.test(length) || length.length > 3 || value.length > 15) return null;
      const bytes = Number(length);
      if (bytes < 1 || bytes > 128) return null;
      mki = { value: Number(value), length: bytes };
    } else {
      // The lifetime comes before the MKI (§9.2), so it can only be the first optional field.
      if (i !== 0) return null;
      lifetime = parseLifetime(field);
      if (lifetime === null) return null;
    }
  }
  return { keySalt, lifetime, mki };
}

/**
 * Parse the value of an `a=crypto` attribute. Accepts `1 AES_CM_...` (what
 * `getAttributes(m.attributes, 'crypto')` returns), `crypto:1 ...` or `a=crypto:1 ...`.
 */
export function parseCryptoAttribute(value: string): CryptoAttribute | null {
  let text = value.trim();
  if (text.startsWith('a=')) text = text.slice(2);
  if (text.startsWith('crypto:')) text = text.slice('crypto:'.length);
  const parts = text.split(/[ \t]+/);
  if (parts.length < 3) return null;
  const [tagText, suite, keyText, ...sessionParams] = parts;
  if (!DIGITS.test(tagText) || tagText.length > 9 || !SUITE.test(suite)) return null;
  const keyParams: CryptoKeyParam[] = [];
  for (const part of keyText.split(';')) {
    const keyParam = parseKeyParam(part, suite);
    if (!keyParam) return null;
    keyParams.push(keyParam);
  }
  return { tag: Number(tagText), suite, keyParams, sessionParams };
}

function formatLifetime(lifetime: number): string {
  const exponent = Math.log2(lifetime);
  return Number.isInteger(exponent) ? `2^${exponent}` : String(lifetime);
}

/** The full attribute as it goes into `m.attributes`: `crypto:<tag> <suite> inline:...`. */
export function formatCryptoAttribute(attribute: CryptoAttribute): string {
  const keys = attribute.keyParams.map((k) => {
    let text = `inline:${k.keySalt.toString('base64')}`;
    if (k.lifetime !== null) text += `|${formatLifetime(k.lifetime)}`;
    if (k.mki) text += `|${k.mki.value}:${k.mki.length}`;
    return text;
  });
  return [`crypto:${attribute.tag}`, attribute.suite, keys.join(';'), ...attribute.sessionParams].join(' ');
}

/** A fresh line with a random master key and salt (node:crypto randomBytes), no lifetime or MKI. */
export function generateCryptoAttribute(tag: number, suite: CryptoSuite): CryptoAttribute {
  return { tag, suite, keyParams: [{ keySalt: randomBytes(SDES_KEY_LENGTH + SDES_SALT_LENGTH), lifetime: null, mki: null }], sessionParams: [] };
}

/** Master key and salt of the line's (first) key, shaped like media's `SrtpKeys`. */
export function cryptoKeys(attribute: CryptoAttribute): { masterKey: Buffer; masterSalt: Buffer } {
  const keySalt = attribute.keyParams[0].keySalt;
  return { masterKey: keySalt.subarray(0, SDES_KEY_LENGTH), masterSalt: keySalt.subarray(SDES_KEY_LENGTH, SDES_KEY_LENGTH + SDES_SALT_LENGTH) };
}

/**
 * Whether we can run SRTP as this line asks: one key without MKI (several keys need MKIs, §6.1,
 * and we put none in packets), a lifetime we will not outlive, KDR 0 (we derive once, §6.3.1),
 * encryption and authentication on, default FEC order, no FEC key. WSH (§6.3.6) is only a hint
 * about the receiver's window and unknown parameters marked `-` may be ignored (§6.3.7);
 * any other unknown parameter makes the line unacceptable.
 */
function canHonour(attribute: CryptoAttribute, minLifetime: number): boolean {
  if (attribute.keyParams.length !== 1) return false;
  const [key] = attribute.keyParams;
  if (key.mki !== null) return false;
  if (key.lifetime !== null && key.lifetime < minLifetime) return false;
  for (const param of attribute.sessionParams) {
    if (param.startsWith('-')) continue;
    const eq = param.indexOf('=');
    const name = eq < 0 ? param : param.slice(0, eq);
    const value = eq < 0 ? '' : param.slice(eq + 1);
    if (!KNOWN_SESSION_PARAMS.has(name)) return false;
    if (name === 'KDR' && value !== '0') return false;
    if (name === 'FEC_ORDER' && value !== 'FEC_SRTP') return false;
    if (name === 'WSH' && !DIGITS.test(value)) return false;
    if (name === 'UNENCRYPTED_SRTP' || name === 'UNENCRYPTED_SRTCP' || name === 'UNAUTHENTICATED_SRTP' || name === 'FEC_KEY') return false;
  }
  return true;
}

/**
 * Answerer choice (RFC 4568 §7.1.2): the first offered line, in the offer's order, with a suite
 * in `supported` and parameters we can honour; null when none (answer without SRTP or reject).
 * The answer is `generateCryptoAttribute(chosen.tag, chosen.suite)` with our own key.
 */
export function chooseCrypto(
  offered: readonly CryptoAttribute[],
  supported: readonly CryptoSuite[],
  options: ChooseCryptoOptions = {},
): (CryptoAttribute & { suite: CryptoSuite }) | null {
  const minLifetime = options.minLifetime ?? DEFAULT_MIN_LIFETIME;
  for (const attribute of offered) {
    const suite = attribute.suite;
    if (isCryptoSuite(suite) && supported.includes(suite) && canHonour(attribute, minLifetime)) return { ...attribute, suite };
  }
  return null;
}
