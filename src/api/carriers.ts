/**
 * Carriers (SIP trunks, `TK…`), native only (`/v1/carriers`): where calls to phone numbers go out
 * and which addresses may send calls in. The body is typed JSON (a port number, flags, lists of
 * prefixes and addresses); the store checks each value's meaning (carrier-sql.ts), so its refusal
 * is this API's 400. The password is write-only: responses say only whether one is set.
 * `srtp` is the carrier's SRTP policy (RFC 4568 SDES), for calls in and out: optional | required | off.
 */
import { newSid } from '../ids.js';
import type { CarrierRegistrationStatus, CarrierRegistrationView } from '../calls/carrier-registrations.js';
import { StoreError, type CarrierPatch, type CarrierRecord, type CarrierStore, type StoredCarrierRecord } from '../store/store-types.js';
import { digestHa1 } from '../sip/digest.js';
import { ApiError, badRequest } from './api-errors.js';
import { USERNAME_TAKEN } from './sip-users.js';
import { friendlyNameField } from './config-input.js';
import type { ConfigResource, InputValue, PropertySchema, TypedResourceInput } from './config-resource.js';

/** A new carrier's values for the fields its creator leaves out. */
export const CARRIER_DEFAULTS: Readonly<Omit<CarrierRecord, 'sid' | 'accountSid' | 'friendlyName' | 'host'>> = {
  port: 5060,
  transport: 'udp',
  username: null,
  password: null,
  register: false,
  registerExpires: 3600,
  prefixes: [],
  priority: 10,
  inboundAddresses: [],
  inboundUsername: null,
  inboundRealm: null,
  inboundHa1Md5: null,
  inboundHa1Sha256: null,
  fromDomain: null,
  techPrefix: '',
  enabled: true,
  srtp: 'optional',
};

/**
 * The carrier as clients see it: everything but the password. With `registration` given (the
 * server keeps carrier registrations), its live REGISTER status too: null when it does not register.
 */
export function nativeCarrierJson(c: StoredCarrierRecord, registration?: CarrierRegistrationStatus | null): Record<string, unknown> {
  const { password, inboundRealm: _realm, inboundHa1Md5: _md5, inboundHa1Sha256: _sha256, ...rest } = c;
  return { ...rest, hasPassword: password !== null, ...(registration !== undefined ? { registration } : {}) };
}

type FieldKind = 'string' | 'nullableString' | 'integer' | 'boolean' | 'list';

/** What clients write: the record's fields, but the inbound password instead of its stored HA1s. */
type WritableField = Exclude<keyof CarrierPatch, 'friendlyName' | 'inboundRealm' | 'inboundHa1Md5' | 'inboundHa1Sha256'> | 'inboundPassword';

/** Each writable field, its JSON type and its words in the OpenAPI document. */
const FIELDS: Readonly<Record<WritableField, readonly [FieldKind, string]>> = {
  host: ['string', 'Host name or IP address of the carrier\'s SIP server'],
  port: ['integer', '1-65535 (default 5060)'],
  transport: ['string', 'udp or tcp (default udp)'],
  username: ['nullableString', 'Digest username for the carrier\'s 401/407 challenges; null clears (with password)'],
  password: ['nullableString', 'Digest password (write-only: responses carry hasPassword); null clears (with username)'],
  register: ['boolean', 'Keep a REGISTER binding with the carrier (needs username and password; default false)'],
  registerExpires: ['integer', 'Requested registration lifetime in seconds, 60-86400 (default 3600)'],
  prefixes: ['list', 'Number prefixes this carrier takes (+1, +4420; digits with an optional leading +); empty = every number'],
  priority: ['integer', 'Lower is tried first, 0-1000 (default 10)'],
  inboundAddresses: ['list', 'IP addresses or CIDR blocks allowed to send calls in through this carrier'],
  inboundUsername: ['nullableString', 'Digest username this carrier\'s INVITEs may authenticate with instead of coming from inboundAddresses (407 challenge); unique on the server; needs inboundPassword; null clears'],
  inboundPassword: ['nullableString', 'Digest password for inboundUsername (write-only: only its HA1s for the server\'s realm are kept)'],
  fromDomain: ['nullableString', 'Host part of our From on calls through this carrier (null: the carrier\'s host)'],
  techPrefix: ['nullableString', 'Prepended to the dialled number in the Request-URI (null or empty: none)'],
  enabled: ['boolean', 'Used for calls at all (default true)'],
  srtp: ['string', 'SRTP (SDES, RFC 4568) on calls with this carrier: optional (encrypt when the other side offers or accepts it; default), required (refuse plain RTP with 488, offer only RTP/SAVP) or off'],
};

