/**
 * What one configuration resource (IncomingPhoneNumbers, Applications, Keys) tells the two route
 * plugins: its names in each dialect, its fields and filters, its operations and its two JSON
 * shapes. The logic lives once per resource (incoming-numbers.ts, applications.ts, api-keys.ts);
 * twilio-config-routes.ts and native-config-routes.ts are the same thin CRUD for all three.
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

export interface ConfigResource<T extends ConfigRecord> {
  /** SID prefix, e.g. `PN`. */
  readonly sidPrefix: string;
  readonly twilio: {
    /** Path segment under the account, e.g. `IncomingPhoneNumbers`. */
    readonly path: string;
    /** The records' key in a list page, e.g. `incoming_phone_numbers`. */
    readonly listKey: string;
    /** Accepted form keys → native field names (create and update). */
    readonly fields: Readonly<Record<string, string>>;
    /** List query filters: Twilio name → native filter name. */
    readonly filters: Readonly<Record<string, string>>;
  };
  readonly native: {
    /** Path segment under /v1, e.g. `numbers`. */
    readonly path: string;
    /** The records' key in a list page, e.g. `numbers`. */
    readonly listKey: string;
    /** OpenAPI tag and words for summaries. */
    readonly tag: string;
    readonly singular: string;
    readonly plural: string;
    /** Body properties accepted on create and update (each a string, null or an enum). */
    readonly body: Readonly<Record<string, PropertySchema>>;
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

  create(accountSid: string, input: ResourceInput): Promise<Created<T>>;
  /** Null when missing or another account's. */
  update(accountSid: string, sid: string, input: ResourceInput): Promise<T | null>;
  get(accountSid: string, sid: string): Promise<T | null>;
  /** `filters` holds only the filters given (native names). */
  list(accountSid: string, filters: Readonly<Record<string, string>>, pageSize: number, pageToken?: string): Promise<ResourcePage<T>>;
  remove(accountSid: string, sid: string): Promise<boolean>;
  /** Twilio's JSON: snake_case, RFC 2822 dates. */
  twilioJson(record: T): Record<string, unknown>;
  /** Native JSON: camelCase, ISO 8601 dates. */
  nativeJson(record: T): Record<string, unknown>;
}
