/**
 * A `<Sip>` target as an application writes it: `sip:alice@example.com;transport=tcp?X-Ticket=42&User-to-User=abc`.
 * The part after `?` is RFC 3261 §19.1.1's `headers` component (`hname=hvalue` pairs joined by `&`,
 * %-escaped); it becomes headers of the INVITE (`<Dial><Sip>`) or the REFER (`<Refer><Sip>`), and
 * the URI is kept without it. Only headers an application may set pass (13252): letting an app
 * write `Via` or `Contact` would let it break the dialog.
 */
import { VerbErrorCode } from './verb-errors.js';
import type { RawNoun } from './verb-spec.js';
import { fail, parseString } from './attribute-parsers.js';

/** Twilio: the headers part of a SIP URI stays under 1024 characters (13251). */
export const MAX_SIP_HEADER_CHARS = 1024;

/** Headers Twilio lets through without an `X-` prefix on `<Dial><Sip>`. */
const DIAL_STANDARD_HEADERS = ['user-to-user', 'remote-party-id', 'p-preferred-identity', 'p-called-party-id'];
/** A REFER carries X- headers and User-to-User only (they travel to the transfer target). */
const REFER_STANDARD_HEADERS = ['user-to-user'];

/** RFC 3261 §25.1 `token`: what a header name may be made of. */
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
/**
 * `sip:`/`sips:` [userinfo@] host [:port] [;params]: enough structure to refuse what cannot be
 * dialled, without re-implementing the SIP stack's URI parser (which the engine uses when it dials).
 */
const SIP_URI = /^sips?:(?:[^@\s?]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:;[^;\s?]+)*$/i;

export type SipHeaderPolicy = 'dial' | 'refer';

export interface SipTarget {
  uri: string;
  headers: [string, string][];
}

function allowedHeader(name: string, policy: SipHeaderPolicy): boolean {
  const lower = name.toLowerCase();
  if (lower.startsWith('x-') && lower.length > 2) return true;
  return (policy === 'dial' ? DIAL_STANDARD_HEADERS : REFER_STANDARD_HEADERS).includes(lower);
}

/** Checks one header (from the URI or a `<Header>` element); returns it trimmed. */
export function checkSipHeader(name: string, value: string, policy: SipHeaderPolicy, label: string): [string, string] {
  const n = name.trim();
  if (!TOKEN.test(n)) fail(VerbErrorCode.SipHeaderName, `${label}: invalid SIP header name "${n}"`);
  if (!allowedHeader(n, policy)) {
    const allowed = policy === 'dial' ? 'X-*, User-to-User, Remote-Party-ID, P-Preferred-Identity or P-Called-Party-ID' : 'X-* or User-to-User';
    fail(VerbErrorCode.SipHeaderName, `${label}: header "${n}" cannot be set (use ${allowed})`);
  }
  // A CR or LF would end the header line and let the value inject headers of its own.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) fail(VerbErrorCode.SipUri, `${label}: header "${n}" has control characters in its value`);
  return [n, value.trim()];
}

function unescape(part: string, label: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    fail(VerbErrorCode.SipUri, `${label}: invalid %-escape in "${part}"`);
  }
}

/** Splits and checks a SIP URI with an optional `?headers` part. */
export function parseSipTarget(text: string, policy: SipHeaderPolicy, label: string): SipTarget {
  const value = text.trim();
  if (value === '') fail(VerbErrorCode.SipUri, `${label}: a SIP URI is required`);
  const q = value.indexOf('?');
  const uri = q < 0 ? value : value.slice(0, q);
  const headerPart = q < 0 ? '' : value.slice(q + 1);
  if (!SIP_URI.test(uri)) fail(VerbErrorCode.SipUri, `${label}: "${uri}" is not a sip: or sips: URI`);
  if (headerPart.length > MAX_SIP_HEADER_CHARS) fail(VerbErrorCode.SipTooManyHeaders, `${label}: the URI's header part is ${headerPart.length} characters (limit ${MAX_SIP_HEADER_CHARS})`);
  const headers: [string, string][] = [];
  for (const pair of headerPart.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = unescape(eq < 0 ? pair : pair.slice(0, eq), label);
    const hvalue = eq < 0 ? '' : unescape(pair.slice(eq + 1), label);
    headers.push(checkSipHeader(name, hvalue, policy, label));
  }
  return { uri, headers };
}

/** Total size of headers as they would be written in a URI, for the 13251 limit. */
export function headerChars(headers: readonly [string, string][]): number {
  return headers.reduce((n, [name, value]) => n + name.length + value.length + 2, 0);
}

/**
 * A `<Sip>` noun's target: its text (URI and `?headers`) plus `<Headers><Header name value/></Headers>`
 * children, in that order. Any other child is error `nestedCode`.
 */
export function sipTargetFromNoun(noun: RawNoun, policy: SipHeaderPolicy, nestedCode: number, label: string): SipTarget {
  const target = parseSipTarget(noun.text ?? '', policy, label);
  const headers = [...target.headers];
  for (const child of noun.nouns) {
    if (child.tag !== 'Headers') fail(nestedCode, `${label}: <Sip> cannot contain <${child.tag}>`);
    for (const h of child.nouns) {
      if (h.tag !== 'Header') fail(nestedCode, `${label}: <Headers> cannot contain <${h.tag}>`);
      const name = parseString(h.attrs.name, VerbErrorCode.SipHeaderName, label, 'Header name') ?? '';
      const value = parseString(h.attrs.value, VerbErrorCode.SipUri, label, 'Header value') ?? '';
      headers.push(checkSipHeader(name, value, policy, label));
    }
  }
  if (headerChars(headers) > MAX_SIP_HEADER_CHARS) fail(VerbErrorCode.SipTooManyHeaders, `${label}: the SIP headers exceed ${MAX_SIP_HEADER_CHARS} characters`);
  return { uri: target.uri, headers };
}
