/**
 * Structured views of header field values (RFC 3261 §20, grammar in §25.1): Via, name-addr /
 * addr-spec (From, To, Contact, Route...), CSeq, and splitting of comma-separated lists.
 *
 * Values arrive unfolded (the parser replaced each CRLF+LWS with one SP), so "SWS" here is just
 * SP / HTAB. Every function is a single forward scan with an index; nothing backtracks.
 */
import type { SipHeaders } from './message.js';
import { SipParseError } from './parser.js';
import { parseUri } from './uri.js';

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")  (§25.1)
const TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) TOKEN[c] = 1;
}
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

function isToken(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}
function isWs(c: number): boolean {
  return c === 32 || c === 9;
}
function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}
function scanToken(s: string, i: number): number {
  while (i < s.length && isToken(s.charCodeAt(i))) i++;
  return i;
}
/** `s[i]` is '"'; returns the index after the closing quote, or -1 if unterminated. */
function scanQuoted(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 /* \ */) i++; // quoted-pair: any octet but CR/LF, which unfolding already removed
    else if (c === 34) return i + 1;
  }
  return -1;
}

/**
 * Splits a header value on top-level commas (not inside "quoted strings" or <angle brackets>).
 * Pieces are trimmed and empty pieces are kept so callers can reject `a,,b`; '' gives [].
 * Only call this for headers whose grammar is a comma list (§7.3.1): never for unknown headers.
 */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 34) {
      const end = scanQuoted(value, i);
      if (end < 0) break; // unterminated: the rest is one piece, the element parser will reject it
      i = end - 1;
    } else if (c === 60) inAngle = true;
    else if (c === 62) inAngle = false;
    else if (c === 44 && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last.length > 0 || out.length > 0) out.push(last);
  return out;
}

/**
 * Parses `*( SWS ";" SWS name [ SWS "=" SWS gen-value ] )` from `i` into `params` (names lower
 * case, values raw: quoted strings keep their quotes). Returns the index where it stopped, or -1.
 * gen-value = token / host / quoted-string; a bare IPv6 address (Via received) is accepted too.
 */
function parseGenericParams(s: string, i: number, params: Map<string, string | null>): number {
  for (;;) {
    i = skipWs(s, i);
    if (i >= s.length || s.charCodeAt(i) !== 59 /* ; */) return i;
    i = skipWs(s, i + 1);
    const nameEnd = scanToken(s, i);
    if (nameEnd === i) return -1; // `;;` or `; ,` (RFC 4475 badinv01)
    const name = s.slice(i, nameEnd).toLowerCase();
    let value: string | null = null;
    i = skipWs(s, nameEnd);
    if (s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1);
      let end: number;
      if (s.charCodeAt(i) === 34) end = scanQuoted(s, i);
      else {
        end = i;
        for (; end < s.length; end++) {
          const c = s.charCodeAt(end);
          if (!(isToken(c) || c === 58 || c === 91 || c === 93)) break; // ':' '[' ']' for IPv6
        }
        if (end === i) end = -1;
      }
      if (end < 0) return -1;
      value = s.slice(i, end);
      i = end;
    }
    if (!params.has(name)) params.set(name, value);
  }
}

export interface Via {
  /** `SIP/2.0` (name upper case). */
  protocol: string;
  /** Upper case: UDP, TCP, TLS, SCTP, WS, WSS or an unknown token. */
  transport: string;
  /** Lower case; IPv6 without brackets. */
  host: string;
  port: number | null;
  params: Map<string, string | null>;
  branch: string | null;
  received: string | null;
  /** Value of `rport=N` (filled in by a server, RFC 3581 §4); null when absent or valueless. */
  rport: number | null;
  /** True when an `rport` parameter is present, with or without a value. */
  hasRport: boolean;
}

function parsePort(s: string, i: number): [number, number] | null {
  let end = i;
  while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
  if (end === i || end - i > 5) return null;
  const port = Number(s.slice(i, end));
  return port > 65535 ? null : [port, end];
}

