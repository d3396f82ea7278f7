/**
 * SIP and SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966) and opaque URIs of any other scheme.
 *
 * %-escapes are decoded only here (user, password, parameters, headers): RFC 3261 §19.1.4 and
 * RFC 4475 §3.1.1.3 say `%HH` is an escape inside SIP URIs and nowhere else in a message. Decoded
 * values may contain NUL (RFC 4475 escnull) — they are JS strings, never C strings.
 * One left-to-right pass with character-class tables; no regular expressions on the hot path.
 */

export interface SipUri {
  /** Lower case: `sip`, `sips`, `tel`, or any other scheme (then only `opaque` is meaningful). */
  scheme: string;
  /** %-decoded user part (for tel: the telephone-subscriber number); null when absent. */
  user: string | null;
  password: string | null;
  /** Lower case; IPv6 without brackets; '' for tel and opaque URIs. */
  host: string;
  port: number | null;
  /** uri-parameters, names lower case and decoded, values decoded (null = no `=value`). */
  params: Map<string, string | null>;
  /** `?name=value&...` headers, decoded. Only allowed where the URI is not a Request-URI (§19.1.1). */
  headers: Map<string, string>;
  /** Everything after `scheme:` for schemes other than sip/sips/tel (e.g. `isbn:2983792873`). */
  opaque?: string;
}

// Character classes (RFC 3261 §25.1).
const ALNUM = 1;
const MARK = 2; // "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
const USER_UNRESERVED = 4; // "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
const PASSWORD_EXTRA = 8; // "&" / "=" / "+" / "$" / ","
const PARAM_UNRESERVED = 16; // "[" / "]" / "/" / ":" / "&" / "+" / "$"
const HNV_UNRESERVED = 32; // "[" / "]" / "/" / "?" / ":" / "+" / "$"
const HOSTCHAR = 64; // alphanum / "-" / "." / "_" (underscore tolerated: seen in real hostnames)
const TELCHAR = 128; // digits, hex, visual separators, * # + p w

const CLASS = new Uint8Array(128);
function mark(chars: string, bit: number): void {
  for (const ch of chars) CLASS[ch.charCodeAt(0)]! |= bit;
}
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch)) CLASS[c]! |= ALNUM | HOSTCHAR;
}
mark("-_.!~*'()", MARK);
mark('&=+$,;?/', USER_UNRESERVED);
mark('&=+$,', PASSWORD_EXTRA);
mark('[]/:&+$', PARAM_UNRESERVED);
mark('[]/?:+$', HNV_UNRESERVED);
mark('-._', HOSTCHAR);
mark('0123456789abcdefABCDEF*#+-.()pPwW', TELCHAR);

const UNRESERVED = ALNUM | MARK;
const USER_SET = UNRESERVED | USER_UNRESERVED;
const PASSWORD_SET = UNRESERVED | PASSWORD_EXTRA;
const PARAM_SET = UNRESERVED | PARAM_UNRESERVED;
const HEADER_SET = UNRESERVED | HNV_UNRESERVED;

function inSet(code: number, set: number): boolean {
  return code < 128 && (CLASS[code]! & set) !== 0;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** Scans `text[start..]` while chars are in `set` or valid `%HH`; returns the end index, or -1 on a bad escape. */
function scanEscaped(text: string, start: number, set: number): number {
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      if (hexValue(text.charCodeAt(i + 1)) < 0 || hexValue(text.charCodeAt(i + 2)) < 0) return -1;
      i += 3;
    } else if (inSet(c, set)) i++;
    else break;
  }
  return i;
}

/** Decodes %HH escapes (already validated) as UTF-8 bytes; NUL is kept. */
function pctDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      bytes.push(hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2)));
      i += 2;
    } else bytes.push(c); // validated as ASCII by scanEscaped
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Escapes every character outside `set` (including '%') as UTF-8 %HH. */
function pctEncode(s: string, set: number): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    if (!inSet(s.charCodeAt(i), set)) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && inSet(c, set)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

function isScheme(s: string): boolean {
  if (s.length === 0) return false;
  const first = s.charCodeAt(0);
  if (!((first >= 65 && first <= 90) || (first >= 97 && first <= 122))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(inSet(c, ALNUM) || c === 43 || c === 45 || c === 46)) return false;
  }
  return true;
}

function isIPv6(s: string): boolean {
  if (s.length < 2 || s.indexOf(':') < 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(hexValue(c) >= 0 || c === 58 || c === 46)) return false;
  }
  return true;
}

/** Parses `;name[=value]` repeatedly from `i`; returns the index after the last one, or -1. */
function parseUriParams(text: string, i: number, params: Map<string, string | null>): number {
  while (i < text.length && text.charCodeAt(i) === 59 /* ; */) {
    const nameStart = i + 1;
    const nameEnd = scanEscaped(text, nameStart, PARAM_SET);
    if (nameEnd <= nameStart) return -1; // empty or badly escaped name
    const name = pctDecode(text.slice(nameStart, nameEnd)).toLowerCase();
    let value: string | null = null;
    i = nameEnd;
    if (text.charCodeAt(i) === 61 /* = */) {
      const valueEnd = scanEscaped(text, i + 1, PARAM_SET);
      if (valueEnd <= i + 1) return -1; // pvalue = 1*paramchar
      value = pctDecode(text.slice(i + 1, valueEnd));
      i = valueEnd;
    }
    if (!params.has(name)) params.set(name, value);
  }
  return i;
}

