/**
 * API keys (`SK…`): Basic-auth credentials for an account that can be revoked one by one. The
 * secret is generated here, shown once in the create response and stored only as its SHA-256
 * (basic-auth.ts compares against that). Only the account's auth token may manage keys: as on
 * Twilio, a (standard) key cannot mint or revoke keys, so a leaked key cannot entrench itself.
 */
import { randomBytes } from 'node:crypto';
import { newSid } from '../ids.js';
import type { ApiKeyStore, StoredApiKeyRecord } from '../store/store-types.js';
import { apiKeySecretSha256 } from './basic-auth.js';
import { friendlyNameField } from './config-input.js';
import type { ConfigResource } from './config-resource.js';
import { rfc2822 } from './twilio-json.js';

/** 24 random bytes as base64url: 32 characters, 192 bits, safe in a Basic-auth password. */
export function newApiKeySecret(): string {
  return randomBytes(24).toString('base64url');
}

/** Twilio's Key resource (oai `api.v2010.account.key`); the secret is never part of it. */
export function twilioApiKeyJson(k: StoredApiKeyRecord): Record<string, unknown> {
  return { sid: k.sid, friendly_name: k.friendlyName, date_created: rfc2822(k.dateCreated), date_updated: rfc2822(k.dateUpdated) };
}

export function nativeApiKeyJson(k: StoredApiKeyRecord): Record<string, unknown> {
  return { sid: k.sid, accountSid: k.accountSid, friendlyName: k.friendlyName, dateCreated: k.dateCreated, dateUpdated: k.dateUpdated };
}

export function apiKeysResource(store: ApiKeyStore): ConfigResource<StoredApiKeyRecord> {
  return {
    sidPrefix: 'SK',
    twilio: { path: 'Keys', listKey: 'keys', fields: { FriendlyName: 'friendlyName' }, filters: {} },
    native: {
      path: 'keys',
      listKey: 'keys',
      tag: 'API keys',
      singular: 'API key',
      plural: 'API keys',
      body: { friendlyName: { type: ['string', 'null'], description: 'Up to 64 characters' } },
      required: [],
      filters: [],
      record: {
        sid: { type: 'string' },
        accountSid: { type: 'string' },
        friendlyName: { type: 'string' },
        dateCreated: { type: 'string', format: 'date-time' },
        dateUpdated: { type: 'string', format: 'date-time' },
      },
      createdOnce: { secret: { type: 'string', description: 'The key\'s secret: shown only in this response, use it as the Basic-auth password with the SID' } },
    },
    authTokenOnly: true,

    async create(accountSid, input) {
      const secret = newApiKeySecret();
      const record = await store.createApiKey({ sid: newSid('SK'), accountSid, friendlyName: friendlyNameField(input) ?? '', secretSha256: apiKeySecretSha256(secret) });
      return { record, once: { secret } };
    },
    async update(accountSid, sid, input) {
      const friendlyName = friendlyNameField(input);
      // Nothing to change: answer the key as it is (Twilio answers 200 to an empty update).
      if (friendlyName === undefined) return store.getApiKey(accountSid, sid);
      return store.updateApiKey(accountSid, sid, { friendlyName });
    },
    get: (accountSid, sid) => store.getApiKey(accountSid, sid),
    list: (accountSid, _filters, pageSize, pageToken) => store.listApiKeys({ accountSid, pageSize, pageToken }),
    remove: (accountSid, sid) => store.deleteApiKey(accountSid, sid),
    twilioJson: twilioApiKeyJson,
    nativeJson: nativeApiKeyJson,
  };
}