const SCHEMA_TYPE: Readonly<Record<FieldKind, PropertySchema>> = {
  string: { type: 'string' },
  nullableString: { type: ['string', 'null'] },
  integer: { type: 'integer' },
  boolean: { type: 'boolean' },
  list: { type: 'array', items: { type: 'string' } },
};

/** The carrier's JSON (responses are serialised through it, so the password cannot leak). */
const RECORD: Readonly<Record<string, PropertySchema>> = {
  sid: { type: 'string' },
  accountSid: { type: 'string' },
  friendlyName: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'integer' },
  transport: { type: 'string' },
  username: { type: ['string', 'null'] },
  hasPassword: { type: 'boolean', description: 'Whether a password is set (it is never returned)' },
  register: { type: 'boolean' },
  registerExpires: { type: 'integer' },
  prefixes: SCHEMA_TYPE.list,
  priority: { type: 'integer' },
  inboundAddresses: SCHEMA_TYPE.list,
  inboundUsername: { type: ['string', 'null'], description: 'Digest username for inbound calls (its password is never returned)' },
  fromDomain: { type: ['string', 'null'] },
  techPrefix: { type: 'string' },
  enabled: { type: 'boolean' },
  srtp: { type: 'string', enum: ['optional', 'required', 'off'], description: 'SRTP policy for calls with this carrier' },
  registration: {
    type: ['object', 'null'],
    description: 'Outbound registration (register: true): state idle|registering|registered|failed, expiresAt, lastError; null when not registering',
    properties: { state: { type: 'string' }, expiresAt: { type: ['string', 'null'] }, lastError: { type: ['string', 'null'] } },
  },
  dateCreated: { type: 'string', format: 'date-time' },
  dateUpdated: { type: 'string', format: 'date-time' },
};

const EXPECTED: Readonly<Record<FieldKind, string>> = {
  string: 'a non-empty string',
  nullableString: 'a string or null',
  integer: 'an integer',
  boolean: 'true or false',
  list: 'a list of strings',
};

function fieldValue(kind: FieldKind, field: string, value: InputValue): InputValue {
  const ok =
    kind === 'integer' ? typeof value === 'number' && Number.isInteger(value)
    : kind === 'boolean' ? typeof value === 'boolean'
    : kind === 'list' ? Array.isArray(value) || value === null
    : kind === 'string' ? typeof value === 'string'
    : typeof value === 'string' || value === null;
  if (!ok) throw badRequest(`Invalid ${field}: must be ${EXPECTED[kind]}`);
  // An empty list may arrive as null (cleared); a tech prefix cleared is the empty one.
  if (kind === 'list' && value === null) return [];
  if (field === 'techPrefix' && value === null) return '';
  return value;
}

type CarrierInput = CarrierPatch & { inboundPassword?: string | null };

/** The patch the input describes (only the fields given). */
function patchOf(input: TypedResourceInput): CarrierInput {
  const patch: Record<string, unknown> = {};
  for (const [field, [kind]] of Object.entries(FIELDS) as [keyof typeof FIELDS, readonly [FieldKind, string]][]) {
    const value = input.values.get(field);
    if (value !== undefined) patch[field] = fieldValue(kind, field, value);
  }
  const friendlyName = input.values.get('friendlyName');
  if (friendlyName !== undefined) {
    if (friendlyName !== null && typeof friendlyName !== 'string') throw badRequest('Invalid friendlyName: must be a string or null');
    patch.friendlyName = friendlyNameField({ values: new Map([['friendlyName', friendlyName]]), spell: input.spell });
  }
  // Values have their JSON types now; what they mean (a transport name, a port range) the store checks.
  return patch as CarrierInput;
}

