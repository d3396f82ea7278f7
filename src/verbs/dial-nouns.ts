/**
 * The targets of `<Dial>`: `<Number>`, `<Sip>` and `<Client>` nouns, from TwiML elements or JSON
 * target objects (`{"type":"sip","uri":...}`), which are first turned into the RawNoun a TwiML
 * element gives, so one parser applies the same defaults and Twilio codes to both formats.
 */
import { VerbErrorCode } from './verb-errors.js';
import type { RawNoun, RawValue } from './verb-spec.js';
import type { DialClientNoun, DialLegCallbacks, DialNoun, DialNumberNoun, DialSipNoun, DialWhisper, VerbWarning } from './verb-model.js';
import { DIGITS_PATTERN, fail, parseMethod, parseNameList, parseString, parseUrlAttribute } from './attribute-parsers.js';
import { sipTargetFromNoun } from './sip-target.js';

export const DIAL_NOUN_TAGS = ['Number', 'Sip', 'Client'] as const;
/** Nouns of Twilio's `<Dial>` that Patchbay does not ring yet (12200 "not supported yet"). */
export const PENDING_DIAL_NOUNS = ['Conference', 'Queue', 'Application', 'Sim', 'WhatsApp'];
const LEG_EVENTS: readonly DialLegCallbacks['statusCallbackEvent'][number][] = ['initiated', 'ringing', 'answered', 'completed'];
const COMMON_ATTRIBUTES = ['url', 'method', 'statusCallback', 'statusCallbackMethod', 'statusCallbackEvent'];
const ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  Number: [...COMMON_ATTRIBUTES, 'sendDigits'],
  Sip: [...COMMON_ATTRIBUTES, 'username', 'password'],
  Client: COMMON_ATTRIBUTES,
};
/** Twilio: a `<Parameter>`'s name and value together stay under 500 characters. */
const MAX_PARAMETER_CHARS = 500;
/** What a `<Client>` identity may be: it becomes the user part of SIP URIs, so no spaces or URI delimiters. */
const IDENTITY_PATTERN = /^[A-Za-z0-9_.+-]{1,121}$/;

