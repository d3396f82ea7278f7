/**
 * Format-neutral verb construction: attribute names, defaults and value validation for each verb.
 *
 * Both readers end here, so TwiML `<Say loop="2">` and JSON `{"verb":"say","loop":2}` get the same
 * defaults, the same limits and the same Twilio error codes. TwiML hands over strings; JSON hands
 * over typed values already checked by the JSON Schema; every parser below accepts both.
 */
import {
  DEFAULTS,
  MAX_LOOP,
  type HttpMethod,
  type Verb,
  type VerbName,
  type VerbWarning,
} from './verb-model.js';
import { VerbDocumentError, VerbErrorCode } from './verb-errors.js';

export type RawValue = string | number | boolean | null | undefined | object;

export interface RawVerb {
  /** Attributes (TwiML) or properties other than `verb` (JSON), as found. */
  attrs: Record<string, RawValue>;
  /** TwiML only: the element's text content (flattened when it had SSML children). */
  content?: string;
  /** Canonical SSML fragment when the `<Say>` text had markup (TwiML children or JSON `ssml`). */
  ssml?: string;
}

export interface BuildContext {
  format: 'twiml' | 'json';
  /** Position of the verb in its document, for messages and warnings. */
  index: number;
  warnings: VerbWarning[];
}

export interface VerbSpec {
  twiml: string;
  json: VerbName;
  /** Attribute names, identical in TwiML and JSON (camelCase). */
  attributes: readonly string[];
  /** Model field filled by the TwiML text content; in JSON it is a property of that name. */
  content?: 'text' | 'url';
  /** Child elements allowed in TwiML. */
  children: 'none' | 'ssml';
  /** Builds the verb, or returns null when it is dropped with a warning (empty `<Say>`). */
  build(values: Record<string, RawValue>, raw: RawVerb, ctx: BuildContext): Verb | null;
}

/** Twilio's documented voices plus `<Provider>.<Voice>` names (Polly.Joanna, Google.en-US-Neural2-A...). */
const VOICE_PATTERN = /^(man|woman|alice|[A-Za-z][A-Za-z0-9]*\.[A-Za-z0-9][A-Za-z0-9_.-]*)$/;
const LANGUAGE_PATTERN = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
const DIGITS_PATTERN = /^[0-9A-D*#wW]+$/;
/** Longest accepted `<Pause>`: four hours, Twilio's maximum call duration. */
export const MAX_PAUSE_SECONDS = 14_400;

function where(ctx: BuildContext, spec: string): string {
  return `${ctx.format === 'twiml' ? `<${spec}>` : `"${spec.toLowerCase()}"`} (verb ${ctx.index + 1})`;
}

function fail(code: number, message: string): never {
  throw new VerbDocumentError(code, message);
}

/** Non-negative integer from a TwiML string or a JSON number; undefined when absent. */
function parseCount(value: RawValue): number | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'string' && /^\s*\d{1,9}\s*$/.test(value)) return Number(value);
  return null;
}

function parseLoop(value: RawValue, code: number, label: string, ctx: BuildContext): number {
  const n = parseCount(value);
  if (n === undefined) return DEFAULTS.loop;
  if (n === null) fail(code, `${label}: loop must be an integer >= 0, got ${JSON.stringify(value)}`);
  if (n > MAX_LOOP) {
    ctx.warnings.push({ code, message: `${label}: loop ${n} capped at ${MAX_LOOP}`, verbIndex: ctx.index });
    return MAX_LOOP;
  }
  return n;
}

function parseString(value: RawValue, code: number, label: string, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(code, `${label}: ${name} must be a string`);
  return value.trim();
}