/**
 * Turns inboundUsername/inboundPassword into what the store keeps: the HA1s for `realm`. The HA1
 * binds the username, so a new username needs the password again; null for either clears both.
 */
function withInboundSecrets(input: CarrierInput, realm: string, currentUsername: string | null): CarrierPatch {
  const { inboundPassword, ...patch } = input;
  const username = input.inboundUsername;
  if (username === null || inboundPassword === null) {
    return { ...patch, inboundUsername: null, inboundRealm: null, inboundHa1Md5: null, inboundHa1Sha256: null };
  }
  if (inboundPassword === undefined) {
    if (username !== undefined) throw badRequest('inboundUsername needs inboundPassword (the stored digest binds the two)');
    return patch;
  }
  const name = username ?? currentUsername;
  if (name === null) throw badRequest('inboundPassword needs inboundUsername');
  if (inboundPassword.length < 8 || inboundPassword.length > 128) throw badRequest('Invalid inboundPassword: must be 8-128 characters');
  return { ...patch, inboundUsername: name, inboundRealm: realm, inboundHa1Md5: digestHa1('MD5', name, realm, inboundPassword), inboundHa1Sha256: digestHa1('SHA-256', name, realm, inboundPassword) };
}

async function storeWrite<R>(write: () => Promise<R>): Promise<R> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof StoreError && err.code === 'INVALID_RECORD') throw badRequest(err.message);
    // The owner of a taken username is not revealed (as for SIP users).
    if (err instanceof StoreError && err.code === 'DUPLICATE_USERNAME') throw new ApiError(409, USERNAME_TAKEN, 'inboundUsername is already in use on this server');
    throw err;
  }
}

/**
 * `registrations`: the live registration status per carrier, shown as `registration` in the JSON.
 * `realm`: the server's digest realm, for which inbound passwords are hashed.
 */
export function carriersResource(store: CarrierStore, registrations?: CarrierRegistrationView, realm = 'patchbay'): ConfigResource<StoredCarrierRecord, TypedResourceInput> {
  const body: Record<string, PropertySchema> = { friendlyName: { type: ['string', 'null'], description: 'Up to 64 characters; default: the host' } };
  for (const [field, [kind, description]] of Object.entries(FIELDS)) body[field] = { ...SCHEMA_TYPE[kind], description };

  return {
    sidPrefix: 'TK',
    native: {
      path: 'carriers',
      listKey: 'carriers',
      tag: 'Carriers',
      singular: 'carrier',
      plural: 'carriers',
      body,
      typedBody: true,
      required: ['host'],
      filters: ['friendlyName'],
      record: RECORD,
    },

    async create(accountSid, input) {
      const patch = withInboundSecrets(patchOf(input), realm, null);
      const host = patch.host;
      if (host === undefined) throw badRequest('host is required');
      const record = await storeWrite(() => store.createCarrier({ ...CARRIER_DEFAULTS, friendlyName: host, ...patch, host, sid: newSid('TK'), accountSid }));
      return { record };
    },
    async update(accountSid, sid, input) {
      const given = patchOf(input);
      let currentUsername: string | null = null;
      if (given.inboundPassword && given.inboundUsername === undefined) {
        const current = await store.getCarrier(accountSid, sid);
        if (!current) return null;
        currentUsername = current.inboundUsername;
      }
      const patch = withInboundSecrets(given, realm, currentUsername);
      return storeWrite(() => store.updateCarrier(accountSid, sid, patch));
    },
    get: (accountSid, sid) => store.getCarrier(accountSid, sid),
    list: (accountSid, filters, pageSize, pageToken) => store.listCarriers({ accountSid, pageSize, pageToken, friendlyName: filters.friendlyName }),
    remove: (accountSid, sid) => store.deleteCarrier(accountSid, sid),
    nativeJson: (c) => nativeCarrierJson(c, registrations ? registrations.status(c.sid) : undefined),
  };
}
