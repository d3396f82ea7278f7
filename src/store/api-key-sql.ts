/**
 * API key SQL (`SK…`): Basic-auth credentials for one account. Only the secret's SHA-256 (lower-
 * case hex) is stored; the API shows the secret once, at creation, and compares hashes after.
 */
import { isSid } from '../ids.js';
import type { SqlRunner } from './migrations.js';
import { checkCommonField } from './application-sql.js';
import { invalid, iso, selectNewestFirst } from './store-sql.js';
import type { ApiKeyRecord, ResourceListQuery, ResourcePage, StoredApiKeyRecord } from './store-types.js';

const COLUMN_OF: Readonly<Record<keyof ApiKeyRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  friendlyName: 'friendly_name',
  secretSha256: 'secret_sha256',
};
const KEYS = Object.keys(COLUMN_OF) as (keyof ApiKeyRecord)[];
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;

interface ApiKeyRow {
  sid: string;
  account_sid: string;
  friendly_name: string;
  secret_sha256: string;
  date_created: Date | string;
  date_updated: Date | string;
}

function rowToApiKey(r: ApiKeyRow): StoredApiKeyRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    friendlyName: r.friendly_name,
    secretSha256: r.secret_sha256,
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

function checkField(key: keyof ApiKeyRecord, value: unknown): void {
  if (checkCommonField('api key', key, value)) return;
  const bad = (what: string) => invalid(`api key field ${key} must be ${what}`);
  if (key === 'sid' && (typeof value !== 'string' || !isSid('SK', value))) throw bad(`an API key SID (SK + 32 hex), got ${JSON.stringify(value)}`);
  // The value is not echoed: even a malformed hash is close to a credential.
  if (key === 'secretSha256' && (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value))) throw bad('a SHA-256 in 64 lower-case hex digits');
}

export async function insertApiKey(db: SqlRunner, rec: ApiKeyRecord): Promise<StoredApiKeyRecord> {
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`api key field ${key} is missing`);
    checkField(key, rec[key]);
  }
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})
     RETURNING ${COLUMNS_SQL}`,
    KEYS.map((k) => rec[k]),
  );
  return rowToApiKey(rows[0] as ApiKeyRow);
}

/** Authentication: the key with this SID, whichever account owns it. */
export async function findApiKeyBySid(db: SqlRunner, sid: string): Promise<StoredApiKeyRecord | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS_SQL} FROM api_keys WHERE sid = $1`, [sid]);
  return rows[0] ? rowToApiKey(rows[0]) : null;
}

export async function selectApiKey(db: SqlRunner, accountSid: string, sid: string): Promise<StoredApiKeyRecord | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS_SQL} FROM api_keys WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToApiKey(rows[0]) : null;
}

/** Only the name changes: a new secret is a new key. */
export async function patchApiKey(db: SqlRunner, accountSid: string, sid: string, patch: { friendlyName: string }): Promise<StoredApiKeyRecord | null> {
  checkField('friendlyName', patch.friendlyName);
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET friendly_name = $3, date_updated = now() WHERE sid = $1 AND account_sid = $2 RETURNING ${COLUMNS_SQL}`,
    [sid, accountSid, patch.friendlyName],
  );
  return rows[0] ? rowToApiKey(rows[0]) : null;
}

export async function selectApiKeys(db: SqlRunner, q: ResourceListQuery): Promise<ResourcePage<StoredApiKeyRecord>> {
  const { rows, nextPageToken } = await selectNewestFirst<ApiKeyRow>(db, {
    table: 'api_keys',
    orderBy: 'date_created',
    columnsSql: COLUMNS_SQL,
    accountSid: q.accountSid,
    filters: {},
    pageSize: q.pageSize,
    ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
  });
  return { items: rows.map(rowToApiKey), nextPageToken };
}

export async function removeApiKey(db: SqlRunner, accountSid: string, sid: string): Promise<boolean> {
  const res = await db.query('DELETE FROM api_keys WHERE sid = $1 AND account_sid = $2', [sid, accountSid]);
  return (res.affectedRows ?? 0) > 0;
}
