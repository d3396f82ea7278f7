/**
 * HTTP freshness for cached media (RFC 9111 §4.2): how long a fetched prompt may be reused before it
 * must be revalidated, from Cache-Control, Age, Expires, or the Last-Modified heuristic.
 */

/** The heuristic lifetime (10% of the time since Last-Modified) never exceeds a day. */
const HEURISTIC_CAP_MS = 24 * 3600 * 1000;

function parseCacheControl(value: string | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (value ?? '').split(',')) {
    const [name, ...rest] = part.split('=');
    const key = name!.trim().toLowerCase();
    if (key) out.set(key, rest.join('=').trim().replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

function seconds(value: string | undefined | null): number | undefined {
  if (value === undefined || value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** RFC 9111 §4.2.1 freshness lifetime minus current age; `undefined` when the response must not be stored. */
export function freshUntil(headers: Headers, now: number): number | undefined {
  const cc = parseCacheControl(headers.get('cache-control'));
  if (cc.has('no-store')) return undefined;
  if (cc.has('no-cache')) return 0;
  const age = seconds(headers.get('age')) ?? 0;
  const lifetime = seconds(cc.get('s-maxage')) ?? seconds(cc.get('max-age'));
  if (lifetime !== undefined) return now + lifetime - age;
  const date = Date.parse(headers.get('date') ?? '') || now;
  const expires = headers.get('expires');
  if (expires !== null) {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? 0 : now + (at - date) - age; // an invalid Expires means "already expired"
  }
  const lastModified = Date.parse(headers.get('last-modified') ?? '');
  if (!Number.isNaN(lastModified) && lastModified < date) {
    return now + Math.min((date - lastModified) / 10, HEURISTIC_CAP_MS) - age;
  }
  return 0;
}
