/**
 * DTMF carried in SIP INFO requests (the pre-RFC 4733 habit of many PBXs and trunks; RFC 6086
 * gives INFO its framework but no standard DTMF package exists, so these are de-facto formats):
 *
 * - `application/dtmf-relay` (Cisco's format): `Signal=5\r\nDuration=160`, Duration in ms.
 * - `application/dtmf`: the body is the digit itself (some senders use the RFC 4733 event code,
 *   e.g. `11` for `#`).
 *
 * Kept here, not in media/, because it is SIP body parsing; the tiny digit table is duplicated
 * on purpose so the two libraries stay independent.
 */

export interface DtmfInfo {
  digit: string;
  /** Duration in milliseconds when the body gives one. */
  durationMs: number | null;
}

const DIGITS = '0123456789*#ABCD';

/** A single digit character, or an event code 0-15 written in decimal. */
function normalizeDigit(raw: string): string | null {
  const s = raw.trim().toUpperCase();
  if (s.length === 1 && DIGITS.includes(s)) return s;
  if (/^\d{2}$/.test(s)) {
    const n = Number(s);
    if (n >= 10 && n < DIGITS.length) return DIGITS[n];
  }
  return null;
}

/** The media type of a Content-Type value, lowercased, parameters dropped. */
function mediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

function parseDtmfRelay(body: string): DtmfInfo | null {
  let digit: string | null = null;
  let durationMs: number | null = null;
  for (const line of body.split(/\r?\n|\r/)) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) return null;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') {
      digit = normalizeDigit(value);
      if (digit === null) return null;
    } else if (key === 'duration') {
      if (!/^\d{1,6}$/.test(value)) return null;
      durationMs = Number(value);
    }
    // Other keys (vendor extensions) are ignored.
  }
  return digit === null ? null : { digit, durationMs };
}

/**
 * Parse the body of an INFO request carrying DTMF. Returns null when the content type is not a
 * DTMF one or the body does not name exactly one valid digit.
 */
export function parseDtmfInfo(contentType: string, body: string | Buffer): DtmfInfo | null {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  switch (mediaType(contentType)) {
    case 'application/dtmf-relay':
      return parseDtmfRelay(text);
    case 'application/dtmf': {
      const digit = normalizeDigit(text);
      return digit === null ? null : { digit, durationMs: null };
    }
    default:
      return null;
  }
}
