/**
 * Applications (`AP…`): reusable voice URL sets that numbers (`voiceApplicationSid`) and outbound
 * calls (`ApplicationSid`) point at. Validation and both JSON shapes for the Twilio and native
 * routes; URL errors are Twilio's 21502, others 20001.
 */
import { newSid } from '../ids.js';
import { StoreError, type ApplicationPatch, type ApplicationStore, type StoredApplicationRecord } from '../store/store-types.js';
import { badRequest } from './api-errors.js';
import { DEFAULT_VOICE_SETTINGS, friendlyNameField, VOICE_BODY, VOICE_RECORD, VOICE_SETTING_FIELDS, voiceSettingsOf, type ResourceInput } from './config-input.js';
import type { ConfigResource } from './config-resource.js';
import { rfc2822, TWILIO_API_VERSION, twilioAccountPath } from './twilio-json.js';

/** Twilio's Application resource (oai `api.v2010.account.application`); messaging fields stay empty. */
export function twilioApplicationJson(a: StoredApplicationRecord): Record<string, unknown> {
  return {
    account_sid: a.accountSid,
    api_version: TWILIO_API_VERSION,
    date_created: rfc2822(a.dateCreated),
    date_updated: rfc2822(a.dateUpdated),
    friendly_name: a.friendlyName,
    message_status_callback: null,
    sid: a.sid,
    sms_fallback_method: 'POST',
    sms_fallback_url: null,
    sms_method: 'POST',
    sms_status_callback: null,
    sms_url: null,
    status_callback: a.statusCallback,
    status_callback_method: a.statusCallbackMethod,
    uri: `${twilioAccountPath(a.accountSid)}/Applications/${a.sid}.json`,
    voice_caller_id_lookup: false,
    voice_fallback_method: a.voiceFallbackMethod,
    voice_fallback_url: a.voiceFallbackUrl,
    voice_method: a.voiceMethod,
    voice_url: a.voiceUrl,
    public_application_connect_enabled: false,
  };
}

export function nativeApplicationJson(a: StoredApplicationRecord): Record<string, unknown> {
  return { ...a };
}

function patchOf(input: ResourceInput): ApplicationPatch {
  const patch: ApplicationPatch = { ...voiceSettingsOf(input) };
  const friendlyName = friendlyNameField(input);
  if (friendlyName !== undefined) patch.friendlyName = friendlyName;
  return patch;
}

async function storeWrite<R>(write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'INVALID_RECORD') throw badRequest(err.message);
    throw err;
  }
}

export function applicationsResource(store: ApplicationStore): ConfigResource<StoredApplicationRecord> {
  return {
    sidPrefix: 'AP',
    twilio: {
      path: 'Applications',
      listKey: 'applications',
      fields: { FriendlyName: 'friendlyName', ...VOICE_SETTING_FIELDS },
      filters: { FriendlyName: 'friendlyName' },
    },
    native: {
      path: 'applications',
      listKey: 'applications',
      tag: 'Applications',
      singular: 'application',
      plural: 'applications',
      body: {
        friendlyName: { type: ['string', 'null'], description: 'Up to 64 characters' },
        ...VOICE_BODY,
      },
      required: [],
      filters: ['friendlyName'],
      record: {
        sid: { type: 'string' },
        accountSid: { type: 'string' },
        friendlyName: { type: 'string' },
        ...VOICE_RECORD,
        dateCreated: { type: 'string', format: 'date-time' },
        dateUpdated: { type: 'string', format: 'date-time' },
      },
    },

    async create(accountSid, input) {
      const patch = patchOf(input);
      const record = await storeWrite(() => store.createApplication({ ...DEFAULT_VOICE_SETTINGS, friendlyName: '', ...patch, sid: newSid('AP'), accountSid }));
      return { record };
    },
    async update(accountSid, sid, input) {
      const patch = patchOf(input);
      return storeWrite(() => store.updateApplication(accountSid, sid, patch));
    },
    get: (accountSid, sid) => store.getApplication(accountSid, sid),
    list: (accountSid, filters, pageSize, pageToken) => store.listApplications({ accountSid, pageSize, pageToken, friendlyName: filters.friendlyName }),
    remove: (accountSid, sid) => store.deleteApplication(accountSid, sid),
    twilioJson: twilioApplicationJson,
    nativeJson: nativeApplicationJson,
  };
}
