/**
 * IncomingPhoneNumbers (`PN…`): the identities inbound calls are routed by, each with its voice
 * URL set or a TwiML Application. Validation and both JSON shapes for the Twilio and native
 * routes. `phoneNumber` is E.164 (`+14155550100`) or a SIP user part (`1000`, `support`), unique
 * on the server. Error codes (Twilio's): 21421 invalid or missing PhoneNumber, 21422 PhoneNumber
 * already in use (Twilio's "PhoneNumber is not available"; the owner is not revealed), 21502
 * invalid URL, 21218 VoiceApplicationSid not an application of this account.
 */
import { newSid } from '../ids.js';
import {
  StoreError,
  type ApplicationStore,
  type IncomingNumberPatch,
  type NumberStore,
  type StoredIncomingNumberRecord,
} from '../store/store-types.js';
import { ApiError, badRequest } from './api-errors.js';
import { DEFAULT_VOICE_SETTINGS, friendlyNameField, VOICE_BODY, VOICE_RECORD, VOICE_SETTING_FIELDS, voiceSettingsOf, type ResourceInput } from './config-input.js';
import type { ConfigResource, PropertySchema } from './config-resource.js';
import { rfc2822, TWILIO_API_VERSION, twilioAccountPath } from './twilio-json.js';

export const INVALID_PHONE_NUMBER = 21421;
export const PHONE_NUMBER_UNAVAILABLE = 21422;
export const INVALID_APPLICATION_SID = 21218;

