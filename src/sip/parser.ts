/**
 * SIP message parser working on Buffers (RFC 3261 §7, §18.3, grammar §25.1).
 *
 * One forward pass over the header block: each line is located with `indexOf(LF)` on the bytes,
 * header names are checked against the token table, and only the name and the value of each
 * header line are decoded (UTF-8). The body is never decoded: it is a view of the input bytes,
 * because bodies may be binary (RFC 4475 mpart01 carries NUL and stray CR/LF bytes).
 *
 * Framing is the caller's concern: `parseDatagram` frames by the datagram (UDP), StreamFramer
 * (stream-framer.ts) by Content-Length. Both share `parseHead`.
 */
import { SipHeaders, type HeaderField, type SipMessage, type SipRequest } from './message.js';

/** A message that cannot be parsed; `status` is the response a server would send (400, 505, 513...). */
export class SipParseError extends Error {
  readonly code = 'SIP_PARSE_ERROR';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}

export type ParseOutcome =
  | { ok: true; message: SipMessage; consumed: number }
  | { ok: false; error: SipParseError; request?: SipRequest };

const TOKEN = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) TOKEN[c] = 1;
}
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;

const SP = 32;
const HT = 9;
const CR = 13;
const LF = 10;

function isTokenString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; returned normalized to upper case, or null. */
function parseVersion(s: string): string | null {
  if (s.length < 7 || s.slice(0, 4).toUpperCase() !== 'SIP/') return null;
  const dot = s.indexOf('.', 4);
  if (dot < 5 || dot === s.length - 1) return null;
  for (let i = 4; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (i !== dot && (c < 48 || c > 57)) return null;
  }
  return 'SIP' + s.slice(3);
}

export type StartLine =
  | { kind: 'request'; method: string; uri: string; version: string }
  | { kind: 'response'; version: string; status: number; reason: string };

/** What we could salvage from a bad start line: enough to build a best-effort request. */
interface StartLineResult {
  line: StartLine | null;
  error?: SipParseError;
  salvage?: { method: string; uri: string; version: string };
}

function parseStartLine(text: string): StartLineResult {
  if (text.length > 4 && text.slice(0, 4).toUpperCase() === 'SIP/') {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase. The SP before an empty reason
    // is tolerated when missing (RFC 4475 noreason). The code is range-checked by the caller
    // (isResponseAcceptable) so an over-large one can be dropped silently (RFC 4475 bigcode).
    const sp = text.indexOf(' ');
    const version = parseVersion(sp < 0 ? text : text.slice(0, sp));
    if (!version || sp < 0) return { line: null, error: new SipParseError('Malformed Status-Line', 400) };
    let i = sp + 1;
    const codeStart = i;
    while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === codeStart || i - codeStart > 15 || (i < text.length && text.charCodeAt(i) !== SP)) {
      return { line: null, error: new SipParseError('Malformed Status-Code', 400) };
    }
    return { line: { kind: 'response', version, status: Number(text.slice(codeStart, i)), reason: text.slice(i + 1) } };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version. Runs of SP and trailing SP are accepted
  // (RFC 4475 lwsstart, trws); they are not kept, so they are never forwarded.
  const parts = text.split(/[ \t]+/).filter((p) => p.length > 0);
  const method = parts[0] ?? '';
  const version = parts.length >= 2 ? parseVersion(parts[parts.length - 1]!) : null;
  const salvage = isTokenString(method) && parts.length >= 2
    ? { method, uri: parts.slice(1, version ? -1 : undefined).join(' '), version: version ?? 'SIP/2.0' }
    : undefined;
  if (parts.length !== 3 || !salvage || !version) {
    // e.g. `INVITE sip:user@example.com; lr SIP/2.0` (RFC 4475 lwsruri)
    return { line: null, error: new SipParseError('Malformed Request-Line', 400), salvage };
  }
  return { line: { kind: 'request', method, uri: parts[1]!, version } };
}

