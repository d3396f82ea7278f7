/**
 * Input for the configuration resources (IncomingPhoneNumbers, Applications, Keys), read the same
 * way whichever dialect the client speaks. Twilio's form keys (`VoiceUrl`) and native JSON fields
 * (`voiceUrl`) both become a `ResourceInput` keyed by the native name; the validators below then
 * apply one set of rules and name the field in the client's own spelling, with Twilio's error
 * codes where one exists (21502 invalid callback URL) and 20001 otherwise.
 */
import type { HttpMethodName, VoiceSettings } from '../store/store-types.js';
import { ApiError, badRequest } from './api-errors.js';
import type { PropertySchema } from './config-resource.js';
import { single, type TwilioForm } from './twilio-form.js';

/** A client's fields after the dialect is peeled off: native name → value; null clears the field. */
export interface ResourceInput {
  readonly values: ReadonlyMap<string, string | null>;
  /** The client's spelling of a native field name, for messages: `VoiceUrl` (Twilio) or `voiceUrl`. */
  spell(field: string): string;
}

/** Twilio's "Invalid callback url" (also used for VoiceUrl and VoiceFallbackUrl). */
export const INVALID_URL = 21502;
/** Twilio's friendly names are at most 64 characters. */
export const MAX_FRIENDLY_NAME = 64;
/** Longest URL accepted (Twilio's documented callback URL limit). */
export const MAX_URL_LENGTH = 4000;

/**
 * A Twilio form as ResourceInput. `fields` maps each accepted Twilio key to its native name; any
 * other key is refused (20001) so a misspelt parameter is never silently ignored. An empty value
 * clears the field, as Twilio does when a client posts `VoiceUrl=`.
 */
export function twilioResourceInput(form: TwilioForm, fields: Readonly<Record<string, string>>): ResourceInput {
  const values = new Map<string, string | null>();
  const spelling = new Map<string, string>();
  for (const [twilioName, native] of Object.entries(fields)) spelling.set(native, twilioName);
  for (const key of form.keys()) {
    const native = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (native === undefined) throw badRequest(`Unknown parameter "${key}"`);
    const value = single(form, key)!;
    values.set(native, value === '' ? null : value);
  }
  return { values, spell: (field) => spelling.get(field) ?? field };
}

/** A native JSON body as ResourceInput: an object of known fields, each a string or null. */
export function nativeResourceInput(body: unknown, fields: readonly string[]): ResourceInput {
  const values = new Map<string, string | null>();
  if (body !== undefined && body !== null) {
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object');
    for (const [key, value] of Object.entries(body)) {
      if (!fields.includes(key)) throw badRequest(`Unknown field "${key}"`);
      if (value !== null && typeof value !== 'string') throw badRequest(`Invalid ${key}: must be a string or null`);
      values.set(key, value === '' ? null : value);
    }
  }
  return { values, spell: (field) => field };
}

/** An absolute http(s) URL, null to clear, undefined when not given; 400 (21502) otherwise. */
export function urlField(input: ResourceInput, field: string): string | null | undefined {
  const value = input.values.get(field);
  if (value === undefined || value === null) return value;
  const name = input.spell(field);
  if (value.length > MAX_URL_LENGTH) throw new ApiError(400, INVALID_URL, `Invalid ${name}: longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError(400, INVALID_URL, `Invalid ${name}: "${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ApiError(400, INVALID_URL, `Invalid ${name}: must be an http:// or https:// URL`);
  return url.toString();
}

/** GET or POST (any case); null resets to POST, Twilio's default. */
export function methodField(input: ResourceInput, field: string): HttpMethodName | undefined {
  const value = input.values.get(field);
  if (value === undefined) return undefined;
  if (value === null) return 'POST';
  const method = value.toUpperCase();
  if (method !== 'GET' && method !== 'POST') throw badRequest(`Invalid ${input.spell(field)}: must be GET or POST, got "${value}"`);
  return method;
}

/** A friendly name of at most 64 characters on one line; null clears it to ''. */
export function friendlyNameField(input: ResourceInput, field = 'friendlyName'): string | undefined {
  const value = input.values.get(field);
  if (value === undefined) return undefined;
  if (value === null) return '';
  if (value.length > MAX_FRIENDLY_NAME) throw badRequest(`Invalid ${input.spell(field)}: at most ${MAX_FRIENDLY_NAME} characters`);
  if (/[\r\n]/.test(value)) throw badRequest(`Invalid ${input.spell(field)}: must be on one line`);
  return value;
}

/** The voice URL set's Twilio names → native names (IncomingPhoneNumbers and Applications). */
export const VOICE_SETTING_FIELDS: Readonly<Record<string, keyof VoiceSettings>> = {
  VoiceUrl: 'voiceUrl',
  VoiceMethod: 'voiceMethod',
  VoiceFallbackUrl: 'voiceFallbackUrl',
  VoiceFallbackMethod: 'voiceFallbackMethod',
  StatusCallback: 'statusCallback',
  StatusCallbackMethod: 'statusCallbackMethod',
};

export const DEFAULT_VOICE_SETTINGS: Readonly<VoiceSettings> = {
  voiceUrl: null,
  voiceMethod: 'POST',
  voiceFallbackUrl: null,
  voiceFallbackMethod: 'POST',
  statusCallback: null,
  statusCallbackMethod: 'POST',
};

/** The voice settings the input gives (only those; for a patch or to merge over defaults). */
export function voiceSettingsOf(input: ResourceInput): Partial<VoiceSettings> {
  const out: Partial<VoiceSettings> = {};
  const set = <K extends keyof VoiceSettings>(key: K, value: VoiceSettings[K] | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('voiceUrl', urlField(input, 'voiceUrl'));
  set('voiceMethod', methodField(input, 'voiceMethod'));
  set('voiceFallbackUrl', urlField(input, 'voiceFallbackUrl'));
  set('voiceFallbackMethod', methodField(input, 'voiceFallbackMethod'));
  set('statusCallback', urlField(input, 'statusCallback'));
  set('statusCallbackMethod', methodField(input, 'statusCallbackMethod'));
  return out;
}

const nullableUrl = (description: string): PropertySchema => ({ type: ['string', 'null'], description });
const method = (description: string): PropertySchema => ({ type: ['string', 'null'], description: `${description}: GET or POST (default POST)` });

/** The voice URL set's native body properties (numbers and applications): JSON schema for the OpenAPI document. */
export const VOICE_BODY: Readonly<Record<string, PropertySchema>> = {
  voiceUrl: nullableUrl('Absolute http(s) URL fetched for TwiML or JSON verbs when a call arrives; null clears'),
  voiceMethod: method('HTTP method for voiceUrl'),
  voiceFallbackUrl: nullableUrl('Fetched when voiceUrl fails; null clears'),
  voiceFallbackMethod: method('HTTP method for voiceFallbackUrl'),
  statusCallback: nullableUrl('Receives call status callbacks; null clears'),
  statusCallbackMethod: method('HTTP method for statusCallback'),
};

/** The voice URL set's properties as records carry them (numbers and applications). */
export const VOICE_RECORD: Readonly<Record<string, PropertySchema>> = {
  voiceUrl: { type: ['string', 'null'] },
  voiceMethod: { type: 'string' },
  voiceFallbackUrl: { type: ['string', 'null'] },
  voiceFallbackMethod: { type: 'string' },
  statusCallback: { type: ['string', 'null'] },
  statusCallbackMethod: { type: 'string' },
};