/** Parses ONE via-parm: `SIP / 2.0 / UDP host[:port] *( ; via-params )` with SWS around separators. */
export function parseVia(value: string): Via | null {
  const s = value;
  const parts: string[] = [];
  let i = skipWs(s, 0);
  for (let k = 0; k < 3; k++) {
    if (k > 0) {
      if (s.charCodeAt(i) !== 47 /* / */) return null;
      i = skipWs(s, i + 1);
    }
    const end = scanToken(s, i);
    if (end === i) return null;
    parts.push(s.slice(i, end));
    i = skipWs(s, end);
  }
  if (i === 0 || !isWs(s.charCodeAt(i - 1))) return null; // sent-protocol LWS sent-by
  let host: string;
  if (s.charCodeAt(i) === 91 /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0) return null;
    host = s.slice(i + 1, close);
    // IPv6reference (§25.1): hex digits, ':' and '.' (IPv4 tail) only, with at least one ':' so
    // formatVia brackets it again. `[2;maddr=]` was accepted as a host (found by fuzzing).
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || host.indexOf(':') < 0) return null;
    i = close + 1;
  } else {
    const start = i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95)) break;
    }
    if (i === start) return null;
    host = s.slice(start, i);
  }
  let port: number | null = null;
  const afterHost = skipWs(s, i);
  if (s.charCodeAt(afterHost) === 58 /* : */) {
    const p = parsePort(s, skipWs(s, afterHost + 1));
    if (!p) return null;
    [port, i] = p;
  }
  const params = new Map<string, string | null>();
  i = parseGenericParams(s, i, params);
  if (i !== s.length) return null;
  // via-branch and via-received need a value, response-port is digits when present (§25.1, RFC 3581
  // §4); otherwise formatVia could not write back what was read (found by fuzzing: `;branch` was lost).
  if (params.get('branch') === null || params.get('received') === null) return null;
  const rportValue = params.get('rport');
  if (rportValue != null && !/^[0-9]{1,5}$/.test(rportValue)) return null;
  const rport = rportValue != null ? Number(rportValue) : null;
  return {
    protocol: `${parts[0]!.toUpperCase()}/${parts[1]!}`,
    transport: parts[2]!.toUpperCase(),
    host: host.toLowerCase(),
    port,
    params,
    branch: params.get('branch') ?? null,
    received: params.get('received') ?? null,
    rport,
    hasRport: params.has('rport'),
  };
}

/** Formats a via-parm. The `branch`, `received` and `rport` fields win over the same keys in `params`. */
export function formatVia(via: Via): string {
  let out = `${via.protocol}/${via.transport} ${via.host.indexOf(':') >= 0 ? `[${via.host}]` : via.host}`;
  if (via.port !== null) out += ':' + via.port;
  const rport = via.hasRport || via.rport !== null ? (via.rport !== null ? String(via.rport) : null) : undefined;
  const special: Record<string, string | null | undefined> = { branch: via.branch ?? undefined, received: via.received ?? undefined, rport };
  const written = new Set<string>();
  for (const [name, value] of via.params) {
    if (name in special) {
      const v = special[name];
      if (v === undefined) continue;
      out += v === null ? `;${name}` : `;${name}=${v}`;
    } else out += value === null ? `;${name}` : `;${name}=${value}`;
    written.add(name);
  }
  for (const name of ['branch', 'received', 'rport']) {
    const v = special[name];
    if (v === undefined || written.has(name)) continue;
    out += v === null ? `;${name}` : `;${name}=${v}`;
  }
  return out;
}

/** Every Via value in order, across header lines and commas. Throws SipParseError(400) on a malformed one. */
export function getVias(headers: SipHeaders): Via[] {
  const out: Via[] = [];
  for (const line of headers.getAll('via')) {
    const pieces = splitHeaderValues(line);
    if (pieces.length === 0) throw new SipParseError('Empty Via header', 400);
    for (const piece of pieces) {
      const via = parseVia(piece);
      if (!via) throw new SipParseError(`Malformed Via: ${piece.slice(0, 80)}`, 400);
      out.push(via);
    }
  }
  return out;
}

