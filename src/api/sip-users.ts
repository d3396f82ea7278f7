/**
 * SIP users (`US…`), native only (`/v1/users`): the accounts softphones register with. A create
 * takes the password once and the API keeps only its digest HA1s for the server's realm (MD5 for
 * RFC 2617 clients, SHA-256 for RFC 8760 ones); no response ever carries a password or an HA1.
 * Because H(username:realm:password) binds the username, renaming a user needs the password too.
 * A username taken anywhere on the server is a 409 (20409): the owner is not revealed.
 * `srtp` is the user's SRTP policy (RFC 4568 SDES), for calls from and to the user.
 */
import { newSid } from '../ids.js';
import { digestHa1 } from '../sip/digest.js';
import { SIP_USERNAME_RE } from '../store/sip-user-sql.js';
import {
  SRTP_POLICY_NAMES,
  StoreError,
  type ApplicationStore,
  type SrtpPolicyName,
  type SipUserPatch,
  type SipUserRecord,
  type SipUserStore,
  type StoredSipUserRecord,
} from '../store/store-types.js';
import { ApiError, badRequest } from './api-errors.js';
import { DEFAULT_VOICE_SETTINGS, friendlyNameField, VOICE_BODY, VOICE_RECORD, voiceSettingsOf, type ResourceInput } from './config-input.js';
import type { ConfigResource } from './config-resource.js';

/** Twilio's "VoiceApplicationSid is not valid" code, as numbers use it. */
export const INVALID_APPLICATION_SID = 21218;
/** 409: no Twilio code for a taken username; 20409 follows its "20 + HTTP status" generic codes. */
export const USERNAME_TAKEN = 20409;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 128;

export interface SipUsersOptions {
  /** The digest realm of the server's registrar (config `sipRealm`): the HA1s are computed for it. */
  realm: string;
}

/** The user as clients see it: no password, no HA1. */
export function nativeSipUserJson(u: StoredSipUserRecord): Record<string, unknown> {
  const { ha1Md5: _md5, ha1Sha256: _sha256, ...rest } = u;
  return rest;
}

/** The two HA1s the store keeps for a user (lower-case hex, as digestHa1 gives them). */
export function sipUserSecrets(username: string, realm: string, password: string): Pick<SipUserRecord, 'realm' | 'ha1Md5' | 'ha1Sha256'> {
  return { realm, ha1Md5: digestHa1('MD5', username, realm, password), ha1Sha256: digestHa1('SHA-256', username, realm, password) };
}

/**
 * `voiceApplicationSid` from the input: an application of this account, null to clear, undefined
 * when not given. Another account's application is as unknown as a missing one (21218).
 */
export async function applicationSidField(store: ApplicationStore, accountSid: string, input: ResourceInput): Promise<string | null | undefined> {
  const value = input.values.get('voiceApplicationSid');
  if (value === undefined || value === null) return value;
  if (!/^AP[0-9a-fA-F]{32}$/.test(value) || !(await store.getApplication(accountSid, value))) {
    throw new ApiError(400, INVALID_APPLICATION_SID, `Invalid ${input.spell('voiceApplicationSid')}: ${value} is not an application of this account`);
  }
  return value;
}

function usernameField(input: ResourceInput, required: boolean): string | undefined {
  const value = input.values.get('username');
  if (value === undefined && !required) return undefined;
  if (value === undefined || value === null) throw badRequest('username is required');
  if (!SIP_USERNAME_RE.test(value)) throw badRequest(`Invalid username: "${value}" must be 1-64 of A-Z a-z 0-9 . _ -`);
  return value;
}

function passwordField(input: ResourceInput, required: boolean): string | undefined {
  const value = input.values.get('password');
  if (value === undefined && !required) return undefined;
  if (value === undefined || value === null) throw badRequest('password is required');
  if (value.length < MIN_PASSWORD || value.length > MAX_PASSWORD) throw badRequest(`Invalid password: must be ${MIN_PASSWORD}-${MAX_PASSWORD} characters`);
  // It is hashed as UTF-8 inside `username:realm:password`; control characters would not survive a softphone's settings.
  if (/[\x00-\x1f\x7f]/.test(value)) throw badRequest('Invalid password: control characters are not allowed');
  return value;
}

/** `srtp`: optional | required | off; undefined when not given. */
function srtpField(input: ResourceInput): SrtpPolicyName | undefined {
  const value = input.values.get('srtp');
  if (value === undefined) return undefined;
  if (value === null || !(SRTP_POLICY_NAMES as readonly string[]).includes(value)) {
    throw badRequest(`Invalid srtp: ${JSON.stringify(value)} must be optional, required or off`);
  }
  return value as SrtpPolicyName;
}