/** Parses `?hname=hvalue&...` from `i` (at '?'); returns the end index, or -1. */
function parseUriHeaders(text: string, i: number, headers: Map<string, string>): number {
  do {
    const nameStart = i + 1;
    const nameEnd = scanEscaped(text, nameStart, HEADER_SET);
    if (nameEnd <= nameStart || text.charCodeAt(nameEnd) !== 61) return -1;
    const valueEnd = scanEscaped(text, nameEnd + 1, HEADER_SET);
    if (valueEnd < 0) return -1;
    headers.set(pctDecode(text.slice(nameStart, nameEnd)), pctDecode(text.slice(nameEnd + 1, valueEnd)));
    i = valueEnd;
  } while (text.charCodeAt(i) === 38 /* & */);
  return i;
}

function parseSipUri(scheme: string, text: string, start: number): SipUri | null {
  const uri: SipUri = { scheme, user: null, password: null, host: '', port: null, params: new Map(), headers: new Map() };
  let i = start;
  // The only raw '@' in a valid SIP URI ends the userinfo: params and headers cannot contain it.
  const at = text.indexOf('@', i);
  if (at >= 0) {
    const userEnd = scanEscaped(text, i, USER_SET);
    if (userEnd <= i) return null;
    uri.user = pctDecode(text.slice(i, userEnd));
    i = userEnd;
    if (text.charCodeAt(i) === 58 /* : */) {
      const pwEnd = scanEscaped(text, i + 1, PASSWORD_SET);
      if (pwEnd < 0) return null;
      uri.password = pctDecode(text.slice(i + 1, pwEnd));
      i = pwEnd;
    }
    if (i !== at) return null;
    i++;
  }
  if (text.charCodeAt(i) === 91 /* [ */) {
    const close = text.indexOf(']', i);
    if (close < 0) return null;
    const host = text.slice(i + 1, close);
    if (!isIPv6(host)) return null;
    uri.host = host.toLowerCase();
    i = close + 1;
  } else {
    const hostStart = i;
    while (i < text.length && inSet(text.charCodeAt(i), HOSTCHAR)) i++;
    if (i === hostStart) return null;
    uri.host = text.slice(hostStart, i).toLowerCase();
  }
  if (text.charCodeAt(i) === 58 /* : */) {
    const portStart = ++i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === portStart || i - portStart > 5) return null;
    const port = Number(text.slice(portStart, i));
    if (port > 65535) return null;
    uri.port = port;
  }
  i = parseUriParams(text, i, uri.params);
  if (i < 0) return null;
  if (text.charCodeAt(i) === 63 /* ? */) i = parseUriHeaders(text, i, uri.headers);
  return i === text.length ? uri : null;
}

function parseTelUri(text: string, start: number): SipUri | null {
  let i = start;
  while (i < text.length && inSet(text.charCodeAt(i), TELCHAR)) i++;
  if (i === start) return null;
  const uri: SipUri = { scheme: 'tel', user: text.slice(start, i), password: null, host: '', port: null, params: new Map(), headers: new Map() };
  i = parseUriParams(text, i, uri.params);
  return i === text.length ? uri : null;
}

/** Parses a URI; null when it is not a URI at all (no scheme, bad characters, `<...>` around it...). */
export function parseUri(text: string): SipUri | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const scheme = text.slice(0, colon).toLowerCase();
  if (!isScheme(scheme)) return null;
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(scheme, text, colon + 1);
  if (scheme === 'tel') return parseTelUri(text, colon + 1);
  const opaque = text.slice(colon + 1);
  if (opaque.length === 0) return null;
  for (let i = 0; i < opaque.length; i++) {
    const c = opaque.charCodeAt(i);
    // Anything printable except delimiters that would end the URI inside a header value.
    if (c <= 32 || c === 127 || c === 34 || c === 60 || c === 62) return null;
  }
  return { scheme, user: null, password: null, host: '', port: null, params: new Map(), headers: new Map(), opaque };
}

function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) {
    out += ';' + pctEncode(name, PARAM_SET);
    if (value !== null) out += '=' + pctEncode(value, PARAM_SET);
  }
  return out;
}

/** Formats a URI, re-escaping what needs it; `formatUri(parseUri(x))` is equivalent to x (§19.1.4). */
export function formatUri(uri: SipUri): string {
  if (uri.opaque !== undefined) return `${uri.scheme}:${uri.opaque}`;
  if (uri.scheme === 'tel') return `tel:${uri.user ?? ''}${formatParams(uri.params)}`;
  let out = uri.scheme + ':';
  if (uri.user !== null) {
    out += pctEncode(uri.user, USER_SET);
    if (uri.password !== null) out += ':' + pctEncode(uri.password, PASSWORD_SET);
    out += '@';
  }
  out += uri.host.indexOf(':') >= 0 ? `[${uri.host}]` : uri.host;
  if (uri.port !== null) out += ':' + uri.port;
  out += formatParams(uri.params);
  let sep = '?';
  for (const [name, value] of uri.headers) {
    out += sep + pctEncode(name, HEADER_SET) + '=' + pctEncode(value, HEADER_SET);
    sep = '&';
  }
  return out;
}
