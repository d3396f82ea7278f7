/**
 * SIP message model (RFC 3261 §7): requests, responses and their header fields.
 *
 * Header values are kept as raw strings in arrival order (one entry per header field line, after
 * unfolding); structured views (Via, CSeq, name-addr, URI) are parsed on demand by
 * `header-values.ts` and `uri.ts`. Bodies are Buffers: SIP bodies may be binary (RFC 4475 mpart01).
 */

/** Compact forms (RFC 3261 §7.3.3, RFC 3515, RFC 3841...) mapped to their long names, lower case. */
export const COMPACT_HEADER_NAMES: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  b: 'referred-by',
  o: 'event',
  u: 'allow-events',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  x: 'session-expires',
  y: 'identity',
};

/** Canonical spelling used when we serialize headers we create. */
const CANONICAL_NAMES: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rseq': 'RSeq',
  'rack': 'RAck',
};

/**
 * Memo of normalized names: every header lookup normalizes every field name, so this is the
 * hottest function of the SIP layer. Bounded so that peers sending random names cannot grow it.
 */
const normalizedNames = new Map<string, string>();
const MAX_NORMALIZED_NAMES = 4096;

/** Lower-case long form of a header name: `v` → `via`, `Content-Length` → `content-length`. */
export function normalizeHeaderName(name: string): string {
  const hit = normalizedNames.get(name);
  if (hit !== undefined) return hit;
  const lower = name.toLowerCase();
  const normalized = COMPACT_HEADER_NAMES[lower] ?? lower;
  if (normalizedNames.size < MAX_NORMALIZED_NAMES) normalizedNames.set(name, normalized);
  return normalized;
}

/** Display form of a (normalized) header name: `call-id` → `Call-ID`, `x-foo-bar` → `X-Foo-Bar`. */
export function canonicalHeaderName(name: string): string {
  const n = normalizeHeaderName(name);
  return CANONICAL_NAMES[n] ?? n.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

export interface HeaderField {
  /** Name as it appeared on the wire (or as we set it). */
  name: string;
  /** Value with folding removed and surrounding whitespace trimmed. */
  value: string;
}

/**
 * Ordered header fields. Lookups are case-insensitive and understand compact forms.
 * `getAll` returns one entry per header *line*; splitting comma-separated values is done by
 * `splitHeaderValues` (header-values.ts), because only some headers may be split.
 */
export class SipHeaders {
  readonly fields: HeaderField[];

  constructor(fields: HeaderField[] = []) {
    this.fields = fields;
  }

  get(name: string): string | undefined {
    const n = normalizeHeaderName(name);
    for (const f of this.fields) if (normalizeHeaderName(f.name) === n) return f.value;
    return undefined;
  }

  getAll(name: string): string[] {
    const n = normalizeHeaderName(name);
    const out: string[] = [];
    for (const f of this.fields) if (normalizeHeaderName(f.name) === n) out.push(f.value);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Number of header lines with this name (used to detect duplicated single-value headers). */
  count(name: string): number {
    return this.getAll(name).length;
  }

  /** Replaces every field with this name by one field (appended at the position of the first). */
  set(name: string, value: string): void {
    const n = normalizeHeaderName(name);
    const idx = this.fields.findIndex((f) => normalizeHeaderName(f.name) === n);
    this.delete(name);
    const field = { name: canonicalHeaderName(name), value };
    if (idx < 0 || idx > this.fields.length) this.fields.push(field);
    else this.fields.splice(idx, 0, field);
  }

  append(name: string, value: string): void {
    this.fields.push({ name: canonicalHeaderName(name), value });
  }

  /** Inserts before the first field of the same name (Via and Record-Route are prepended). */
  prepend(name: string, value: string): void {
    const n = normalizeHeaderName(name);
    const idx = this.fields.findIndex((f) => normalizeHeaderName(f.name) === n);
    const field = { name: canonicalHeaderName(name), value };
    if (idx < 0) this.fields.push(field);
    else this.fields.splice(idx, 0, field);
  }

  delete(name: string): void {
    const n = normalizeHeaderName(name);
    for (let i = this.fields.length - 1; i >= 0; i--) {
      if (normalizeHeaderName(this.fields[i]!.name) === n) this.fields.splice(i, 1);
    }
  }

  clone(): SipHeaders {
    return new SipHeaders(this.fields.map((f) => ({ ...f })));
  }
}

export interface SipRequest {
  kind: 'request';
  method: string;
  /** Request-URI exactly as received (parse with `parseUri` from uri.ts). */
  uri: string;
  /** `SIP/2.0` normally; kept so the validator can answer 505. */
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** Where a message came from or goes to. `transport` is lower case: udp, tcp, tls, ws, wss. */
export interface SipAddress {
  transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
  host: string;
  port: number;
}

export function createRequest(method: string, uri: string, fields: HeaderField[] = [], body: Buffer = Buffer.alloc(0)): SipRequest {
  return { kind: 'request', method, uri, version: 'SIP/2.0', headers: new SipHeaders(fields), body };
}

/** Standard reason phrases for the status codes Patchbay sends. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  600: 'Busy Everywhere',
  603: 'Decline',
};

/**
 * Builds a response to `req` per RFC 3261 §8.2.6.2: Via (all values, in order), From, To, Call-ID
 * and CSeq are copied; a To tag is added when `toTag` is given and the request's To has none.
 */
export function createResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers = new SipHeaders();
  for (const f of req.headers.fields) {
    const n = normalizeHeaderName(f.name);
    if (n === 'via' || n === 'from' || n === 'call-id' || n === 'cseq') headers.fields.push({ name: canonicalHeaderName(n), value: f.value });
    else if (n === 'to') {
      const hasTag = /;\s*tag\s*=/i.test(f.value);
      headers.fields.push({ name: 'To', value: hasTag || !toTag || status === 100 ? f.value : `${f.value};tag=${toTag}` });
    }
  }
  return { kind: 'response', version: 'SIP/2.0', status, reason: reason ?? REASON_PHRASES[status] ?? 'Unknown', headers, body: Buffer.alloc(0) };
}