export function sipUsersResource(store: SipUserStore & ApplicationStore, options: SipUsersOptions): ConfigResource<StoredSipUserRecord> {
  const { realm } = options;

  const commonPatch = async (accountSid: string, input: ResourceInput): Promise<SipUserPatch> => {
    const patch: SipUserPatch = { ...voiceSettingsOf(input) };
    const friendlyName = friendlyNameField(input);
    if (friendlyName !== undefined) patch.friendlyName = friendlyName;
    const app = await applicationSidField(store, accountSid, input);
    if (app !== undefined) patch.voiceApplicationSid = app;
    const srtp = srtpField(input);
    if (srtp !== undefined) patch.srtp = srtp;
    return patch;
  };

  const storeWrite = async <R>(username: string, write: () => Promise<R>): Promise<R> => {
    try {
      return await write();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DUPLICATE_USERNAME') {
        throw new ApiError(409, USERNAME_TAKEN, `username ${username} is already in use on this server`);
      }
      if (err instanceof StoreError && err.code === 'INVALID_RECORD') throw badRequest(err.message);
      throw err;
    }
  };

  return {
    sidPrefix: 'US',
    native: {
      path: 'users',
      listKey: 'users',
      tag: 'Users',
      singular: 'SIP user',
      plural: 'SIP users',
      conflict: 'the username is already in use on this server',
      body: {
        username: { type: 'string', description: '1-64 of A-Z a-z 0-9 . _ - ; unique on the server (client:<username>, sip:<username>@…). Renaming needs password too' },
        password: { type: 'string', description: `${MIN_PASSWORD}-${MAX_PASSWORD} characters; write-only (only its digest HA1s for the server's realm are kept)` },
        friendlyName: { type: ['string', 'null'], description: 'Up to 64 characters; default: the username' },
        ...VOICE_BODY,
        voiceApplicationSid: { type: ['string', 'null'], description: 'An application (AP…) of this account whose voice settings run the user\'s calls; null clears' },
        srtp: { type: 'string', description: 'SRTP (SDES, RFC 4568) on the user\'s calls: optional (encrypt when the phone offers or accepts it; default), required (refuse plain RTP with 488, offer only RTP/SAVP) or off' },
      },
      required: ['username', 'password'],
      filters: ['username', 'friendlyName'],
      record: {
        sid: { type: 'string' },
        accountSid: { type: 'string' },
        username: { type: 'string' },
        friendlyName: { type: 'string' },
        realm: { type: 'string', description: 'The digest realm the user authenticates in' },
        ...VOICE_RECORD,
        voiceApplicationSid: { type: ['string', 'null'] },
        srtp: { type: 'string', enum: ['optional', 'required', 'off'], description: 'SRTP policy for the user\'s calls' },
        dateCreated: { type: 'string', format: 'date-time' },
        dateUpdated: { type: 'string', format: 'date-time' },
      },
    },

    async create(accountSid, input) {
      const username = usernameField(input, true)!;
      const password = passwordField(input, true)!;
      const patch = await commonPatch(accountSid, input);
      const record = await storeWrite(username, () => store.createSipUser({
        ...DEFAULT_VOICE_SETTINGS,
        voiceApplicationSid: null,
        srtp: 'optional',
        friendlyName: username,
        ...patch,
        ...sipUserSecrets(username, realm, password),
        username,
        sid: newSid('US'),
        accountSid,
      }));
      return { record };
    },
    async update(accountSid, sid, input) {
      const current = await store.getSipUser(accountSid, sid);
      if (!current) return null;
      const username = usernameField(input, false);
      const password = passwordField(input, false);
      const renamed = username !== undefined && username !== current.username;
      if (renamed && password === undefined) {
        throw badRequest('Changing username needs password too: the stored digest secrets are computed over the username');
      }
      const patch = await commonPatch(accountSid, input);
      if (username !== undefined) patch.username = username;
      // A new password (or a realm changed in the configuration since) gets fresh HA1s.
      if (password !== undefined) Object.assign(patch, sipUserSecrets(username ?? current.username, realm, password));
      return storeWrite(username ?? current.username, () => store.updateSipUser(accountSid, sid, patch));
    },
    get: (accountSid, sid) => store.getSipUser(accountSid, sid),
    list: (accountSid, filters, pageSize, pageToken) =>
      store.listSipUsers({ accountSid, pageSize, pageToken, username: filters.username, friendlyName: filters.friendlyName }),
    remove: (accountSid, sid) => store.deleteSipUser(accountSid, sid),
    nativeJson: nativeSipUserJson,
  };
}
