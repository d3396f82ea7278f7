/**
 * SDP (RFC 4566): parse and serialize session descriptions.
 *
 * The model keeps what offer/answer needs as fields (origin, connection, timing, media lines)
 * and everything else verbatim: attributes as raw `a=` values in order, and any other line
 * (i, u, e, p, b, r, z, k, or types we do not know) in `otherLines`, re-emitted in the order
 * RFC 4566 §5 prescribes. Parsing is lenient about line endings (CRLF or LF) and trailing
 * whitespace; serialization always writes CRLF.
 */

export class SdpParseError extends Error {
  readonly code = 'SDP_PARSE';
  /** 1-based line number of the offending line, when there is one. */
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `${message} (line ${line})`);
    this.name = 'SdpParseError';
    this.line = line;
  }
}

export interface SdpOrigin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface SdpConnection {
  netType: string;
  addrType: string;
  /** Connection address, including any multicast `/ttl/count` suffix. */
  address: string;
}

export interface MediaDescription {
  /** audio, video, application... */
  type: string;
  port: number;
  /** The `/<number of ports>` suffix of the m= port, if present. */
  portCount?: number;
  /** RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF... */
  protocol: string;
  /** Payload types (for RTP) or format names, in preference order. */
  formats: string[];
  connection: SdpConnection | null;
  /** Raw attribute values without `a=`, e.g. 'rtpmap:0 PCMU/8000', 'sendrecv'. */
  attributes: string[];
  /** Other lines ('b=AS:64', 'i=...') kept verbatim. */
  otherLines?: string[];
}

export interface SessionDescription {
  version: number;
  origin: SdpOrigin;
  sessionName: string;
  connection: SdpConnection | null;
  /** Value of the first t= line, e.g. '0 0'. */
  timing: string;
  attributes: string[];
  media: MediaDescription[];
  /** Other session-level lines ('b=', 'r=', extra 't='...) kept verbatim. */
  otherLines?: string[];
}

/** RFC 4566 §5 line order; unknown types go after the known ones and before a=. */
const SESSION_ORDER = 'vosiuepcbtrzka';
const MEDIA_ORDER = 'micbka';

function lineRank(line: string, order: string): number {
  const i = order.indexOf(line[0]);
  return i < 0 ? order.length - 1.5 : i;
}

function parseConnection(value: string, lineNo: number): SdpConnection {
  const parts = value.split(/\s+/);
  // An empty field (e.g. from a trailing VT or NBSP, which \s matches) could not be written back.
  if (parts.length !== 3 || parts.includes('')) throw new SdpParseError(`bad c= line '${value}'`, lineNo);
  return { netType: parts[0], addrType: parts[1], address: parts[2] };
}

function parseOrigin(value: string, lineNo: number): SdpOrigin {
  const p = value.split(/\s+/);
  if (p.length !== 6 || p.includes('')) throw new SdpParseError(`bad o= line '${value}'`, lineNo);
  return { username: p[0], sessionId: p[1], sessionVersion: p[2], netType: p[3], addrType: p[4], address: p[5] };
}

function parseMedia(value: string, lineNo: number): MediaDescription {
  const p = value.split(/\s+/);
  // Digit counts bounded so Number() stays exact and the value serializes back as digits.
  const m = /^(\d{1,9})(?:\/(\d{1,9}))?$/.exec(p[1] ?? '');
  if (p.length < 3 || !m || p[0] === '' || p[2] === '') throw new SdpParseError(`bad m= line '${value}'`, lineNo);
  const port = Number(m[1]);
  if (port > 65535) throw new SdpParseError(`m= port out of range: ${port}`, lineNo);
  const formats = p.slice(3).filter((f) => f !== ''); // a trailing \s other than SP/HTAB leaves ''
  const md: MediaDescription = { type: p[0], port, protocol: p[2], formats, connection: null, attributes: [] };
  if (m[2] !== undefined) md.portCount = Number(m[2]);
  return md;
}

/**
 * Drops trailing SP/HTAB. A scan from the end, not `/[ \t]+$/`: that regex retries from every
 * blank of a long run that is followed by something else, which is quadratic (a 64 KiB line of
 * blanks took seconds: found by fuzzing).
 */
function trimTrailingBlanks(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return end === line.length ? line : line.slice(0, end);
}

