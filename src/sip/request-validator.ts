/**
 * Checks a UAS (or B2BUA) core runs on a request before handling it: RFC 3261 §8.2 plus the
 * reactions RFC 4475 expects for its torture messages. The result is the response to send, or
 * null when the request may be processed. Method support (405/501 for a well-formed request with
 * an unknown method, e.g. RFC 4475 intmeth/esc02) is the stack's decision; `isKnownMethod` helps.
 *
 * Order: version (505), syntax of the headers every request needs (400), Request-URI scheme
 * (416, §8.2.2.1), Require (420, §8.2.2.3), body type/encoding (415, §8.2.3), Accept (406).
 */
import type { HeaderField, SipRequest, SipResponse } from './message.js';
import { getVias, parseCSeq, parseNameAddr, splitHeaderValues } from './header-values.js';
import { SipParseError } from './parser.js';
import { parseUri } from './uri.js';

export interface Rejection {
  status: number;
  reason?: string;
  headers?: HeaderField[];
}

export interface ValidatorOptions {
  /** Option tags we implement (compared case-insensitively), e.g. ['100rel', 'replaces', 'timer']. */
  supportedExtensions: string[];
  /** Body types accepted per method, e.g. { INVITE: ['application/sdp'] }. Methods not listed accept any type. */
  acceptedContentTypes: Record<string, string[]>;
  /** Request-URI schemes served; default sip, sips, tel. */
  supportedUriSchemes?: string[];
  /** When given, a 501 carries an Allow header with these methods (§8.2.1). */
  allowedMethods?: string[];
}

const KNOWN_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

/** Methods defined by RFC 3261 and its standard extensions. Methods are case-sensitive (§7.1). */
export function isKnownMethod(method: string): boolean {
  return KNOWN_METHODS.has(method);
}

const DEFAULT_SCHEMES = ['sip', 'sips', 'tel'];

function bad(reason: string): Rejection {
  return { status: 400, reason };
}

/** Media type without parameters, lower case: `Application/SDP; x=1` → `application/sdp`. */
function mediaType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

function acceptMatches(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}

/** Checks the headers every request must carry exactly once (§8.1.1); returns a 400 or null. */
function checkMandatory(req: SipRequest): Rejection | null {
  for (const name of ['Call-ID', 'From', 'To', 'CSeq']) {
    const n = req.headers.count(name);
    if (n === 0) return bad(`Missing ${name} header`);
    if (n > 1) return bad(`Multiple ${name} headers`);
  }
  if (req.headers.count('Max-Forwards') > 1) return bad('Multiple Max-Forwards headers');
  const mf = req.headers.get('Max-Forwards');
  // Only the syntax matters here; an out-of-range value is treated as absent (RFC 4475 §3.1.2.4).
  if (mf !== undefined && !/^[0-9]{1,10}$/.test(mf)) return bad('Malformed Max-Forwards');
  if (!req.headers.get('Call-ID')) return bad('Empty Call-ID');

  let vias;
  try {
    vias = getVias(req.headers);
  } catch (err) {
    if (err instanceof SipParseError) return bad(err.message);
    throw err;
  }
  if (vias.length === 0) return bad('Missing Via header');
  // A branch that is only the magic cookie identifies nothing (RFC 4475 §3.2.1, badbranch).
  if (vias[0]!.branch === 'z9hG4bK') return bad('Via branch has no transaction identifier');

  for (const name of ['From', 'To']) {
    if (!parseNameAddr(req.headers.get(name)!)) return bad(`Malformed ${name} header`);
  }
  for (const line of req.headers.getAll('Contact')) {
    const values = splitHeaderValues(line);
    if (values.length === 0) return bad('Empty Contact header');
    for (const v of values) {
      if (v === '*' && req.method === 'REGISTER' && values.length === 1) continue;
      if (!parseNameAddr(v)) return bad('Malformed Contact header');
    }
  }
  return null;
}

export function validateRequest(req: SipRequest, opts: ValidatorOptions): Rejection | null {
  if (req.version !== 'SIP/2.0') return { status: 505 };
  const mandatory = checkMandatory(req);
  if (mandatory) return mandatory;

  const cseq = parseCSeq(req.headers.get('CSeq')!);
  if (!cseq) return bad('Malformed CSeq');
  if (cseq.method !== req.method) {
    // Unknown method and mismatching CSeq: the method problem is reported (RFC 4475 mismatch02).
    if (isKnownMethod(req.method)) return bad('CSeq method does not match the request method');
    return opts.allowedMethods ? { status: 501, headers: [{ name: 'Allow', value: opts.allowedMethods.join(', ') }] } : { status: 501 };
  }

  const uri = parseUri(req.uri);
  if (!uri) return bad('Malformed Request-URI');
  if (uri.headers.size > 0) return bad('Request-URI must not contain headers'); // §19.1.1, RFC 4475 escruri
  if (!(opts.supportedUriSchemes ?? DEFAULT_SCHEMES).includes(uri.scheme)) return { status: 416 };

  // §8.2.2.3: Require is not examined for CANCEL, nor for ACK (its INVITE was already checked).
  if (req.method !== 'ACK' && req.method !== 'CANCEL') {
    const supported = new Set(opts.supportedExtensions.map((t) => t.toLowerCase()));
    const unsupported: string[] = [];
    for (const line of req.headers.getAll('Require')) {
      for (const tag of splitHeaderValues(line)) {
        if (tag.length > 0 && !supported.has(tag.toLowerCase())) unsupported.push(tag);
      }
    }
    if (unsupported.length > 0) return { status: 420, headers: [{ name: 'Unsupported', value: unsupported.join(', ') }] };
  }

  const accepted = opts.acceptedContentTypes[req.method];
  if (req.body.length > 0) {
    const encoding = req.headers.get('Content-Encoding');
    if (encoding && encoding.trim().toLowerCase() !== 'identity') {
      return { status: 415, headers: [{ name: 'Accept-Encoding', value: 'identity' }] };
    }
    const type = req.headers.get('Content-Type');
    if (!type) return bad('Missing Content-Type for a message body'); // §20.15
    if (accepted && !accepted.includes(mediaType(type))) {
      return { status: 415, headers: [{ name: 'Accept', value: accepted.join(', ') }] };
    }
  }
  // §21.4.7: the response bodies we can produce for this method are not in the peer's Accept.
  const acceptLines = req.headers.getAll('Accept');
  if (accepted && acceptLines.length > 0) {
    const ranges = acceptLines.flatMap((l) => splitHeaderValues(l)).map(mediaType).filter((r) => r.length > 0);
    if (ranges.length > 0 && !accepted.some((t) => ranges.some((r) => acceptMatches(r, t)))) {
      return { status: 406, headers: [{ name: 'Warning', value: `399 patchbay "Only ${accepted.join(', ')} supported"` }] };
    }
  }
  return null;
}

/**
 * Whether a received response is well-formed enough to hand to the transaction layer; false means
 * drop it silently (a response is never answered): RFC 4475 scalarlg, bigcode.
 */
export function isResponseAcceptable(res: SipResponse): boolean {
  if (res.version !== 'SIP/2.0') return false;
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 699) return false;
  for (const name of ['Call-ID', 'From', 'To', 'CSeq']) if (res.headers.count(name) !== 1) return false;
  if (!parseCSeq(res.headers.get('CSeq')!)) return false;
  try {
    if (getVias(res.headers).length === 0) return false;
  } catch (err) {
    if (err instanceof SipParseError) return false;
    throw err;
  }
  return true;
}