export type ContentLength =
  | { kind: 'absent' }
  | { kind: 'value'; length: number }
  | { kind: 'invalid'; error: SipParseError };

export interface ParsedHead {
  line: StartLine | null;
  /** First problem found (start line or header line); the head is still usable for salvage. */
  error?: SipParseError;
  salvage?: { method: string; uri: string; version: string };
  fields: HeaderField[];
  contentLength: ContentLength;
  /** Offset just after the empty line ending the headers (or `limit` when unterminated). */
  headEnd: number;
  /** False when `limit` was reached without an empty line (RFC 4475 baddn as a datagram). */
  terminated: boolean;
}

function trimmedUtf8(buf: Buffer, start: number, end: number): string {
  while (start < end && (buf[start] === SP || buf[start] === HT)) start++;
  while (end > start && (buf[end - 1] === SP || buf[end - 1] === HT)) end--;
  return start === end ? '' : buf.toString('utf8', start, end);
}

function isContentLengthName(name: string): boolean {
  return name.length === 1 ? name === 'l' || name === 'L' : name.length === 14 && name.toLowerCase() === 'content-length';
}

/** Content-Length = 1*DIGIT; the digit count is checked before converting (RFC 4475 ncl, huge values). */
function parseContentLength(fields: HeaderField[]): ContentLength {
  let found: string | null = null;
  for (const f of fields) {
    if (!isContentLengthName(f.name)) continue;
    if (found !== null) return { kind: 'invalid', error: new SipParseError('Multiple Content-Length headers', 400) };
    found = f.value;
  }
  if (found === null) return { kind: 'absent' };
  let sig = 0;
  for (let i = 0; i < found.length; i++) {
    const c = found.charCodeAt(i);
    if (c < 48 || c > 57) return { kind: 'invalid', error: new SipParseError('Malformed Content-Length', 400) };
  }
  if (found.length === 0) return { kind: 'invalid', error: new SipParseError('Empty Content-Length', 400) };
  while (sig < found.length - 1 && found.charCodeAt(sig) === 48) sig++;
  if (found.length - sig > 9) return { kind: 'invalid', error: new SipParseError('Content-Length out of range', 400) };
  return { kind: 'value', length: Number(found.slice(sig)) };
}

/**
 * Parses the start line and header lines of the message beginning at `start`, stopping at the
 * empty line or at `limit`. Folded lines (leading SP/HT) are joined to the previous value with
 * one SP (§7.3.1). Bare LF line ends are tolerated.
 */
export function parseHead(buf: Buffer, start: number, limit: number): ParsedHead {
  const fields: HeaderField[] = [];
  // A CR is only allowed as part of a line's CRLF (§7, §25.1: no TEXT-UTF8char is CR or LF). A bare
  // CR left inside a value would make the message, and any response copying its headers,
  // impossible to serialize (found by fuzzing). `nextCr` only moves forward: linear overall.
  const head = buf.subarray(0, limit);
  let nextCr = -2;
  let error: SipParseError | undefined;
  let pos = start;
  let headEnd = limit;
  let terminated = false;
  let first = true;
  let startResult: StartLineResult = { line: null };
  while (pos < limit) {
    const lf = buf.indexOf(LF, pos);
    const unterminated = lf < 0 || lf >= limit;
    const next = unterminated ? limit : lf + 1;
    let lineEnd = unterminated ? limit : lf;
    if (lineEnd > pos && buf[lineEnd - 1] === CR) lineEnd--;
    if (nextCr !== -1 && nextCr < pos) nextCr = head.indexOf(CR, pos);
    const bareCr = nextCr >= 0 && nextCr < lineEnd;
    if (first) {
      first = false;
      startResult = parseStartLine(buf.toString('utf8', pos, lineEnd));
      error = startResult.error;
      if (bareCr && startResult.line) {
        startResult = { line: null, error: new SipParseError('CR inside the start line', 400), salvage: startResult.line.kind === 'request' ? startResult.line : undefined };
        error = startResult.error;
      }
    } else if (bareCr && lineEnd > pos) {
      error ??= new SipParseError('CR inside a header line', 400); // skipped for salvage
    } else if (lineEnd === pos) {
      headEnd = next;
      terminated = true;
      break;
    } else if (buf[pos] === SP || buf[pos] === HT) {
      const last = fields[fields.length - 1];
      const more = trimmedUtf8(buf, pos, lineEnd);
      if (!last) error ??= new SipParseError('Folded line before any header', 400);
      else if (more.length > 0) last.value = last.value.length > 0 ? `${last.value} ${more}` : more;
    } else {
      let i = pos;
      while (i < lineEnd && TOKEN[buf[i]!] === 1) i++;
      const nameEnd = i;
      while (i < lineEnd && (buf[i] === SP || buf[i] === HT)) i++;
      if (nameEnd === pos || i >= lineEnd || buf[i] !== 58 /* : */) {
        error ??= new SipParseError('Malformed header line', 400); // skipped for salvage
      } else {
        fields.push({ name: buf.toString('latin1', pos, nameEnd), value: trimmedUtf8(buf, i + 1, lineEnd) });
      }
    }
    pos = next;
  }
  return {
    line: startResult.line,
    error,
    salvage: startResult.salvage ?? (startResult.line?.kind === 'request' ? startResult.line : undefined),
    fields,
    contentLength: parseContentLength(fields),
    headEnd,
    terminated,
  };
}