export type Warn = (message: string) => void;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `+1 (415) 555-0100` → `+14155550100`; must then be `+?[0-9*#]+` (13223). */
export function normalizeNumber(text: string, label: string): string {
  const number = text.replace(/[\s().-]/g, '');
  if (number === '') fail(VerbErrorCode.DialNumberFormat, `${label}: no number to dial`);
  if (!/^\+?[0-9*#]{1,64}$/.test(number)) fail(VerbErrorCode.DialNumberFormat, `${label}: "${text.trim()}" is not a phone number (digits, * and #, optionally after +)`);
  return number;
}

function callbacks(a: Record<string, RawValue>, methodCode: number, label: string): DialLegCallbacks & DialWhisper {
  return {
    url: parseUrlAttribute(a.url, label, 'url'),
    method: parseMethod(a.method, methodCode, label),
    statusCallback: parseUrlAttribute(a.statusCallback, label, 'statusCallback'),
    statusCallbackMethod: parseMethod(a.statusCallbackMethod, methodCode, label),
    statusCallbackEvent: parseNameList(a.statusCallbackEvent, LEG_EVENTS, ['completed'], VerbErrorCode.Schema, label, 'statusCallbackEvent'),
  };
}

function parameters(nouns: RawNoun[], label: string): [string, string][] {
  return nouns.map((n) => {
    const name = parseString(n.attrs.name, VerbErrorCode.Schema, label, 'Parameter name');
    const raw = n.attrs.value;
    const value = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : (parseString(raw, VerbErrorCode.Schema, label, 'Parameter value') ?? '');
    if (!name) fail(VerbErrorCode.Schema, `${label}: <Parameter> needs a name`);
    if (name.length + value.length >= MAX_PARAMETER_CHARS) fail(VerbErrorCode.Schema, `${label}: parameter "${name.slice(0, 40)}" is ${name.length + value.length} characters (limit ${MAX_PARAMETER_CHARS - 1})`);
    return [name, value];
  });
}

function numberNoun(noun: RawNoun, label: string): DialNumberNoun {
  const a = noun.attrs;
  if (noun.nouns.length > 0) fail(VerbErrorCode.DialNestedElement, `${label}: <Number> cannot contain <${noun.nouns[0]!.tag}>`);
  const sendDigits = parseString(a.sendDigits, VerbErrorCode.NumberSendDigits, label, 'sendDigits');
  if (sendDigits && !DIGITS_PATTERN.test(sendDigits)) fail(VerbErrorCode.NumberSendDigits, `${label}: sendDigits may only contain 0-9 A-D * # w W, got "${sendDigits}"`);
  return { noun: 'number', number: normalizeNumber(noun.text ?? '', label), sendDigits: sendDigits || null, ...callbacks(a, VerbErrorCode.NumberMethod, label) };
}

function sipNoun(noun: RawNoun, label: string): DialSipNoun {
  const a = noun.attrs;
  if (noun.nouns.some((c) => c.tag === 'Uri')) fail(VerbErrorCode.Schema, `${label}: <Sip><Uri> is not supported yet (write the URI as the text of <Sip>)`);
  const { uri, headers } = sipTargetFromNoun(noun, 'dial', VerbErrorCode.DialNestedElement, label);
  const username = parseString(a.username, VerbErrorCode.Schema, label, 'username') || null;
  const password = parseString(a.password, VerbErrorCode.Schema, label, 'password') || null;
  if (password !== null && username === null) fail(VerbErrorCode.Schema, `${label}: password needs a username`);
  return { noun: 'sip', uri, headers, username, password, ...callbacks(a, VerbErrorCode.Schema, label) };
}

function clientNoun(noun: RawNoun, label: string): DialClientNoun {
  let identity = (noun.text ?? '').trim();
  const params: RawNoun[] = [];
  for (const child of noun.nouns) {
    if (child.tag === 'Identity') {
      if (identity !== '') fail(VerbErrorCode.Schema, `${label}: <Client> has both text and <Identity>`);
      identity = (child.text ?? '').trim();
    } else if (child.tag === 'Parameter') {
      params.push(child);
    } else {
      fail(VerbErrorCode.DialNestedElement, `${label}: <Client> cannot contain <${child.tag}>`);
    }
  }
  // `client:alice` is how Twilio writes a client in From/To; apps paste it here too.
  if (identity.toLowerCase().startsWith('client:')) identity = identity.slice('client:'.length);
  if (identity === '') fail(VerbErrorCode.Schema, `${label}: <Client> needs an identity`);
  if (!IDENTITY_PATTERN.test(identity)) fail(VerbErrorCode.Schema, `${label}: invalid client identity "${identity}" (letters, digits, _ . + -, at most 121)`);
  return { noun: 'client', identity, parameters: parameters(params, label), ...callbacks(noun.attrs, VerbErrorCode.Schema, label) };
}

/** One noun of a `<Dial>`; unknown attributes are 12200 warnings, unknown elements 13215. */
export function parseDialNoun(noun: RawNoun, label: string, warn: Warn): DialNoun {
  if (PENDING_DIAL_NOUNS.includes(noun.tag)) fail(VerbErrorCode.Schema, `${label}: <${noun.tag}> is not supported yet`);
  const allowed = ATTRIBUTES[noun.tag];
  if (!allowed) fail(VerbErrorCode.DialNestedElement, `${label}: <${noun.tag}> cannot be nested in <Dial> (use <Number>, <Sip> or <Client>)`);
  for (const name of Object.keys(noun.attrs)) if (!allowed.includes(name)) warn(`${label}: unknown <${noun.tag}> attribute "${name}" ignored`);
  const where = `${label} <${noun.tag}>`;
  if (noun.tag === 'Number') return numberNoun(noun, where);
  if (noun.tag === 'Sip') return sipNoun(noun, where);
  return clientNoun(noun, where);
}

/** `{"name":"value"}` or `[{"name":..., "value":...}]` as `<tag name value/>` nouns. */
function pairsAsNouns(value: unknown, tag: string, label: string): RawNoun[] {
  const entries = Array.isArray(value) ? value.map((p) => (isObject(p) ? [p.name, p.value] : [undefined, undefined])) : isObject(value) ? Object.entries(value) : null;
  if (!entries) fail(VerbErrorCode.Schema, `${label}: ${tag.toLowerCase()}s must be an object or an array of {name, value}`);
  return entries.map(([name, val]) => ({ tag, attrs: { name: name as RawValue, value: val as RawValue }, nouns: [] }));
}

const JSON_TEXT: Readonly<Record<string, [tag: string, text: string]>> = {
  number: ['Number', 'number'],
  sip: ['Sip', 'uri'],
  client: ['Client', 'identity'],
};

/** A JSON target as the RawNoun a TwiML element gives (`{"type":"sip","uri":...,"headers":{...}}` → `<Sip>`). */
export function dialTargetFromJson(value: unknown, label: string): RawNoun {
  if (!isObject(value)) fail(VerbErrorCode.Schema, `${label}: a target must be an object`);
  const type = typeof value.type === 'string' ? value.type : '';
  const kind = JSON_TEXT[type];
  if (!kind) {
    const pending = PENDING_DIAL_NOUNS.find((n) => n.toLowerCase() === type.toLowerCase());
    fail(VerbErrorCode.Schema, pending ? `${label}: target type "${type}" is not supported yet` : `${label}: target type must be number, sip or client, got ${JSON.stringify(value.type)}`);
  }
  const [tag, textProperty] = kind;
  const noun: RawNoun = { tag, attrs: {}, nouns: [] };
  const text = value[textProperty];
  if (text !== undefined && typeof text !== 'string') fail(tag === 'Number' ? VerbErrorCode.DialNumberFormat : VerbErrorCode.Schema, `${label}: ${textProperty} must be a string`);
  noun.text = text ?? '';
  for (const [k, v] of Object.entries(value)) {
    if (k === 'type' || k === textProperty) continue;
    if (tag === 'Sip' && k === 'headers') noun.nouns.push({ tag: 'Headers', attrs: {}, nouns: pairsAsNouns(v, 'Header', label) });
    else if (tag === 'Client' && k === 'parameters') noun.nouns.push(...pairsAsNouns(v, 'Parameter', label));
    else noun.attrs[k] = v as RawValue;
  }
  return noun;
}
