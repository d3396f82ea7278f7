/**
 * Twilio request signatures (`X-Twilio-Signature`), so unmodified Twilio helper libraries can
 * validate Patchbay's webhooks.
 *
 *   data      = URL as requested, without its fragment (`#rc=...` overrides are not signed)
 *               + for each parameter name in sorted order: name + value
 *                 (array values: de-duplicated, sorted, one name+value per value)
 *   signature = base64(HMAC-SHA1(key = auth token, data as UTF-8))
 *
 * GET requests carry their parameters in the URL, so callers pass `{}` as params for them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureParams = Record<string, string | string[]>;

/** The URL without its fragment: what Twilio signs and what is actually requested. */
export function stripFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

function signingData(url: string, params: SignatureParams): string {
  let data = stripFragment(url);
  // Default sort (UTF-16 code units), as twilio-node does, so both sides order names identically.
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (Array.isArray(value)) {
      for (const v of [...new Set(value)].sort()) data += name + v;
    } else if (value !== undefined) {
      data += name + value;
    }
  }
  return data;
}

export function computeTwilioSignature(authToken: string, url: string, params: SignatureParams): string {
  return createHmac('sha1', authToken).update(Buffer.from(signingData(url, params), 'utf8')).digest('base64');
}

/**
 * The same URL with the scheme's default port added if absent, or removed if present. Twilio's
 * own validator accepts either form, because proxies in front of apps disagree about it.
 */
function alternatePortForm(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const defaultPort = parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : null;
  if (defaultPort === null) return null;
  const authority = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!authority) return null;
  const [, scheme, host, rest] = authority as unknown as [string, string, string, string];
  const explicit = new RegExp(`:${defaultPort}$`);
  const other = explicit.test(host) ? host.replace(explicit, '') : /:\d+$/.test(host) ? null : `${host}:${defaultPort}`;
  return other === null ? null : scheme + other + rest;
}

function equalConstantTime(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // Lengths of valid signatures are public (28 chars); comparing them first leaks nothing secret.
  return x.length === y.length && timingSafeEqual(x, y);
}

export function validateTwilioSignature(authToken: string, signature: string, url: string, params: SignatureParams): boolean {
  if (equalConstantTime(computeTwilioSignature(authToken, url, params), signature)) return true;
  const alternate = alternatePortForm(stripFragment(url));
  return alternate !== null && equalConstantTime(computeTwilioSignature(authToken, alternate, params), signature);
}
