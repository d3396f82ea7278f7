/**
 * IncomingPhoneNumber SQL (`PN…`): the called identities inbound routing resolves. A phone number
 * is unique across the whole server (one Request-URI, one owner), so a clash with any account is
 * 'DUPLICATE_NUMBER'; a number may point only at an application of its own account.
 */
import { isSid } from '../ids.js';
import type { SqlRunner } from './migrations.js';
import { buildSets, checkCommonField, rowToVoice, VOICE_COLUMN_OF, type VoiceRow } from './application-sql.js';
import { invalid, iso, selectConfigPage } from './store-sql.js';
import {
  StoreError,
  type IncomingNumberPatch,
  type IncomingNumberRecord,
  type ResourceListQuery,
  type ResourcePage,
  type StoredIncomingNumberRecord,
} from './store-types.js';

const COLUMN_OF: Readonly<Record<keyof IncomingNumberRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  phoneNumber: 'phone_number',
  friendlyName: 'friendly_name',
  voiceApplicationSid: 'voice_application_sid',
  ...VOICE_COLUMN_OF,
};
const KEYS = Object.keys(COLUMN_OF) as (keyof IncomingNumberRecord)[];
const PATCH_KEYS = KEYS.filter((k) => k !== 'sid' && k !== 'accountSid');
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;

/**
 * E.164 or a SIP user part (RFC 3261 §25.1: unreserved, user-unreserved and %HH escapes), which
 * is what an inbound Request-URI's user can be matched against. No spaces, no '@' or ':'.
 */
const PHONE_NUMBER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const MAX_PHONE_NUMBER = 128;

interface NumberRow extends VoiceRow {
  sid: string;
  account_sid: string;
  phone_number: string;
  friendly_name: string;
  voice_application_sid: string | null;
}

function rowToNumber(r: NumberRow): StoredIncomingNumberRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    phoneNumber: r.phone_number,
    friendlyName: r.friendly_name,
    voiceApplicationSid: r.voice_application_sid,
    ...rowToVoice(r),
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

function checkField(key: keyof IncomingNumberRecord, value: unknown): void {
  if (checkCommonField('number', key, value)) return;
  const bad = (what: string) => invalid(`number field ${key} must be ${what}, got ${JSON.stringify(value)}`);
  switch (key) {
    case 'sid':
      if (typeof value !== 'string' || !isSid('PN', value)) throw bad('a number SID (PN + 32 hex)');
      return;
    case 'phoneNumber':
      if (typeof value !== 'string' || value.length > MAX_PHONE_NUMBER || !PHONE_NUMBER_RE.test(value)) {
        throw bad('an E.164 number or a SIP user part');
      }
      return;
    case 'voiceApplicationSid':
      if (value !== null && (typeof value !== 'string' || !isSid('AP', value))) throw bad('an application SID or null');
      return;
  }
}

/** Maps the constraint a write tripped over to what the caller did wrong. */
function numberError(err: unknown, phoneNumber: unknown, applicationSid: unknown): unknown {
  const constraint = (err as { constraint?: unknown }).constraint;
  if (constraint === 'incoming_numbers_phone_number_key') {
    return new StoreError('DUPLICATE_NUMBER', `phone number ${JSON.stringify(phoneNumber)} is already in use`);
  }
  if (constraint === 'incoming_numbers_application_fkey') {
    return invalid(`number field voiceApplicationSid: no application ${JSON.stringify(applicationSid)} in this account`);
  }
  return err;
}

export async function insertNumber(db: SqlRunner, rec: IncomingNumberRecord): Promise<StoredIncomingNumberRecord> {
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`number field ${key} is missing`);
    checkField(key, rec[key]);
  }
  try {
    const { rows } = await db.query<NumberRow>(
      `INSERT INTO incoming_numbers (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})
       RETURNING ${COLUMNS_SQL}`,
      KEYS.map((k) => rec[k]),
    );
    return rowToNumber(rows[0] as NumberRow);
  } catch (err) {
    throw numberError(err, rec.phoneNumber, rec.voiceApplicationSid);
  }
}

export async function patchNumber(db: SqlRunner, accountSid: string, sid: string, patch: IncomingNumberPatch): Promise<StoredIncomingNumberRecord | null> {
  const params: unknown[] = [sid, accountSid];
  const sets = buildSets(PATCH_KEYS, COLUMN_OF, patch, checkField, params);
  try {
    const { rows } = await db.query<NumberRow>(
      `UPDATE incoming_numbers SET ${sets} WHERE sid = $1 AND account_sid = $2 RETURNING ${COLUMNS_SQL}`,
      params,
    );
    return rows[0] ? rowToNumber(rows[0]) : null;
  } catch (err) {
    throw numberError(err, patch.phoneNumber, patch.voiceApplicationSid);
  }
}

export async function selectNumber(db: SqlRunner, accountSid: string, sid: string): Promise<StoredIncomingNumberRecord | null> {
  const { rows } = await db.query<NumberRow>(`SELECT ${COLUMNS_SQL} FROM incoming_numbers WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToNumber(rows[0]) : null;
}

/** Inbound routing: whichever account owns this exact number. */
export async function findNumberByPhone(db: SqlRunner, phoneNumber: string): Promise<StoredIncomingNumberRecord | null> {
  if (typeof phoneNumber !== 'string') throw new StoreError('INVALID_QUERY', 'phoneNumber must be a string');
  const { rows } = await db.query<NumberRow>(`SELECT ${COLUMNS_SQL} FROM incoming_numbers WHERE phone_number = $1`, [phoneNumber]);
  return rows[0] ? rowToNumber(rows[0]) : null;
}

export function selectNumbers(db: SqlRunner, q: ResourceListQuery & { phoneNumber?: string; friendlyName?: string }): Promise<ResourcePage<StoredIncomingNumberRecord>> {
  return selectConfigPage(db, q, { table: 'incoming_numbers', columnsSql: COLUMNS_SQL, filterColumns: { phoneNumber: 'phone_number', friendlyName: 'friendly_name' }, toRecord: rowToNumber });
}

export async function removeNumber(db: SqlRunner, accountSid: string, sid: string): Promise<boolean> {
  const res = await db.query('DELETE FROM incoming_numbers WHERE sid = $1 AND account_sid = $2', [sid, accountSid]);
  return (res.affectedRows ?? 0) > 0;
}