function parseMethod(value: RawValue, code: number, label: string): HttpMethod {
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

const say: VerbSpec = {
  twiml: 'Say',
  json: 'say',
  attributes: ['voice', 'language', 'loop'],
  content: 'text',
  children: 'ssml',
  build(values, raw, ctx) {
    const label = where(ctx, 'Say');
    const rawText = values.text;
    if (rawText !== undefined && typeof rawText !== 'string') fail(VerbErrorCode.SayText, `${label}: text must be a string`);
    // Whitespace is not meaningful to a speech engine; collapsing it makes TwiML and JSON agree.
    const text = (rawText ?? '').replace(/\s+/g, ' ').trim();
    const voice = parseString(values.voice, VerbErrorCode.SayVoice, label, 'voice') ?? DEFAULTS.sayVoice;
    if (!VOICE_PATTERN.test(voice)) fail(VerbErrorCode.SayVoice, `${label}: invalid voice "${voice}"`);
    const language = parseString(values.language, VerbErrorCode.Schema, label, 'language') ?? DEFAULTS.sayLanguage;
    if (!LANGUAGE_PATTERN.test(language)) fail(VerbErrorCode.Schema, `${label}: invalid language "${language}"`);
    const loop = parseLoop(values.loop, VerbErrorCode.SayLoop, label, ctx);
    if (text === '') {
      // Twilio logs 13520 as a warning and carries on: templated apps often render an empty <Say>.
      ctx.warnings.push({ code: VerbErrorCode.SayText, message: `${label}: empty text, verb skipped`, verbIndex: ctx.index });
      return null;
    }
    return raw.ssml !== undefined
      ? { verb: 'say', text, ssml: raw.ssml, voice, language, loop }
      : { verb: 'say', text, voice, language, loop };
  },
};

const play: VerbSpec = {
  twiml: 'Play',
  json: 'play',
  attributes: ['loop', 'digits'],
  content: 'url',
  children: 'none',
  build(values, _raw, ctx) {
    const label = where(ctx, 'Play');
    const loop = parseLoop(values.loop, VerbErrorCode.PlayLoop, label, ctx);
    const digits = parseString(values.digits, VerbErrorCode.Schema, label, 'digits');
    const url = parseString(values.url, VerbErrorCode.InvalidUrl, label, 'url');
    if (digits !== undefined && digits !== '') {
      if (!DIGITS_PATTERN.test(digits)) fail(VerbErrorCode.Schema, `${label}: digits may only contain 0-9 A-D * # w W, got "${digits}"`);
      if (url) ctx.warnings.push({ code: VerbErrorCode.Schema, message: `${label}: URL ignored because digits is set`, verbIndex: ctx.index });
      return { verb: 'play', url: null, digits, loop };
    }
    if (!url) fail(VerbErrorCode.InvalidUrl, `${label}: a media URL or digits is required`);
    return { verb: 'play', url: checkUrlReference(url, label), digits: null, loop };
  },
};

const pause: VerbSpec = {
  twiml: 'Pause',
  json: 'pause',
  attributes: ['length'],
  children: 'none',
  build(values, _raw, ctx) {
    const n = parseCount(values.length);
    if (n === undefined) return { verb: 'pause', length: DEFAULTS.pauseLength };
    if (n === null || n < 1 || n > MAX_PAUSE_SECONDS) {
      fail(VerbErrorCode.PauseLength, `${where(ctx, 'Pause')}: length must be an integer from 1 to ${MAX_PAUSE_SECONDS}, got ${JSON.stringify(values.length)}`);
    }
    return { verb: 'pause', length: n };
  },
};

const hangup: VerbSpec = {
  twiml: 'Hangup',
  json: 'hangup',
  attributes: [],
  children: 'none',
  build: () => ({ verb: 'hangup' }),
};

const reject: VerbSpec = {
  twiml: 'Reject',
  json: 'reject',
  attributes: ['reason'],
  children: 'none',
  build(values, _raw, ctx) {
    const label = where(ctx, 'Reject');
    const reason = parseString(values.reason, VerbErrorCode.RejectReason, label, 'reason') ?? DEFAULTS.rejectReason;
    if (reason !== 'rejected' && reason !== 'busy') fail(VerbErrorCode.RejectReason, `${label}: reason must be "rejected" or "busy", got "${reason}"`);
    return { verb: 'reject', reason };
  },
};

const redirect: VerbSpec = {
  twiml: 'Redirect',
  json: 'redirect',
  attributes: ['method'],
  content: 'url',
  children: 'none',
  build(values, _raw, ctx) {
    const label = where(ctx, 'Redirect');
    const method = parseMethod(values.method, VerbErrorCode.RedirectMethod, label);
    const url = parseString(values.url, VerbErrorCode.InvalidUrl, label, 'url') ?? '';
    return { verb: 'redirect', url: checkUrlReference(url, label), method };
  },
};

const SPECS: readonly VerbSpec[] = [say, play, pause, hangup, reject, redirect];
export const SPECS_BY_TWIML: ReadonlyMap<string, VerbSpec> = new Map(SPECS.map((s) => [s.twiml, s]));
export const SPECS_BY_JSON: ReadonlyMap<string, VerbSpec> = new Map(SPECS.map((s) => [s.json, s]));

/**
 * Checks attribute names against the spec (unknown ones become 12200 warnings and are ignored, as
 * Twilio does), then builds the verb.
 */
export function buildVerb(spec: VerbSpec, raw: RawVerb, ctx: BuildContext): Verb | null {
  const allowed = new Set<string>(spec.attributes);
  if (ctx.format === 'json' && spec.content) allowed.add(spec.content);
  if (ctx.format === 'json' && spec.children === 'ssml') allowed.add('ssml');
  const values: Record<string, RawValue> = {};
  for (const [name, value] of Object.entries(raw.attrs)) {
    if (allowed.has(name)) values[name] = value;
    else ctx.warnings.push({ code: VerbErrorCode.Schema, message: `${where(ctx, spec.twiml)}: unknown ${ctx.format === 'twiml' ? 'attribute' : 'property'} "${name}" ignored`, verbIndex: ctx.index });
  }
  if (ctx.format === 'twiml' && spec.content) values[spec.content] = raw.content ?? '';
  return spec.build(values, raw, ctx);
}
