/**
 * Application SQL (TwiML Applications, `AP…`), plus the voice-settings checks and row mapping
 * that IncomingPhoneNumbers share with applications (number-sql.ts). Same `SqlRunner` dialect as
 * store-sql.ts; fields are checked before they reach SQL, the table's CHECKs are the second line.
 */
import { isSid } from '../ids.js';
import type { SqlDatabase, SqlRunner } from './migrations.js';
import { invalid, iso, selectConfigPage } from './store-sql.js';
import {
  type ApplicationPatch,
  type ApplicationRecord,
  type HttpMethodName,
  type ResourceListQuery,
  type ResourcePage,
  type StoredApplicationRecord,
  type VoiceSettings,
} from './store-types.js';

export const VOICE_COLUMN_OF: Readonly<Record<keyof VoiceSettings, string>> = {
  voiceUrl: 'voice_url',
  voiceMethod: 'voice_method',
  voiceFallbackUrl: 'voice_fallback_url',
  voiceFallbackMethod: 'voice_fallback_method',
  statusCallback: 'status_callback',
  statusCallbackMethod: 'status_callback_method',
};
const VOICE_URL_KEYS: ReadonlySet<string> = new Set(['voiceUrl', 'voiceFallbackUrl', 'statusCallback']);
const METHODS: readonly HttpMethodName[] = ['GET', 'POST'];
/** Generous sanity bounds; the API applies Twilio's own (64-character names) before this. */
const MAX_NAME = 255;
const MAX_URL = 4096;

function isHttpUrl(value: string): boolean {
  if (value.length > MAX_URL) return false;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Checks a field shared by numbers and applications. Returns false for a key it does not know, so
 * the resource's own checker goes on. URLs are absolute http(s) or null (Twilio's empty string is
 * the API's to turn into null).
 */
export function checkCommonField(resource: string, key: string, value: unknown): boolean {
  const bad = (what: string) => invalid(`${resource} field ${key} must be ${what}, got ${JSON.stringify(value)}`);
  if (key === 'friendlyName') {
    if (typeof value !== 'string' || value.length > MAX_NAME) throw bad(`a string of at most ${MAX_NAME} characters`);
    return true;
  }
  if (VOICE_URL_KEYS.has(key)) {
    if (value !== null && (typeof value !== 'string' || !isHttpUrl(value))) throw bad('an absolute http(s) URL or null');
    return true;
  }
  if (Object.hasOwn(VOICE_COLUMN_OF, key)) {
    if (!METHODS.includes(value as HttpMethodName)) throw bad('GET or POST');
    return true;
  }
  if (key === 'accountSid') {
    if (typeof value !== 'string' || !isSid('AC', value)) throw bad('an account SID');
    return true;
  }
  return false;
}

/**
 * `SET` clauses for the patchable keys present in `patch` (checked by `check`), appended to
 * `params`; always bumps date_updated. Keys outside `keys` are ignored, like undefined ones.
 */
export function buildSets<K extends string>(
  keys: readonly K[],
  columnOf: Readonly<Record<K, string>>,
  patch: Partial<Record<K, unknown>>,
  check: (key: K, value: unknown) => void,
  params: unknown[],
): string {
  const sets: string[] = [];
  for (const key of keys) {
    const value = patch[key];
    if (value === undefined) continue;
    check(key, value);
    params.push(value);
    sets.push(`${columnOf[key]} = $${params.length}`);
  }
  sets.push('date_updated = now()');
  return sets.join(', ');
}

export interface VoiceRow {
  voice_url: string | null;
  voice_method: HttpMethodName;
  voice_fallback_url: string | null;
  voice_fallback_method: HttpMethodName;
  status_callback: string | null;
  status_callback_method: HttpMethodName;
  date_created: Date | string;
  date_updated: Date | string;
}

export function rowToVoice(r: VoiceRow): VoiceSettings {
  return {
    voiceUrl: r.voice_url,
    voiceMethod: r.voice_method,
    voiceFallbackUrl: r.voice_fallback_url,
    voiceFallbackMethod: r.voice_fallback_method,
    statusCallback: r.status_callback,
    statusCallbackMethod: r.status_callback_method,
  };
}

const COLUMN_OF: Readonly<Record<keyof ApplicationRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  friendlyName: 'friendly_name',
  ...VOICE_COLUMN_OF,
};
const KEYS = Object.keys(COLUMN_OF) as (keyof ApplicationRecord)[];
const PATCH_KEYS = KEYS.filter((k) => k !== 'sid' && k !== 'accountSid');
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;

interface ApplicationRow extends VoiceRow {
  sid: string;
  account_sid: string;
  friendly_name: string;
}

function rowToApplication(r: ApplicationRow): StoredApplicationRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    friendlyName: r.friendly_name,
    ...rowToVoice(r),
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

function checkField(key: keyof ApplicationRecord, value: unknown): void {
  if (checkCommonField('application', key, value)) return;
  if (key === 'sid' && (typeof value !== 'string' || !isSid('AP', value))) {
    throw invalid(`application field sid must be an application SID (AP + 32 hex), got ${JSON.stringify(value)}`);
  }
}

export async function insertApplication(db: SqlRunner, rec: ApplicationRecord): Promise<StoredApplicationRecord> {
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`application field ${key} is missing`);
    checkField(key, rec[key]);
  }
  const { rows } = await db.query<ApplicationRow>(
    `INSERT INTO applications (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})
     RETURNING ${COLUMNS_SQL}`,
    KEYS.map((k) => rec[k]),
  );
  return rowToApplication(rows[0] as ApplicationRow);
}

export async function patchApplication(db: SqlRunner, accountSid: string, sid: string, patch: ApplicationPatch): Promise<StoredApplicationRecord | null> {
  const params: unknown[] = [sid, accountSid];
  const sets = buildSets(PATCH_KEYS, COLUMN_OF, patch, checkField, params);
  const { rows } = await db.query<ApplicationRow>(
    `UPDATE applications SET ${sets} WHERE sid = $1 AND account_sid = $2 RETURNING ${COLUMNS_SQL}`,
    params,
  );
  return rows[0] ? rowToApplication(rows[0]) : null;
}

export async function selectApplication(db: SqlRunner, accountSid: string, sid: string): Promise<StoredApplicationRecord | null> {
  const { rows } = await db.query<ApplicationRow>(`SELECT ${COLUMNS_SQL} FROM applications WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToApplication(rows[0]) : null;
}

export function selectApplications(db: SqlRunner, q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredApplicationRecord>> {
  return selectConfigPage(db, q, { table: 'applications', columnsSql: COLUMNS_SQL, filterColumns: { friendlyName: 'friendly_name' }, toRecord: rowToApplication });
}

/** Numbers and SIP users pointing at the application fall back to their own voice settings, in the same transaction. */
export async function removeApplication(db: SqlDatabase, accountSid: string, sid: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query('SELECT 1 FROM applications WHERE sid = $1 AND account_sid = $2 FOR UPDATE', [sid, accountSid]);
    if (rows.length === 0) return false;
    for (const table of ['incoming_numbers', 'sip_users']) {
      await tx.query(
        `UPDATE ${table} SET voice_application_sid = NULL, date_updated = now() WHERE account_sid = $1 AND voice_application_sid = $2`,
        [accountSid, sid],
      );
    }
    await tx.query('DELETE FROM applications WHERE sid = $1', [sid]);
    return true;
  });
}