/** Parse SDP text. Throws SdpParseError when it is not a session description. */
export function parseSdp(text: string): SessionDescription {
  const lines = text.split(/\r?\n/);
  let version: number | null = null;
  let origin: SdpOrigin | null = null;
  let sessionName: string | null = null;
  let connection: SdpConnection | null = null;
  let timing: string | null = null;
  const attributes: string[] = [];
  const otherLines: string[] = [];
  const media: MediaDescription[] = [];
  let current: MediaDescription | null = null;

  for (let i = 0; i < lines.length; i++) {
    const raw = trimTrailingBlanks(lines[i]);
    if (raw === '') continue;
    const lineNo = i + 1;
    if (raw.length < 2 || raw[1] !== '=' || !/[a-z]/.test(raw[0])) {
      throw new SdpParseError(`not an SDP line: '${raw.slice(0, 40)}'`, lineNo);
    }
    const type = raw[0];
    const value = raw.slice(2);
    if (version === null && type !== 'v') throw new SdpParseError('SDP must start with v=', lineNo);
    if (type === 'm') {
      current = parseMedia(value, lineNo);
      media.push(current);
      continue;
    }
    if (current) {
      if (type === 'a') current.attributes.push(value);
      else if (type === 'c' && current.connection === null) current.connection = parseConnection(value, lineNo);
      else (current.otherLines ??= []).push(raw);
      continue;
    }
    switch (type) {
      case 'v':
        if (version !== null) throw new SdpParseError('duplicate v= line', lineNo);
        if (!/^\d{1,9}$/.test(value)) throw new SdpParseError(`bad v= line '${value}'`, lineNo);
        version = Number(value);
        break;
      case 'o':
        if (origin) throw new SdpParseError('duplicate o= line', lineNo);
        origin = parseOrigin(value, lineNo);
        break;
      case 's':
        if (sessionName === null) sessionName = value;
        else otherLines.push(raw);
        break;
      case 'c':
        if (connection === null) connection = parseConnection(value, lineNo);
        else otherLines.push(raw);
        break;
      case 't':
        if (timing === null) timing = value;
        else otherLines.push(raw);
        break;
      case 'a':
        attributes.push(value);
        break;
      default:
        otherLines.push(raw);
    }
  }
  if (version === null) throw new SdpParseError('empty SDP');
  if (origin === null) throw new SdpParseError('missing o= line');
  const sd: SessionDescription = {
    version,
    origin,
    // RFC 4566 requires s= (a single space when there is no name); tolerate its absence.
    sessionName: sessionName ?? '-',
    connection,
    timing: timing ?? '0 0',
    attributes,
    media,
  };
  if (otherLines.length > 0) sd.otherLines = otherLines;
  return sd;
}

function connectionLine(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

/** Serialize to SDP text with CRLF line endings (RFC 4566 §5), lines in the prescribed order. */
export function serializeSdp(sd: SessionDescription): string {
  const o = sd.origin;
  const session: string[] = [
    `v=${sd.version}`,
    `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`,
    `s=${sd.sessionName === '' ? ' ' : sd.sessionName}`,
  ];
  if (sd.connection) session.push(connectionLine(sd.connection));
  session.push(`t=${sd.timing}`);
  for (const l of sd.otherLines ?? []) session.push(l);
  for (const a of sd.attributes) session.push(`a=${a}`);
  // Stable sort by RFC order keeps relative order within a line type.
  const out = session
    .map((line, idx) => ({ line, idx, rank: lineRank(line, SESSION_ORDER) }))
    .sort((x, y) => x.rank - y.rank || x.idx - y.idx)
    .map((x) => x.line);
  for (const m of sd.media) {
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    const fmts = m.formats.length > 0 ? ` ${m.formats.join(' ')}` : '';
    out.push(`m=${m.type} ${port} ${m.protocol}${fmts}`);
    const lines: string[] = [];
    if (m.connection) lines.push(connectionLine(m.connection));
    for (const l of m.otherLines ?? []) lines.push(l);
    for (const a of m.attributes) lines.push(`a=${a}`);
    lines
      .map((line, idx) => ({ line, idx, rank: lineRank(line, MEDIA_ORDER) }))
      .sort((x, y) => x.rank - y.rank || x.idx - y.idx)
      .forEach((x) => out.push(x.line));
  }
  return out.join('\r\n') + '\r\n';
}

// ---- attribute helpers (RFC 4566 §6, RFC 3264 §5.1) ----

/** Value of the first `name:value` attribute, '' for a flag attribute, undefined when absent. */
export function getAttribute(attributes: readonly string[], name: string): string | undefined {
  for (const a of attributes) {
    if (a === name) return '';
    if (a.startsWith(name) && a[name.length] === ':') return a.slice(name.length + 1);
  }
  return undefined;
}

/** Values of every `name:value` attribute. */
export function getAttributes(attributes: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (const a of attributes) {
    if (a.startsWith(name) && a[name.length] === ':') out.push(a.slice(name.length + 1));
  }
  return out;
}

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: readonly MediaDirection[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/** Direction attribute of a stream: media level overrides session level; default sendrecv (RFC 3264 §5.1). */
export function mediaDirection(sd: SessionDescription, m: MediaDescription): MediaDirection {
  for (const attrs of [m.attributes, sd.attributes]) {
    for (const a of attrs) if ((DIRECTIONS as readonly string[]).includes(a)) return a as MediaDirection;
  }
  return 'sendrecv';
}

export interface Rtpmap {
  payloadType: number;
  encoding: string;
  clockRate: number;
  channels: number;
}

/** The rtpmap of each payload type in `m` (`a=rtpmap:<pt> <enc>/<rate>[/<channels>]`). */
export function rtpmaps(m: MediaDescription): Map<number, Rtpmap> {
  const out = new Map<number, Rtpmap>();
  for (const v of getAttributes(m.attributes, 'rtpmap')) {
    const r = /^(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(v);
    if (!r) continue; // a malformed rtpmap only makes that format unusable
    const payloadType = Number(r[1]);
    out.set(payloadType, { payloadType, encoding: r[2], clockRate: Number(r[3]), channels: r[4] ? Number(r[4]) : 1 });
  }
  return out;
}

/** The fmtp parameters string for a payload type, e.g. '0-16'. */
export function fmtpFor(m: MediaDescription, payloadType: number): string | undefined {
  for (const v of getAttributes(m.attributes, 'fmtp')) {
    const sp = v.indexOf(' ');
    if (sp > 0 && v.slice(0, sp) === String(payloadType)) return v.slice(sp + 1).trim();
  }
  return undefined;
}

/** Effective connection of a stream: media-level c= overrides session-level (RFC 4566 §5.7). */
export function mediaConnection(sd: SessionDescription, m: MediaDescription): SdpConnection | null {
  return m.connection ?? sd.connection;
}
