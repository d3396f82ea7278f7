/**
 * Attribute value parsing shared by every verb spec. TwiML hands over strings and JSON typed values
 * (already checked by the JSON Schema); each parser accepts both, so both formats get the same
 * defaults, limits and Twilio error codes.
 */
import { DEFAULTS, MAX_LOOP, type HttpMethod } from './verb-model.js';
import { VerbDocumentError, VerbErrorCode } from './verb-errors.js';
import type { BuildContext, RawValue } from './verb-spec.js';

/** Twilio's documented voices plus `<Provider>.<Voice>` names (Polly.Joanna, Google.en-US-Neural2-A...). */
export const VOICE_PATTERN = /^(man|woman|alice|[A-Za-z][A-Za-z0-9]*\.[A-Za-z0-9][A-Za-z0-9_.-]*)$/;
export const LANGUAGE_PATTERN = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
export const DIGITS_PATTERN = /^[0-9A-D*#wW]+$/;
/** Longest accepted `<Pause>`: four hours, Twilio's maximum call duration. */
export const MAX_PAUSE_SECONDS = 14_400;

export function where(ctx: BuildContext, spec: string): string {
  return `${ctx.format === 'twiml' ? `<${spec}>` : `"${spec.toLowerCase()}"`} (verb ${ctx.index + 1})`;
}

export function fail(code: number, message: string): never {
  throw new VerbDocumentError(code, message);
}

/** Non-negative integer from a TwiML string or a JSON number; undefined when absent. */
export function parseCount(value: RawValue): number | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && /^\s*\d{1,9}\s*$/.test(value)) return Number(value);
  return null;
}

export function parseLoop(value: RawValue, code: number, label: string, ctx: BuildContext): number {
  const n = parseCount(value);
  if (n === undefined) return DEFAULTS.loop;
  if (n === null) fail(code, `${label}: loop must be an integer >= 0, got ${JSON.stringify(value)}`);
  if (n > MAX_LOOP) {
    ctx.warnings.push({ code, message: `${label}: loop ${n} capped at ${MAX_LOOP}`, verbIndex: ctx.index });
    return MAX_LOOP;
  }
  return n;
}

export function parseString(value: RawValue, code: number, label: string, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(code, `${label}: ${name} must be a string`);
  return value.trim();
}

export function parseMethod(value: RawValue, code: number, label: string): HttpMethod {
  const s = parseString(value, code, label, 'method');
  if (s === undefined) return DEFAULTS.redirectMethod;
  // HTTP method names are conventionally upper case, but apps write "get"/"post" too.
  const upper = s.toUpperCase();
  if (upper !== 'GET' && upper !== 'POST') fail(code, `${label}: method must be GET or POST, got "${s}"`);
  return upper;
}

/**
 * A URL reference as written: absolute http(s) or relative (resolved later against the document
 * URL). Anything else is Twilio's 11100 "Invalid URL format".
 */
export function checkUrlReference(value: string, label: string): string {
  const url = value.trim();
  if (url === '') fail(VerbErrorCode.InvalidUrl, `${label}: URL is empty`);
  if (/\s/.test(url)) fail(VerbErrorCode.InvalidUrl, `${label}: URL contains whitespace: "${url}"`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    fail(VerbErrorCode.InvalidUrl, `${label}: only http and https URLs are supported, got "${url}"`);
  }
  try {
    new URL(url, 'http://document.invalid/');
  } catch {
    fail(VerbErrorCode.InvalidUrl, `${label}: invalid URL "${url}"`);
  }
  return url;
}

/** `true`/`false` (any case) or a JSON boolean; undefined when absent. */
export function parseBoolean(value: RawValue, code: number, label: string, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  fail(code, `${label}: ${name} must be true or false, got ${JSON.stringify(value)}`);
}

/** An optional URL attribute (`action`, `statusCallback`...): null when absent or empty. */
export function parseUrlAttribute(value: RawValue, label: string, name: string): string | null {
  const s = parseString(value, VerbErrorCode.InvalidUrl, label, name);
  if (s === undefined || s === '') return null;
  return checkUrlReference(s, `${label} ${name}`);
}

/**
 * A set of names: space- or comma-separated in TwiML (`"initiated ringing"`), an array or a string in
 * JSON; each one of `allowed`. Absent = `fallback`; duplicates are dropped, order is kept.
 */
export function parseNameList<T extends string>(value: RawValue, allowed: readonly T[], fallback: readonly T[], code: number, label: string, name: string): T[] {
  if (value === undefined) return [...fallback];
  const parts = Array.isArray(value) ? (value as unknown[]) : typeof value === 'string' ? value.split(/[\s,]+/) : null;
  if (!parts) fail(code, `${label}: ${name} must list ${allowed.join(', ')}`);
  const out = new Set<T>();
  for (const part of parts) {
    const p = typeof part === 'string' ? part.trim() : '';
    if (p === '') continue;
    const known = allowed.find((a) => a === p);
    if (!known) fail(code, `${label}: unknown ${name} "${String(part)}" (use ${allowed.join(', ')})`);
    out.add(known);
  }
  return [...out];
}
