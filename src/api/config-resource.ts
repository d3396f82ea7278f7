/**
 * What one configuration resource (IncomingPhoneNumbers, Applications, Keys, Carriers, SIP users)
 * tells the route plugins: its names in each dialect, its fields and filters, its operations and
 * its JSON shapes. The logic lives once per resource (incoming-numbers.ts, applications.ts,
 * api-keys.ts, carriers.ts, sip-users.ts); twilio-config-routes.ts and native-config-routes.ts
 * are the same thin CRUD for all of them. Resources Twilio has no equivalent of (carriers, SIP
 * users) are native only: they leave out the Twilio part.
 */
import type { ResourcePage } from '../store/store-types.js';
import type { ResourceInput } from './config-input.js';

/** What every stored configuration record has. */
export interface ConfigRecord {
  sid: string;
  accountSid: string;
}

/** A created record, with what only the create response shows (an API key's secret). */
export interface Created<T> {
  record: T;
  /** Extra fields for the create response only, in camelCase; snake_cased for Twilio. */
  once?: Readonly<Record<string, string>>;
}

/** A JSON schema object for one property, as fastify and @fastify/swagger read it. */
export type PropertySchema = Readonly<Record<string, unknown>>;

/** A native body value once the route schema has typed it; null clears the field. */
export type InputValue = string | number | boolean | readonly string[] | null;

/**
 * Input whose values keep their JSON types (a port number, a flag, a list of prefixes). Plain
 * `ResourceInput` (strings and null only) is the special case every Twilio form and the
 * string-only native bodies produce.
 */
export interface TypedResourceInput {
  readonly values: ReadonlyMap<string, InputValue>;
  /** The client's spelling of a native field name, for messages. */
  spell(field: string): string;
}

/** A resource's names and fields in the Twilio-compatible API. */
export interface TwilioResourceNames {
  /** Path segment under the account, e.g. `IncomingPhoneNumbers`. */
  readonly path: string;
  /** The records' key in a list page, e.g. `incoming_phone_numbers`. */
  readonly listKey: string;
  /** Accepted form keys → native field names (create and update). */
  readonly fields: Readonly<Record<string, string>>;
  /** List query filters: Twilio name → native filter name. */
  readonly filters: Readonly<Record<string, string>>;
}

/**
 * `I` is what create and update read: `ResourceInput` (strings) unless the resource sets
 * `native.typedBody`, in which case the native routes hand it typed values (`TypedResourceInput`).
 */
export interface ConfigResource<T extends ConfigRecord, I extends TypedResourceInput = ResourceInput> {
  /** SID prefix, e.g. `PN`. */
  readonly sidPrefix: string;
  /** Absent for a native-only resource: no /2010-04-01 routes are served for it. */
  readonly twilio?: TwilioResourceNames;
  readonly native: {
    /** Path segment under /v1, e.g. `numbers`. */
    readonly path: string;
    /** The records' key in a list page, e.g. `numbers`. */
    readonly listKey: string;
    /** OpenAPI tag and words for summaries. */
    readonly tag: string;
    readonly singular: string;
    readonly plural: string;
    /**
     * Body properties accepted on create and update: each a string or null, unless `typedBody`
     * (then integers, booleans and string arrays too, as their schemas say).
     */
    readonly body: Readonly<Record<string, PropertySchema>>;
    /** Body values keep their schema types; create/update then receive a TypedResourceInput. */
    readonly typedBody?: boolean;
    /** What makes create or update answer 409 (documented in OpenAPI), e.g. a username taken. */
    readonly conflict?: string;
    /** Fields a create must carry. */
    readonly required: readonly string[];
    /** List query filters (native names). */
    readonly filters: readonly string[];
    /** The record's JSON schema properties (responses are serialised from them). */
    readonly record: Readonly<Record<string, PropertySchema>>;
    /** Extra create-response properties (`once`). */
    readonly createdOnce?: Readonly<Record<string, PropertySchema>>;
  };
  /** Only the account's auth token may use the resource, not an API key (Twilio: keys cannot manage keys). */
  readonly authTokenOnly?: boolean;

  create(accountSid: string, input: I): Promise<Created<T>>;
  /** Null when missing or another account's. */
  update(accountSid: string, sid: string, input: I): Promise<T | null>;
  get(accountSid: string, sid: string): Promise<T | null>;
  /** `filters` holds only the filters given (native names). */
  list(accountSid: string, filters: Readonly<Record<string, string>>, pageSize: number, pageToken?: string): Promise<ResourcePage<T>>;
  remove(accountSid: string, sid: string): Promise<boolean>;
  /** Twilio's JSON: snake_case, RFC 2822 dates (with `twilio` only). */
  twilioJson?(record: T): Record<string, unknown>;
  /** Native JSON: camelCase, ISO 8601 dates. */
  nativeJson(record: T): Record<string, unknown>;
}