const E164 = /^\+[1-9][0-9]{1,14}$/;
/** RFC 3261 §25.1 `user` unreserved/escaped characters a dial plan uses, without escapes. */
const SIP_USER_PART = /^[A-Za-z0-9._~+*#-]{1,64}$/;

/** A valid `phoneNumber`: E.164 when it starts with `+`, else a SIP user part. */
export function isValidPhoneNumber(value: string): boolean {
  return value.startsWith('+') ? E164.test(value) : SIP_USER_PART.test(value);
}

const nullableString = (description: string): PropertySchema => ({ type: ['string', 'null'], description });

function phoneNumberField(input: ResourceInput, required: boolean): string | undefined {
  const value = input.values.get('phoneNumber');
  const name = input.spell('phoneNumber');
  if (value === undefined && !required) return undefined;
  if (value === undefined || value === null) throw new ApiError(400, INVALID_PHONE_NUMBER, `${name} is required`);
  if (!isValidPhoneNumber(value)) {
    throw new ApiError(400, INVALID_PHONE_NUMBER, `Invalid ${name}: "${value}" is neither E.164 (+14155550100) nor a SIP user part (1-64 of A-Z a-z 0-9 . _ ~ + * # -)`);
  }
  return value;
}

/** Twilio's IncomingPhoneNumber resource (oai `api.v2010.account.incoming_phone_number`). */
export function twilioIncomingNumberJson(n: StoredIncomingNumberRecord): Record<string, unknown> {
  return {
    account_sid: n.accountSid,
    address_sid: null,
    address_requirements: 'none',
    api_version: TWILIO_API_VERSION,
    beta: false,
    capabilities: { voice: true, sms: false, mms: false, fax: false },
    date_created: rfc2822(n.dateCreated),
    date_updated: rfc2822(n.dateUpdated),
    friendly_name: n.friendlyName,
    identity_sid: null,
    phone_number: n.phoneNumber,
    // Numbers here are not bought from a carrier through the API: they are the operator's own.
    origin: 'hosted',
    sid: n.sid,
    sms_application_sid: null,
    sms_fallback_method: 'POST',
    sms_fallback_url: null,
    sms_method: 'POST',
    sms_url: null,
    status_callback: n.statusCallback,
    status_callback_method: n.statusCallbackMethod,
    trunk_sid: null,
    uri: `${twilioAccountPath(n.accountSid)}/IncomingPhoneNumbers/${n.sid}.json`,
    voice_receive_mode: 'voice',
    voice_application_sid: n.voiceApplicationSid,
    voice_caller_id_lookup: false,
    voice_fallback_method: n.voiceFallbackMethod,
    voice_fallback_url: n.voiceFallbackUrl,
    voice_method: n.voiceMethod,
    voice_url: n.voiceUrl,
    emergency_status: 'Inactive',
    emergency_address_sid: null,
    emergency_address_status: 'unregistered',
    bundle_sid: null,
    status: 'in-use',
    // Only subresources this server answers are listed (none: no add-ons).
    subresource_uris: {},
  };
}

export function nativeIncomingNumberJson(n: StoredIncomingNumberRecord): Record<string, unknown> {
  return { ...n };
}

export function incomingNumbersResource(store: NumberStore & ApplicationStore): ConfigResource<StoredIncomingNumberRecord> {
  const applicationSid = async (accountSid: string, input: ResourceInput): Promise<string | null | undefined> => {
    const value = input.values.get('voiceApplicationSid');
    if (value === undefined || value === null) return value;
    // Another account's application is as unknown as a missing one.
    if (!/^AP[0-9a-fA-F]{32}$/.test(value) || !(await store.getApplication(accountSid, value))) {
      throw new ApiError(400, INVALID_APPLICATION_SID, `Invalid ${input.spell('voiceApplicationSid')}: ${value} is not an application of this account`);
    }
    return value;
  };

  const patchOf = async (accountSid: string, input: ResourceInput, creating: boolean): Promise<IncomingNumberPatch> => {
    const patch: IncomingNumberPatch = { ...voiceSettingsOf(input) };
    const phoneNumber = phoneNumberField(input, creating);
    if (phoneNumber !== undefined) patch.phoneNumber = phoneNumber;
    const friendlyName = friendlyNameField(input);
    if (friendlyName !== undefined) patch.friendlyName = friendlyName;
    const app = await applicationSid(accountSid, input);
    if (app !== undefined) patch.voiceApplicationSid = app;
    return patch;
  };

  // The store enforces uniqueness across accounts; its refusal becomes Twilio's 21422.
  const storeWrite = async <R>(input: ResourceInput, phoneNumber: string | undefined, write: () => Promise<R>): Promise<R> => {
    try {
      return await write();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DUPLICATE_NUMBER') {
        const what = phoneNumber === undefined ? input.spell('phoneNumber') : `${input.spell('phoneNumber')} ${phoneNumber}`;
        throw new ApiError(400, PHONE_NUMBER_UNAVAILABLE, `${what} is not available: it is already in use on this server`);
      }
      if (err instanceof StoreError && err.code === 'INVALID_RECORD') throw badRequest(err.message);
      throw err;
    }
  };

  return {
    sidPrefix: 'PN',
    twilio: {
      path: 'IncomingPhoneNumbers',
      listKey: 'incoming_phone_numbers',
      fields: { PhoneNumber: 'phoneNumber', FriendlyName: 'friendlyName', ...VOICE_SETTING_FIELDS, VoiceApplicationSid: 'voiceApplicationSid' },
      filters: { PhoneNumber: 'phoneNumber', FriendlyName: 'friendlyName' },
    },
    native: {
      path: 'numbers',
      listKey: 'numbers',
      tag: 'Numbers',
      singular: 'number',
      plural: 'numbers',
      body: {
        phoneNumber: { type: 'string', description: 'E.164 (+14155550100) or a SIP user part (1000, support); unique on the server' },
        friendlyName: nullableString('Up to 64 characters; default: the phone number'),
        ...VOICE_BODY,
        voiceApplicationSid: nullableString('An application (AP…) of this account whose voice settings replace the number\'s own; null clears'),
      },
      required: ['phoneNumber'],
      filters: ['phoneNumber', 'friendlyName'],
      record: {
        sid: { type: 'string' },
        accountSid: { type: 'string' },
        phoneNumber: { type: 'string' },
        friendlyName: { type: 'string' },
        ...VOICE_RECORD,
        voiceApplicationSid: { type: ['string', 'null'] },
        dateCreated: { type: 'string', format: 'date-time' },
        dateUpdated: { type: 'string', format: 'date-time' },
      },
    },

    async create(accountSid, input) {
      const patch = await patchOf(accountSid, input, true);
      const phoneNumber = patch.phoneNumber!;
      const record = await storeWrite(input, phoneNumber, () => store.createNumber({
        ...DEFAULT_VOICE_SETTINGS,
        voiceApplicationSid: null,
        friendlyName: phoneNumber,
        ...patch,
        phoneNumber,
        sid: newSid('PN'),
        accountSid,
      }));
      return { record };
    },
    async update(accountSid, sid, input) {
      if (!(await store.getNumber(accountSid, sid))) return null;
      const patch = await patchOf(accountSid, input, false);
      return storeWrite(input, patch.phoneNumber, () => store.updateNumber(accountSid, sid, patch));
    },
    get: (accountSid, sid) => store.getNumber(accountSid, sid),
    list: (accountSid, filters, pageSize, pageToken) =>
      store.listNumbers({ accountSid, pageSize, pageToken, phoneNumber: filters.phoneNumber, friendlyName: filters.friendlyName }),
    remove: (accountSid, sid) => store.deleteNumber(accountSid, sid),
    twilioJson: twilioIncomingNumberJson,
    nativeJson: nativeIncomingNumberJson,
  };
}
