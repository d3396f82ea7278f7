/**
 * Resource identifiers (SIDs) in Twilio's shape: a two-letter type prefix and 32 lower-case hex
 * digits (128 random bits from node:crypto), e.g. `CA` calls, `AC` accounts. Random rather than
 * sequential so SIDs reveal nothing about volume and can be minted on any node without coordination.
 */
import { randomBytes } from 'node:crypto';

const PREFIX_RE = /^[A-Z]{2}$/;

/** A new SID with the given two-letter prefix (`newSid('CA')` → `CA` + 32 hex). */
export function newSid(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) throw new RangeError(`SID prefix must be two upper-case letters, got "${prefix}"`);
  return prefix + randomBytes(16).toString('hex');
}

/** True when `value` is a SID with this prefix (hex accepted in either case, as Twilio's API does). */
export function isSid(prefix: string, value: string): boolean {
  return value.length === 34 && value.startsWith(prefix) && /^[0-9a-fA-F]{32}$/.test(value.slice(2));
}

/** A new secret of 32 hex digits, the shape of a Twilio auth token. */
export function newAuthToken(): string {
  return randomBytes(16).toString('hex');
}
