/**
 * SIP user SQL (`US…`): the accounts softphones register with. A username is unique across the
 * server (the registrar looks users up by it alone), so a clash with any account is
 * 'DUPLICATE_USERNAME'. Only digest HA1 values are stored, never a password. Voice settings and
 * the application pointer behave as a number's (number-sql.ts).
 */
import { isSid } from '../ids.js';
import type { SqlRunner } from './migrations.js';
import { buildSets, checkCommonField, rowToVoice, VOICE_COLUMN_OF, type VoiceRow } from './application-sql.js';
import { invalid, iso, selectConfigPage } from './store-sql.js';
import {
  SRTP_POLICY_NAMES,
  type SrtpPolicyName,
  StoreError,
  type ResourceListQuery,
  type ResourcePage,
  type SipUserPatch,
  type SipUserRecord,
  type StoredSipUserRecord,
} from './store-types.js';

const COLUMN_OF: Readonly<Record<keyof SipUserRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  username: 'username',
  friendlyName: 'friendly_name',
  realm: 'realm',
  ha1Md5: 'ha1_md5',
  ha1Sha256: 'ha1_sha256',
  voiceApplicationSid: 'voice_application_sid',
  srtp: 'srtp',
  ...VOICE_COLUMN_OF,
};
const KEYS = Object.keys(COLUMN_OF) as (keyof SipUserRecord)[];
const PATCH_KEYS = KEYS.filter((k) => k !== 'sid' && k !== 'accountSid');
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;
const TABLE = 'sip_users';

/**
 * A username: unreserved characters of a SIP URI user part (RFC 3261 §25.1) that need no escaping
 * anywhere they appear (`client:alice`, `sip:alice@host`, a digest username quoted-string).
 */
export const SIP_USERNAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** A realm is sent in a quoted-string (RFC 2617 §3.2.1): printable, no quote or backslash. */
const REALM_RE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,255}$/;

interface SipUserRow extends VoiceRow {
  sid: string;
  account_sid: string;
  username: string;
  friendly_name: string;
  realm: string;
  ha1_md5: string;
  ha1_sha256: string;
  voice_application_sid: string | null;
  srtp: SrtpPolicyName;
}

function rowToSipUser(r: SipUserRow): StoredSipUserRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    username: r.username,
    friendlyName: r.friendly_name,
    realm: r.realm,
    ha1Md5: r.ha1_md5,
    ha1Sha256: r.ha1_sha256,
    voiceApplicationSid: r.voice_application_sid,
    srtp: r.srtp,
    ...rowToVoice(r),
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

function checkField(key: keyof SipUserRecord, value: unknown): void {
  if (checkCommonField('sip user', key, value)) return;
  const bad = (what: string) => invalid(`sip user field ${key} must be ${what}, got ${JSON.stringify(value)}`);
  switch (key) {
    case 'sid':
      if (typeof value !== 'string' || !isSid('US', value)) throw bad('a SIP user SID (US + 32 hex)');
      return;
    case 'username':
      if (typeof value !== 'string' || !SIP_USERNAME_RE.test(value)) throw bad('1-64 of A-Z a-z 0-9 . _ -');
      return;
    case 'realm':
      if (typeof value !== 'string' || !REALM_RE.test(value)) throw bad('1-255 printable characters without " or \\');
      return;
    case 'ha1Md5':
      // Lower-case hex, the form digest computations compare against.
      if (typeof value !== 'string' || !/^[0-9a-f]{32}$/.test(value)) throw bad('32 lower-case hex digits');
      return;
    case 'ha1Sha256':
      if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw bad('64 lower-case hex digits');
      return;
    case 'voiceApplicationSid':
      if (value !== null && (typeof value !== 'string' || !isSid('AP', value))) throw bad('an application SID or null');
      return;
    case 'srtp':
      if (!(SRTP_POLICY_NAMES as readonly unknown[]).includes(value)) throw bad('optional, required or off');
      return;
  }
}

/** Maps the constraint a write tripped over to what the caller did wrong. */
function sipUserError(err: unknown, username: unknown, applicationSid: unknown): unknown {
  const constraint = (err as { constraint?: unknown }).constraint;
  if (constraint === 'sip_users_username_key') {
    return new StoreError('DUPLICATE_USERNAME', `username ${JSON.stringify(username)} is already in use`);
  }
  if (constraint === 'sip_users_application_fkey') {
    return invalid(`sip user field voiceApplicationSid: no application ${JSON.stringify(applicationSid)} in this account`);
  }
  return err;
}

export async function insertSipUser(db: SqlRunner, given: SipUserRecord): Promise<StoredSipUserRecord> {
  const rec: SipUserRecord = { ...given, srtp: given.srtp ?? 'optional' };
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`sip user field ${key} is missing`);
    checkField(key, rec[key]);
  }
  try {
    const { rows } = await db.query<SipUserRow>(
      `INSERT INTO sip_users (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})
       RETURNING ${COLUMNS_SQL}`,
      KEYS.map((k) => rec[k]),
    );
    return rowToSipUser(rows[0] as SipUserRow);
  } catch (err) {
    throw sipUserError(err, rec.username, rec.voiceApplicationSid);
  }
}

export async function patchSipUser(db: SqlRunner, accountSid: string, sid: string, patch: SipUserPatch): Promise<StoredSipUserRecord | null> {
  const params: unknown[] = [sid, accountSid];
  const sets = buildSets(PATCH_KEYS, COLUMN_OF, patch, checkField, params);
  try {
    const { rows } = await db.query<SipUserRow>(`UPDATE sip_users SET ${sets} WHERE sid = $1 AND account_sid = $2 RETURNING ${COLUMNS_SQL}`, params);
    return rows[0] ? rowToSipUser(rows[0]) : null;
  } catch (err) {
    throw sipUserError(err, patch.username, patch.voiceApplicationSid);
  }
}

export async function selectSipUser(db: SqlRunner, accountSid: string, sid: string): Promise<StoredSipUserRecord | null> {
  const { rows } = await db.query<SipUserRow>(`SELECT ${COLUMNS_SQL} FROM sip_users WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToSipUser(rows[0]) : null;
}

/** The registrar's lookup: whichever account owns this exact (case-sensitive) username. */
export async function findSipUserByUsername(db: SqlRunner, username: string): Promise<StoredSipUserRecord | null> {
  if (typeof username !== 'string') throw new StoreError('INVALID_QUERY', 'username must be a string');
  const { rows } = await db.query<SipUserRow>(`SELECT ${COLUMNS_SQL} FROM sip_users WHERE username = $1`, [username]);
  return rows[0] ? rowToSipUser(rows[0]) : null;
}

export function selectSipUsers(db: SqlRunner, q: ResourceListQuery & { username?: string; friendlyName?: string }): Promise<ResourcePage<StoredSipUserRecord>> {
  return selectConfigPage(db, q, { table: TABLE, columnsSql: COLUMNS_SQL, filterColumns: { username: 'username', friendlyName: 'friendly_name' }, toRecord: rowToSipUser });
}

export async function removeSipUser(db: SqlRunner, accountSid: string, sid: string): Promise<boolean> {
  const res = await db.query('DELETE FROM sip_users WHERE sid = $1 AND account_sid = $2', [sid, accountSid]);
  return (res.affectedRows ?? 0) > 0;
}
