/**
 * Versioned schema for the call store. Each migration runs once, in its own transaction, and is
 * recorded in `patchbay_migrations`; a database written by a newer Patchbay (unknown version) is
 * refused rather than guessed at. Plain PostgreSQL so the clustered mode can run the same SQL.
 * Never edit a released migration: append a new one.
 */
import { StoreError } from './store-types.js';

/** The subset of PGlite (and node-postgres-like clients) the store needs. */
export interface SqlRunner {
  exec(sql: string): Promise<unknown>;
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>;
}

export interface SqlDatabase extends SqlRunner {
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// "from"/"to" are SQL keywords, hence from_addr/to_addr.
const INITIAL_SCHEMA = `
CREATE TABLE accounts (
  sid text PRIMARY KEY,
  auth_token text NOT NULL,
  friendly_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE calls (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  from_addr text NOT NULL,
  to_addr text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound-api', 'outbound-dial')),
  status text NOT NULL CHECK (status IN ('queued', 'initiated', 'ringing', 'in-progress', 'completed',
    'busy', 'failed', 'no-answer', 'canceled')),
  start_time timestamptz NOT NULL,
  answer_time timestamptz,
  end_time timestamptz,
  duration_seconds integer,
  sip_call_id text,
  sip_response_code integer,
  error_code integer,
  error_message text,
  end_reason text,
  parent_call_sid text,
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now()
);
-- Keyset paging, newest first, per account (optionally per status).
CREATE INDEX calls_account_start_idx ON calls (account_sid, start_time DESC, sid DESC);
CREATE INDEX calls_account_status_start_idx ON calls (account_sid, status, start_time DESC, sid DESC);
-- Start-up recovery looks only at unfinished calls.
CREATE INDEX calls_open_idx ON calls (status) WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress');
CREATE TABLE call_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  call_sid text NOT NULL REFERENCES calls (sid) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  type text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX call_events_call_idx ON call_events (call_sid, id);
`;

// No foreign key to calls: a recording is its own resource (Twilio keeps recordings when a call
// log is deleted), and its file must be removed by whoever removes the row.
const RECORDINGS = `
CREATE TABLE recordings (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  call_sid text NOT NULL,
  status text NOT NULL CHECK (status IN ('in-progress', 'completed', 'failed', 'absent')),
  source text NOT NULL,
  channels integer NOT NULL CHECK (channels IN (1, 2)),
  sample_rate integer NOT NULL CHECK (sample_rate BETWEEN 1000 AND 384000),
  duration_seconds integer CHECK (duration_seconds >= 0),
  start_time timestamptz NOT NULL,
  file_path text NOT NULL,
  bytes bigint CHECK (bytes >= 0),
  error_code integer,
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now()
);
-- Keyset paging, newest first, per account and per call.
CREATE INDEX recordings_account_start_idx ON recordings (account_sid, start_time DESC, sid DESC);
CREATE INDEX recordings_call_start_idx ON recordings (account_sid, call_sid, start_time DESC, sid DESC);
-- Start-up recovery looks only at unfinished recordings.
CREATE INDEX recordings_open_idx ON recordings (status) WHERE status = 'in-progress';
`;

// Settings documents: speech engines and their credentials, chosen per account.
const ACCOUNT_SPEECH_SETTINGS = `
ALTER TABLE accounts ADD COLUMN speech jsonb NOT NULL DEFAULT '{}'::jsonb;
`;

// Configuration resources (IncomingPhoneNumbers, Applications, API keys), paged newest first by
// date_created. No foreign key to accounts, like calls and recordings: the account SID is an owner
// tag checked on every access. A number may point only at an application of its own account (the
// composite key below); deleting the application clears the pointer first (application-sql.ts).
const NUMBERS_APPLICATIONS_API_KEYS = `
CREATE TABLE applications (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  friendly_name text NOT NULL,
  voice_url text,
  voice_method text NOT NULL CHECK (voice_method IN ('GET', 'POST')),
  voice_fallback_url text,
  voice_fallback_method text NOT NULL CHECK (voice_fallback_method IN ('GET', 'POST')),
  status_callback text,
  status_callback_method text NOT NULL CHECK (status_callback_method IN ('GET', 'POST')),
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT applications_account_sid_key UNIQUE (account_sid, sid)
);
CREATE INDEX applications_account_created_idx ON applications (account_sid, date_created DESC, sid DESC);
CREATE TABLE incoming_numbers (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  -- Unique across accounts: an inbound Request-URI must resolve to exactly one owner.
  phone_number text NOT NULL CONSTRAINT incoming_numbers_phone_number_key UNIQUE,
  friendly_name text NOT NULL,
  voice_application_sid text,
  voice_url text,
  voice_method text NOT NULL CHECK (voice_method IN ('GET', 'POST')),
  voice_fallback_url text,
  voice_fallback_method text NOT NULL CHECK (voice_fallback_method IN ('GET', 'POST')),
  status_callback text,
  status_callback_method text NOT NULL CHECK (status_callback_method IN ('GET', 'POST')),
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT incoming_numbers_application_fkey FOREIGN KEY (account_sid, voice_application_sid)
    REFERENCES applications (account_sid, sid)
);
CREATE INDEX incoming_numbers_account_created_idx ON incoming_numbers (account_sid, date_created DESC, sid DESC);
-- deleteApplication finds the numbers pointing at it.
CREATE INDEX incoming_numbers_application_idx ON incoming_numbers (voice_application_sid) WHERE voice_application_sid IS NOT NULL;
CREATE TABLE api_keys (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  friendly_name text NOT NULL,
  secret_sha256 text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account_created_idx ON api_keys (account_sid, date_created DESC, sid DESC);
-- Call-list filters (Twilio's To, From, ParentCallSid), each in the list's newest-first order.
CREATE INDEX calls_account_to_start_idx ON calls (account_sid, to_addr, start_time DESC, sid DESC);
CREATE INDEX calls_account_from_start_idx ON calls (account_sid, from_addr, start_time DESC, sid DESC);
CREATE INDEX calls_account_parent_start_idx ON calls (account_sid, parent_call_sid, start_time DESC, sid DESC)
  WHERE parent_call_sid IS NOT NULL;
`;

// Carriers (SIP trunks) and SIP users. A user's username is unique across the server: it is the
// registrar's key, and `client:alice` must name one user. Cross-field rules are named CHECKs so
// carrier-sql.ts can say which rule a patch broke (a patch sees only the fields it changes).
// Like numbers, a user may point only at an application of its own account.
const CARRIERS_SIP_USERS = `
CREATE TABLE carriers (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  friendly_name text NOT NULL,
  host text NOT NULL CHECK (host <> ''),
  port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  transport text NOT NULL CHECK (transport IN ('udp', 'tcp')),
  username text,
  password text,
  register boolean NOT NULL,
  register_expires integer NOT NULL CHECK (register_expires BETWEEN 60 AND 86400),
  prefixes text[] NOT NULL,
  priority integer NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  inbound_addresses text[] NOT NULL,
  from_domain text,
  tech_prefix text NOT NULL,
  enabled boolean NOT NULL,
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT carriers_credentials_check CHECK ((username IS NULL) = (password IS NULL)),
  CONSTRAINT carriers_register_check CHECK (NOT register OR username IS NOT NULL)
);
CREATE INDEX carriers_account_created_idx ON carriers (account_sid, date_created DESC, sid DESC);
-- Outbound selection reads an account's enabled carriers in priority order.
CREATE INDEX carriers_enabled_idx ON carriers (account_sid, priority, date_created, sid) WHERE enabled;
CREATE TABLE sip_users (
  sid text PRIMARY KEY,
  account_sid text NOT NULL,
  username text NOT NULL CONSTRAINT sip_users_username_key UNIQUE,
  friendly_name text NOT NULL,
  realm text NOT NULL,
  ha1_md5 text NOT NULL CHECK (ha1_md5 ~ '^[0-9a-f]{32}$'),
  ha1_sha256 text NOT NULL CHECK (ha1_sha256 ~ '^[0-9a-f]{64}$'),
  voice_application_sid text,
  voice_url text,
  voice_method text NOT NULL CHECK (voice_method IN ('GET', 'POST')),
  voice_fallback_url text,
  voice_fallback_method text NOT NULL CHECK (voice_fallback_method IN ('GET', 'POST')),
  status_callback text,
  status_callback_method text NOT NULL CHECK (status_callback_method IN ('GET', 'POST')),
  date_created timestamptz NOT NULL DEFAULT now(),
  date_updated timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sip_users_application_fkey FOREIGN KEY (account_sid, voice_application_sid)
    REFERENCES applications (account_sid, sid)
);
CREATE INDEX sip_users_account_created_idx ON sip_users (account_sid, date_created DESC, sid DESC);
-- deleteApplication finds the users pointing at it.
CREATE INDEX sip_users_application_idx ON sip_users (voice_application_sid) WHERE voice_application_sid IS NOT NULL;
`;

// SRTP policy per carrier and per SIP user (RFC 4568 SDES): optional | required | off.
const SRTP_POLICY = `
ALTER TABLE carriers ADD COLUMN srtp text NOT NULL DEFAULT 'optional' CHECK (srtp IN ('optional', 'required', 'off'));
ALTER TABLE sip_users ADD COLUMN srtp text NOT NULL DEFAULT 'optional' CHECK (srtp IN ('optional', 'required', 'off'));
`;

// Carriers that authenticate inbound calls by digest (no fixed source address): a username unique
// across carriers (INVITEs are matched by it) and only its HA1s for the realm, as for SIP users.
const CARRIER_INBOUND_DIGEST = `
ALTER TABLE carriers ADD COLUMN inbound_username text CONSTRAINT carriers_inbound_username_key UNIQUE;
ALTER TABLE carriers ADD COLUMN inbound_realm text;
ALTER TABLE carriers ADD COLUMN inbound_ha1_md5 text;
ALTER TABLE carriers ADD COLUMN inbound_ha1_sha256 text;
ALTER TABLE carriers ADD CONSTRAINT carriers_inbound_credentials_check CHECK (
  (inbound_username IS NULL) = (inbound_ha1_md5 IS NULL)
  AND (inbound_username IS NULL) = (inbound_ha1_sha256 IS NULL)
  AND (inbound_username IS NULL) = (inbound_realm IS NULL));
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: INITIAL_SCHEMA },
  { version: 2, name: 'recordings', sql: RECORDINGS },
  { version: 3, name: 'account speech settings', sql: ACCOUNT_SPEECH_SETTINGS },
  { version: 4, name: 'numbers, applications, api keys', sql: NUMBERS_APPLICATIONS_API_KEYS },
  { version: 5, name: 'carriers, sip users', sql: CARRIERS_SIP_USERS },
  { version: 6, name: 'srtp policy', sql: SRTP_POLICY },
  { version: 7, name: 'carrier inbound digest', sql: CARRIER_INBOUND_DIGEST },
];

/** Applies pending migrations in order; resolves to the versions applied by this call. */
export async function runMigrations(db: SqlDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS patchbay_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await db.query<{ version: number }>('SELECT version FROM patchbay_migrations ORDER BY version');
  const applied = new Set(rows.map((r) => r.version));
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new StoreError(
      'MIGRATION_FAILED',
      `database schema version ${Math.max(...unknown)} is newer than this Patchbay knows (${Math.max(0, ...known)}); upgrade Patchbay or use another data directory`,
    );
  }
  const done: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    try {
      await db.transaction(async (tx) => {
        await tx.exec(m.sql);
        await tx.query('INSERT INTO patchbay_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      });
    } catch (err) {
      throw new StoreError('MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
    }
    done.push(m.version);
  }
  return done;
}
