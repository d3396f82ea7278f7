/**
 * REFER plumbing (RFC 3515): reading Refer-To, and the message/sipfrag NOTIFY bodies and headers
 * that report the referred request's progress (§2.4.4–§2.4.5). Transfer logic lives above (calls/).
 */
import { parseNameAddr } from './header-values.js';
import type { HeaderField } from './message.js';
import { parseUri } from './uri.js';

/** Content-Type of REFER progress NOTIFY bodies (RFC 3420). */
export const SIPFRAG_CONTENT_TYPE = 'message/sipfrag;version=2.0';

export interface ReferTarget {
  /** The target URI without its `?headers` part. */
  uri: string;
  /** Headers embedded in the URI (§19.1.1), %-unescaped, in order: e.g. Replaces, X-Foo. */
  headers: [string, string][];
}

/** %HH → bytes, decoded as UTF-8; null on a malformed escape. */
function unescape(s: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Refer-To (RFC 3515 §2.1): a name-addr, or a bare URI (a URI with `?` or `;` really needs angle
 * brackets; a bare one is read up to its first `;`, leniently keeping any `?headers`). Null when
 * no SIP/SIPS/tel URI can be read.
 */
export function parseReferTo(value: string): ReferTarget | null {
  const v = value.trim();
  let full: string;
  if (v.includes('<')) {
    const na = parseNameAddr(v);
    if (!na) return null;
    full = na.uri;
  } else {
    full = v.split(/[;\s]/, 1)[0] ?? '';
  }
  const q = full.indexOf('?');
  const uri = q < 0 ? full : full.slice(0, q);
  const parsed = parseUri(uri);
  if (!parsed || !['sip', 'sips', 'tel'].includes(parsed.scheme)) return null;
  const headers: [string, string][] = [];
  if (q >= 0) {
    for (const part of full.slice(q + 1).split('&')) {
      if (part.length === 0) continue;
      const eq = part.indexOf('=');
      const name = unescape(eq < 0 ? part : part.slice(0, eq));
      const val = unescape(eq < 0 ? '' : part.slice(eq + 1));
      if (name === null || val === null || name.length === 0) return null;
      headers.push([name, val]);
    }
  }
  return { uri, headers };
}

/** A sipfrag body carrying just a status line (RFC 3515 §2.4.5): `SIP/2.0 200 OK\r\n`. */
export function sipfrag(status: number, reason: string): Buffer {
  return Buffer.from(`SIP/2.0 ${status} ${reason.replace(/[\r\n]/g, ' ')}\r\n`, 'utf8');
}

/** The status code of a sipfrag body's status line; null when it does not start with one. */
export function parseSipfragStatus(body: Buffer): number | null {
  const m = /^SIP\/2\.0[ \t]+([1-6][0-9]{2})(?:[ \t]|\r?\n|$)/.exec(body.toString('utf8', 0, Math.min(body.length, 256)));
  return m ? Number(m[1]) : null;
}

/**
 * Event and Subscription-State for a REFER progress NOTIFY (RFC 3515 §2.4.4–§2.4.5, RFC 6665
 * §4.1.3): `active;expires=60` while the referred request is pending, `terminated;reason=...`
 * with the final one (`noresource` by default, as the RFC's examples use).
 */
export function referNotifyHeaders(state: 'active' | 'terminated', reason?: string): HeaderField[] {
  const value = state === 'active' ? 'active;expires=60' : `terminated;reason=${reason ?? 'noresource'}`;
  return [
    { name: 'Event', value: 'refer' },
    { name: 'Subscription-State', value },
  ];
}
