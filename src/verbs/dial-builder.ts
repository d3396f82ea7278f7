/**
 * `<Dial>` / `{"verb":"dial"}`: attribute defaults, limits and Twilio error codes (132xx), following
 * the reference's attribute table. The targets are `<Number>`, `<Sip>` and `<Client>` nouns (or the
 * text of `<Dial>`, one number); in JSON, a `targets` array (dial-nouns.ts turns it into nouns).
 */
import { DEFAULTS, type DialNoun, type DialRecord, type DialVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import type { RawNoun, RawValue, VerbSpec } from './verb-spec.js';
import { fail, parseBoolean, parseCount, parseMethod, parseNameList, parseString, parseUrlAttribute, where } from './attribute-parsers.js';
import { RECORDING_STATUS_EVENTS } from './record-builder.js';
import { DIAL_NOUN_TAGS, dialTargetFromJson, parseDialNoun } from './dial-nouns.js';

/** Twilio rings at most 10 nouns per `<Dial>`. */
export const MAX_DIAL_TARGETS = 10;
const MIN_TIMEOUT = 5;
const MAX_TIMEOUT = 600;
/** 24 hours: Twilio's ceiling for timeLimit (when the account enables it; 4 hours is the default). */
const MAX_TIME_LIMIT = 86_400;
const RECORD_VALUES: readonly DialRecord[] = ['do-not-record', 'record-from-answer', 'record-from-ringing', 'record-from-answer-dual', 'record-from-ringing-dual'];
/** Countries Twilio has a ringback tone for (`ringTone`). */
export const RING_TONES = [
  'at', 'au', 'bg', 'br', 'be', 'ch', 'cl', 'cn', 'cz', 'de', 'dk', 'ee', 'es', 'fi', 'fr', 'gr', 'hu', 'il', 'in', 'it', 'lt',
  'jp', 'mx', 'my', 'nl', 'no', 'nz', 'ph', 'pl', 'pt', 'ru', 'se', 'sg', 'th', 'uk', 'us', 'us-old', 'tw', 've', 'za',
] as const;
/**
 * callerId: a number (`+`, digits), `client:name`, a SIP URI, or the free-form user part Twilio
 * accepts for `<Sip>` legs (`[A-Za-z0-9+_.-]`).
 */
const CALLER_ID = /^(?:client:[A-Za-z0-9_.+-]+|sips?:[^\s<>"]+|[A-Za-z0-9+_.-]{1,64})$/i;

function parseTimeout(value: RawValue, label: string): number {
  const n = parseCount(value);
  if (n === undefined) return DEFAULTS.dialTimeout;
  if (n === null || n < MIN_TIMEOUT || n > MAX_TIMEOUT) fail(VerbErrorCode.DialTimeout, `${label}: timeout must be a whole number of seconds from ${MIN_TIMEOUT} to ${MAX_TIMEOUT}, got ${JSON.stringify(value)}`);
  return n;
}

function parseTimeLimit(value: RawValue, label: string): number {
  const n = parseCount(value);
  if (n === undefined) return DEFAULTS.dialTimeLimit;
  if (n === null || n === 0 || n > MAX_TIME_LIMIT) fail(VerbErrorCode.DialTimeLimit, `${label}: timeLimit must be from 1 to ${MAX_TIME_LIMIT} seconds, got ${JSON.stringify(value)}`);
  return n;
}

/** `true` ≡ record-from-answer, `false` ≡ do-not-record (Twilio's older spelling). */
function parseRecord(value: RawValue, label: string): DialRecord {
  if (value === undefined) return 'do-not-record';
  if (value === true) return 'record-from-answer';
  if (value === false) return 'do-not-record';
  const s = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (s === 'true') return 'record-from-answer';
  if (s === 'false') return 'do-not-record';
  const known = RECORD_VALUES.find((r) => r === s);
  if (!known) fail(VerbErrorCode.DialRecord, `${label}: record must be one of ${RECORD_VALUES.join(', ')} (or true/false), got ${JSON.stringify(value)}`);
  return known;
}

function parseCallerId(value: RawValue, label: string): string | null {
  const s = parseString(value, VerbErrorCode.DialCallerId, label, 'callerId');
  if (!s) return null;
  if (!CALLER_ID.test(s)) fail(VerbErrorCode.DialCallerId, `${label}: invalid callerId "${s}" (a number, client:name, a SIP URI, or letters, digits and + _ . -)`);
  return s;
}

function parseRingTone(value: RawValue, label: string): string | null {
  const s = parseString(value, VerbErrorCode.Schema, label, 'ringTone');
  if (!s) return null;
  const tone = RING_TONES.find((t) => t === s.toLowerCase());
  if (!tone) fail(VerbErrorCode.Schema, `${label}: unknown ringTone "${s}" (a country code: ${RING_TONES.join(' ')})`);
  return tone;
}

function parseEnum<T extends string>(value: RawValue, allowed: readonly T[], fallback: T, label: string, name: string): T {
  const s = parseString(value, VerbErrorCode.Schema, label, name);
  if (!s) return fallback;
  const known = allowed.find((a) => a === s);
  if (!known) fail(VerbErrorCode.Schema, `${label}: ${name} must be one of ${allowed.join(', ')}, got "${s}"`);
  return known;
}

/** The nouns of the dial: TwiML elements (or the text, one number), or the JSON `targets`. */
function targetNouns(values: Record<string, RawValue>, raw: { content?: string; nouns?: RawNoun[] }, label: string, warn: (m: string) => void): RawNoun[] {
  if (values.targets !== undefined) {
    if (!Array.isArray(values.targets)) fail(VerbErrorCode.DialNumberFormat, `${label}: targets must be an array`);
    return values.targets.map((t: unknown, i) => dialTargetFromJson(t, `${label} target ${i + 1}`));
  }
  const text = (raw.content ?? '').trim();
  const nouns = raw.nouns ?? [];
  if (nouns.length === 0) return text === '' ? [] : [{ tag: 'Number', attrs: {}, nouns: [], text }];
  if (text !== '') warn(`${label}: text "${text.slice(0, 40)}" ignored because <Dial> has nouns`);
  return nouns;
}

export const dialSpec: VerbSpec = {
  twiml: 'Dial',
  json: 'dial',
  attributes: [
    'action', 'method', 'timeout', 'timeLimit', 'callerId', 'answerOnBridge', 'ringTone', 'hangupOnStar', 'record',
    'recordingStatusCallback', 'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'recordingTrack', 'trim',
    'sequential', 'referUrl', 'referMethod',
  ],
  children: 'nouns',
  nounProperties: ['targets'],
  textNouns: ['Dial', ...DIAL_NOUN_TAGS, 'Identity'],
  build(values, raw, ctx) {
    const label = where(ctx, 'Dial');
    const warn = (message: string): void => {
      ctx.warnings.push({ code: VerbErrorCode.Schema, message, verbIndex: ctx.index });
    };
    const nouns = targetNouns(values, raw, label, warn);
    if (nouns.length === 0) fail(VerbErrorCode.DialNumberFormat, `${label}: nothing to dial (give a number, or <Number>, <Sip> or <Client> nouns)`);
    if (nouns.length > MAX_DIAL_TARGETS) fail(VerbErrorCode.DialNestedElement, `${label}: at most ${MAX_DIAL_TARGETS} nouns, got ${nouns.length}`);
    const targets: DialNoun[] = nouns.map((n) => parseDialNoun(n, label, warn));
    const verb: DialVerb = {
      verb: 'dial',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.DialMethod, label),
      timeout: parseTimeout(values.timeout, label),
      timeLimit: parseTimeLimit(values.timeLimit, label),
      callerId: parseCallerId(values.callerId, label),
      answerOnBridge: parseBoolean(values.answerOnBridge, VerbErrorCode.Schema, label, 'answerOnBridge') ?? false,
      ringTone: parseRingTone(values.ringTone, label),
      hangupOnStar: parseBoolean(values.hangupOnStar, VerbErrorCode.DialHangupOnStar, label, 'hangupOnStar') ?? false,
      record: parseRecord(values.record, label),
      recordingStatusCallback: parseUrlAttribute(values.recordingStatusCallback, label, 'recordingStatusCallback'),
      recordingStatusCallbackMethod: parseMethod(values.recordingStatusCallbackMethod, VerbErrorCode.DialMethod, label),
      recordingStatusCallbackEvent: parseNameList(values.recordingStatusCallbackEvent, RECORDING_STATUS_EVENTS, ['completed'], VerbErrorCode.Schema, label, 'recordingStatusCallbackEvent'),
      recordingTrack: parseEnum(values.recordingTrack, ['inbound', 'outbound', 'both'], 'both', label, 'recordingTrack'),
      trim: parseEnum(values.trim, ['trim-silence', 'do-not-trim'], 'do-not-trim', label, 'trim'),
      sequential: parseBoolean(values.sequential, VerbErrorCode.Schema, label, 'sequential') ?? false,
      referUrl: parseUrlAttribute(values.referUrl, label, 'referUrl'),
      referMethod: parseMethod(values.referMethod, VerbErrorCode.DialMethod, label),
      targets,
    };
    return verb;
  },
};
