/**
 * Format-neutral verb construction: attribute names, defaults and value validation for each verb.
 *
 * Both readers end here, so TwiML `<Say loop="2">` and JSON `{"verb":"say","loop":2}` get the same
 * defaults, the same limits and the same Twilio error codes. TwiML hands over strings; JSON hands
 * over typed values already checked by the JSON Schema; every parser below accepts both.
 */
import { DEFAULTS } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import type { BuildContext, RawValue, RawVerb, VerbSpec } from './verb-spec.js';
import type { Verb } from './verb-model.js';
import { gatherSpec } from './gather-builder.js';
import { recordSpec } from './record-builder.js';
import { connectSpec, startSpec, stopSpec } from './stream-builder.js';
import { dialSpec } from './dial-builder.js';
import { referSpec } from './refer-builder.js';
import {
  DIGITS_PATTERN,
  LANGUAGE_PATTERN,
  MAX_PAUSE_SECONDS,
  VOICE_PATTERN,
  checkUrlReference,
  fail,
  parseCount,
  parseLoop,
  parseMethod,
  parseString,
  where,
} from './attribute-parsers.js';

export type { BuildContext, RawValue, RawVerb, VerbSpec } from './verb-spec.js';
export { checkUrlReference, MAX_PAUSE_SECONDS } from './attribute-parsers.js';

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

const SPECS: readonly VerbSpec[] = [say, play, pause, hangup, reject, redirect, gatherSpec, recordSpec, startSpec, stopSpec, connectSpec, dialSpec, referSpec];
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
  if (ctx.format === 'json' && spec.children === 'verbs') allowed.add('prompts');
  if (ctx.format === 'json') for (const p of spec.nounProperties ?? []) allowed.add(p);
  const values: Record<string, RawValue> = {};
  for (const [name, value] of Object.entries(raw.attrs)) {
    if (name === 'prompts' && allowed.has(name)) continue; // built by the reader into raw.children
    if (allowed.has(name)) values[name] = value;
    else ctx.warnings.push({ code: VerbErrorCode.Schema, message: `${where(ctx, spec.twiml)}: unknown ${ctx.format === 'twiml' ? 'attribute' : 'property'} "${name}" ignored`, verbIndex: ctx.index });
  }
  if (ctx.format === 'twiml' && spec.content) values[spec.content] = raw.content ?? '';
  return spec.build(values, raw, ctx);
}
