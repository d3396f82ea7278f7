/**
 * Account SQL: credentials (ensured at start-up from configuration) and per-account settings
 * such as the speech engines and their keys. Settings are one JSON document per concern, so a new
 * setting needs no migration; their meaning is validated by the layer that owns it (the API).
 */
import { isSid, newAuthToken, newSid } from '../ids.js';
import type { SqlDatabase, SqlRunner } from './migrations.js';
import { invalid, iso } from './store-sql.js';
import { StoreError, type Account, type AccountSpeechSettings } from './store-types.js';

interface AccountRow {
  sid: string;
  auth_token: string;
  friendly_name: string;
  created_at: Date | string;
}

const ACCOUNT_COLUMNS = 'sid, auth_token, friendly_name, created_at';

function rowToAccount(r: AccountRow): Account {
  return { sid: r.sid, authToken: r.auth_token, friendlyName: r.friendly_name, createdAt: iso(r.created_at) };
}

export async function selectAccount(db: SqlRunner, sid: string): Promise<Account | null> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1`, [sid]);
  return rows[0] ? rowToAccount(rows[0]) : null;
}

export async function ensureAccount(
  db: SqlDatabase,
  opts: { sid?: string; authToken?: string },
): Promise<{ account: Account; created: boolean }> {
  if (opts.sid !== undefined && !isSid('AC', opts.sid)) throw invalid(`account SID must match ^AC[0-9a-fA-F]{32}$, got "${opts.sid}"`);
  if (opts.authToken !== undefined && opts.authToken.length === 0) throw invalid('auth token must not be empty');
  return db.transaction(async (tx) => {
    const found = opts.sid !== undefined
      ? await tx.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1 FOR UPDATE`, [opts.sid])
      : await tx.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, sid LIMIT 1 FOR UPDATE`);
    const existing = found.rows[0];
    if (existing) {
      if (opts.authToken !== undefined && opts.authToken !== existing.auth_token) {
        await tx.query('UPDATE accounts SET auth_token = $2 WHERE sid = $1', [existing.sid, opts.authToken]);
        existing.auth_token = opts.authToken;
      }
      return { account: rowToAccount(existing), created: false };
    }
    const { rows } = await tx.query<AccountRow>(
      `INSERT INTO accounts (sid, auth_token, friendly_name) VALUES ($1, $2, $3) RETURNING ${ACCOUNT_COLUMNS}`,
      [opts.sid ?? newSid('AC'), opts.authToken ?? newAuthToken(), 'Patchbay account'],
    );
    return { account: rowToAccount(rows[0] as AccountRow), created: true };
  });
}

/** Null when there is no such account; `{}` when it has chosen nothing (server defaults apply). */
export async function selectSpeechSettings(db: SqlRunner, accountSid: string): Promise<AccountSpeechSettings | null> {
  const { rows } = await db.query<{ speech: AccountSpeechSettings }>('SELECT speech FROM accounts WHERE sid = $1', [accountSid]);
  return rows[0] ? rows[0].speech : null;
}

export async function replaceSpeechSettings(db: SqlRunner, accountSid: string, settings: AccountSpeechSettings): Promise<void> {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw invalid('speech settings must be an object');
  const res = await db.query('UPDATE accounts SET speech = $2::jsonb WHERE sid = $1', [accountSid, JSON.stringify(settings)]);
  if ((res.affectedRows ?? 0) === 0) throw new StoreError('ACCOUNT_NOT_FOUND', `no account ${accountSid}`);
}
