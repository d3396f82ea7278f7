/**
 * `<Gather>` / `{"verb":"gather"}`: attribute defaults, limits and Twilio error codes (13310-13327),
 * following the reference's attribute table. Nested prompts arrive already built by the reader.
 */
import { DEFAULTS, type GatherInput, type PromptVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import type { RawValue, VerbSpec } from './verb-spec.js';
import { LANGUAGE_PATTERN, fail, parseBoolean, parseCount, parseMethod, parseString, parseUrlAttribute, where } from './attribute-parsers.js';

/** Twilio's limits on `hints`: at most 500 phrases of at most 100 characters. */
const MAX_HINTS = 500;
const MAX_HINT_LENGTH = 100;
/** Longest wait Patchbay accepts for `timeout`/`speechTimeout` (Twilio documents no bound). */
const MAX_TIMEOUT_SECONDS = 600;
const MAX_SPEECH_TIME = 60;

function parseInputs(value: RawValue, label: string): GatherInput[] {
  if (value === undefined) return ['dtmf'];
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : null;
  if (!parts) fail(VerbErrorCode.Schema, `${label}: input must be "dtmf", "speech" or "dtmf speech"`);
  const inputs = new Set<GatherInput>();
  for (const part of parts) {
    const p = typeof part === 'string' ? part.trim().toLowerCase() : '';
    if (p === '') continue;
    if (p !== 'dtmf' && p !== 'speech') fail(VerbErrorCode.Schema, `${label}: unknown input "${String(part)}" (use dtmf, speech or both)`);
    inputs.add(p);
  }
  if (inputs.size === 0) fail(VerbErrorCode.Schema, `${label}: input must name dtmf, speech or both`);
  return [...inputs];
}

function parseSeconds(value: RawValue, code: number, label: string, name: string): number | undefined {
  const n = parseCount(value);
  if (n === undefined) return undefined;
  if (n === null || n > MAX_TIMEOUT_SECONDS) fail(code, `${label}: ${name} must be a whole number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got ${JSON.stringify(value)}`);
  return n;
}

function parseHints(value: RawValue, label: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (!list) fail(VerbErrorCode.Schema, `${label}: hints must be a comma-separated list`);
  const hints = list.map((h) => (typeof h === 'string' ? h.trim() : '')).filter((h) => h !== '');
  if (hints.length > MAX_HINTS) fail(VerbErrorCode.Schema, `${label}: at most ${MAX_HINTS} hints, got ${hints.length}`);
  const long = hints.find((h) => h.length > MAX_HINT_LENGTH);
  if (long) fail(VerbErrorCode.Schema, `${label}: each hint is at most ${MAX_HINT_LENGTH} characters ("${long.slice(0, 20)}...")`);
  return hints;
}

export const gatherSpec: VerbSpec = {
  twiml: 'Gather',
  json: 'gather',
  attributes: [
    'action', 'method', 'input', 'timeout', 'speechTimeout', 'finishOnKey', 'numDigits', 'actionOnEmptyResult',
    'partialResultCallback', 'partialResultCallbackMethod', 'language', 'hints', 'speechModel', 'profanityFilter',
    'bargeIn', 'maxSpeechTime', 'enhanced', 'debug',
  ],
  children: 'verbs',
  nestable: ['say', 'play', 'pause'],
  nestingCode: VerbErrorCode.GatherNestedVerb,
  build(values, raw, ctx) {
    const label = where(ctx, 'Gather');
    const finishOnKey = parseString(values.finishOnKey, VerbErrorCode.GatherFinishOnKey, label, 'finishOnKey') ?? DEFAULTS.finishOnKey;
    if (finishOnKey !== '' && !/^[0-9#*]$/.test(finishOnKey)) {
      fail(VerbErrorCode.GatherFinishOnKey, `${label}: finishOnKey must be one of 0-9 # * or empty, got "${finishOnKey}"`);
    }
    const numDigits = parseCount(values.numDigits);
    if (numDigits === null || numDigits === 0) fail(VerbErrorCode.GatherNumDigits, `${label}: numDigits must be a positive integer, got ${JSON.stringify(values.numDigits)}`);
    const speechTimeoutRaw = typeof values.speechTimeout === 'string' ? values.speechTimeout.trim().toLowerCase() : values.speechTimeout;
    const speechTimeout = speechTimeoutRaw === 'auto' ? 'auto' : parseSeconds(values.speechTimeout, VerbErrorCode.GatherSpeechTimeout, label, 'speechTimeout') ?? null;
    const maxSpeechTime = parseCount(values.maxSpeechTime);
    if (maxSpeechTime === null || maxSpeechTime === 0 || (maxSpeechTime !== undefined && maxSpeechTime > MAX_SPEECH_TIME)) {
      fail(VerbErrorCode.Schema, `${label}: maxSpeechTime must be from 1 to ${MAX_SPEECH_TIME} seconds`);
    }
    const language = parseString(values.language, VerbErrorCode.Schema, label, 'language') ?? null;
    if (language !== null && !LANGUAGE_PATTERN.test(language)) fail(VerbErrorCode.Schema, `${label}: invalid language "${language}"`);
    return {
      verb: 'gather',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.GatherMethod, label),
      input: parseInputs(values.input, label),
      timeout: parseSeconds(values.timeout, VerbErrorCode.GatherTimeout, label, 'timeout') ?? DEFAULTS.gatherTimeout,
      speechTimeout,
      finishOnKey,
      numDigits: numDigits ?? null,
      actionOnEmptyResult: parseBoolean(values.actionOnEmptyResult, VerbErrorCode.Schema, label, 'actionOnEmptyResult') ?? false,
      partialResultCallback: parseUrlAttribute(values.partialResultCallback, label, 'partialResultCallback'),
      partialResultCallbackMethod: parseMethod(values.partialResultCallbackMethod, VerbErrorCode.GatherMethod, label),
      language,
      hints: parseHints(values.hints, label),
      speechModel: parseString(values.speechModel, VerbErrorCode.Schema, label, 'speechModel') || DEFAULTS.speechModel,
      profanityFilter: parseBoolean(values.profanityFilter, VerbErrorCode.Schema, label, 'profanityFilter') ?? true,
      bargeIn: parseBoolean(values.bargeIn, VerbErrorCode.Schema, label, 'bargeIn') ?? true,
      maxSpeechTime: maxSpeechTime ?? DEFAULTS.maxSpeechTime,
      prompts: (raw.children ?? []) as PromptVerb[],
    };
  },
};