export interface NameAddr {
  /** Unquoted, unescaped display name; null when absent. */
  displayName: string | null;
  /** The URI text, not decoded (parse it with parseUri). */
  uri: string;
  /** Header parameters (tag, expires, q...): names lower case, values raw. */
  params: Map<string, string | null>;
}

function unquote(q: string): string {
  let out = '';
  for (let i = 1; i < q.length - 1; i++) {
    if (q.charCodeAt(i) === 92) i++;
    out += q[i];
  }
  return out;
}

/**
 * Parses `[display-name] <URI> *(;param)` or `addr-spec *(;param)`. In the addr-spec form the URI
 * ends at the first ';' and must not contain ',' or '?' (§20: such URIs need angle brackets).
 * No LWS is allowed inside <...> (RFC 4475 badaspec); `caller<sip:...>` is accepted (lwsdisp).
 */
export function parseNameAddr(value: string): NameAddr | null {
  const s = value;
  let i = skipWs(s, 0);
  let displayName: string | null = null;
  let uri: string;
  const c0 = s.charCodeAt(i);
  const lt = s.indexOf('<', i);
  if (c0 === 34 /* " */ || lt >= 0) {
    if (c0 === 34) {
      const end = scanQuoted(s, i);
      if (end < 0) return null; // RFC 4475 quotbal
      displayName = unquote(s.slice(i, end));
      i = skipWs(s, end);
      if (s.charCodeAt(i) !== 60) return null;
    } else {
      // display-name = *(token LWS): only token characters and whitespace before '<' (baddn).
      for (let k = i; k < lt; k++) {
        const c = s.charCodeAt(k);
        if (!isToken(c) && !isWs(c) && c < 128) return null;
      }
      const dn = s.slice(i, lt).trim();
      displayName = dn.length > 0 ? dn : null;
      i = lt;
    }
    const gt = s.indexOf('>', i + 1);
    if (gt < 0) return null;
    uri = s.slice(i + 1, gt);
    i = gt + 1;
  } else {
    let end = i;
    while (end < s.length && s.charCodeAt(end) !== 59 && !isWs(s.charCodeAt(end))) end++;
    uri = s.slice(i, end);
    if (uri.indexOf(',') >= 0 || uri.indexOf('?') >= 0) return null; // RFC 4475 regbadct
    i = end;
  }
  if (parseUri(uri) === null) return null;
  const params = new Map<string, string | null>();
  i = parseGenericParams(s, i, params);
  if (i !== s.length) return null;
  return { displayName, uri, params };
}

function quoteDisplayName(dn: string): string {
  let out = '"';
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charCodeAt(i);
    if (c === 13 || c === 10) continue; // cannot be carried even as a quoted-pair
    if (c === 34 || c === 92 || (c < 32 && c !== 9) || c === 127) out += '\\';
    out += dn[i];
  }
  return out + '"';
}

/** Always uses the `"name" <uri>` form, which is valid whatever the URI contains. */
export function formatNameAddr(na: NameAddr): string {
  let out = na.displayName !== null ? `${quoteDisplayName(na.displayName)} <${na.uri}>` : `<${na.uri}>`;
  for (const [name, value] of na.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** The tag parameter of a From/To value (null if absent or the value is malformed). */
export function getTag(value: string): string | null {
  return parseNameAddr(value)?.params.get('tag') ?? null;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** `1*DIGIT LWS Method`; the number must fit in 31 bits (§8.1.1.5). Checked by digit count, never by overflow. */
export function parseCSeq(value: string): CSeq | null {
  const s = value;
  let i = skipWs(s, 0);
  const start = i;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === start) return null;
  let sig = start;
  while (sig < i - 1 && s.charCodeAt(sig) === 48) sig++; // leading zeros (RFC 4475 wsinv: 0009)
  if (i - sig > 10) return null;
  const seq = Number(s.slice(sig, i));
  if (seq > 0x7fffffff) return null;
  const mStart = skipWs(s, i);
  if (mStart === i) return null;
  const mEnd = scanToken(s, mStart);
  if (mEnd === mStart || skipWs(s, mEnd) !== s.length) return null;
  return { seq, method: s.slice(mStart, mEnd) };
}