/** Builds the message for a head that parsed cleanly. */
export function buildMessage(head: ParsedHead, body: Buffer): SipMessage {
  const line = head.line!;
  const headers = new SipHeaders(head.fields);
  if (line.kind === 'request') return { kind: 'request', method: line.method, uri: line.uri, version: line.version, headers, body };
  return { kind: 'response', version: line.version, status: line.status, reason: line.reason, headers, body };
}

/** Best-effort request so that a 400 can still be answered (its Via/From/To/Call-ID/CSeq are copied). */
export function salvageRequest(head: ParsedHead): SipRequest | undefined {
  const s = head.salvage;
  if (!s) return undefined;
  return { kind: 'request', method: s.method, uri: s.uri, version: s.version, headers: new SipHeaders(head.fields), body: Buffer.alloc(0) };
}

/** Index of the first byte that is not CR or LF (keep-alives and stray line ends before a start line, §7.5). */
export function skipLeadingLineEnds(buf: Buffer, from: number): number {
  let i = from;
  while (i < buf.length && (buf[i] === CR || buf[i] === LF)) i++;
  return i;
}

/**
 * Parses one UDP datagram. The body is Content-Length bytes (trailing octets are ignored, RFC 4475
 * dblreq) or, without Content-Length, the rest of the datagram (§18.3, RFC 4475 inv2543). The body
 * is a view of `buf`, not a copy.
 */
export function parseDatagram(buf: Buffer): ParseOutcome {
  const start = skipLeadingLineEnds(buf, 0);
  if (start >= buf.length) return { ok: false, error: new SipParseError('Empty message', 400) };
  const head = parseHead(buf, start, buf.length);
  const fail = (error: SipParseError): ParseOutcome => {
    const request = salvageRequest(head);
    return request ? { ok: false, error, request } : { ok: false, error };
  };
  if (head.error || !head.line) return fail(head.error ?? new SipParseError('Malformed start line', 400));
  const cl = head.contentLength;
  if (cl.kind === 'invalid') return fail(cl.error);
  if (cl.kind === 'absent') return { ok: true, message: buildMessage(head, buf.subarray(head.headEnd)), consumed: buf.length };
  if (head.headEnd + cl.length > buf.length || (!head.terminated && cl.length > 0)) {
    return fail(new SipParseError('Content-Length larger than the datagram', 400)); // RFC 4475 clerr
  }
  const end = head.headEnd + cl.length;
  return { ok: true, message: buildMessage(head, buf.subarray(head.headEnd, end)), consumed: end };
}
