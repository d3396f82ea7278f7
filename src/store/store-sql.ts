/**
 * The call-store SQL, written against the small `SqlRunner` interface so the embedded PGlite
 * worker and a future PostgreSQL store share one dialect. Rows are mapped to the camelCase
 * records of store-types.ts; timestamps leave as ISO 8601 strings.
 */
import type { SqlRunner } from './migrations.js';
import {
  CALL_STATUSES,
  StoreError,
  type CallEvent,
  type CallListQuery,
  type CallPage,
  type CallRecord,
  type StoredCallRecord,
} from './store-types.js';

/** An event whose detail was serialised on the caller's thread (cheap to post, errors stay local). */
export interface SerializedCallEvent {
  at: string;
  type: string;
  detailJson: string;
}

const COLUMN_OF: Readonly<Record<keyof CallRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  from: 'from_addr',
  to: 'to_addr',
  direction: 'direction',
  status: 'status',
  startTime: 'start_time',
  answerTime: 'answer_time',
  endTime: 'end_time',
  durationSeconds: 'duration_seconds',
  sipCallId: 'sip_call_id',
  sipResponseCode: 'sip_response_code',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  endReason: 'end_reason',
  parentCallSid: 'parent_call_sid',
};
const RECORD_KEYS = Object.keys(COLUMN_OF) as (keyof CallRecord)[];
const TIME_KEYS: ReadonlySet<keyof CallRecord> = new Set(['startTime', 'answerTime', 'endTime']);
const INT_KEYS: ReadonlySet<keyof CallRecord> = new Set(['durationSeconds', 'sipResponseCode', 'errorCode']);
const NULLABLE_KEYS: ReadonlySet<keyof CallRecord> = new Set([
  'answerTime', 'endTime', 'durationSeconds', 'sipCallId', 'sipResponseCode', 'errorCode', 'errorMessage', 'endReason', 'parentCallSid',
]);
const DIRECTIONS = ['inbound', 'outbound-api', 'outbound-dial'];
const OPEN_STATUSES_SQL = `('queued', 'initiated', 'ringing', 'in-progress')`;
const CALL_COLUMNS_SQL = `${RECORD_KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;

export function invalid(message: string): StoreError {
  return new StoreError('INVALID_RECORD', message);
}

function isIsoTime(v: unknown): v is string {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

/** Checks one field's value against the record's type; the DB constraints are the second line. */
function checkField(key: keyof CallRecord, value: unknown): void {
  if (value === null) {
    if (!NULLABLE_KEYS.has(key)) throw invalid(`call field ${key} must not be null`);
    return;
  }
  if (TIME_KEYS.has(key)) {
    if (!isIsoTime(value)) throw invalid(`call field ${key} must be an ISO 8601 time, got ${JSON.stringify(value)}`);
  } else if (INT_KEYS.has(key)) {
    if (!Number.isInteger(value)) throw invalid(`call field ${key} must be an integer, got ${JSON.stringify(value)}`);
  } else if (typeof value !== 'string') {
    throw invalid(`call field ${key} must be a string`);
  } else if (key === 'status' && !CALL_STATUSES.includes(value as CallRecord['status'])) {
    throw invalid(`unknown call status "${value}"`);
  } else if (key === 'direction' && !DIRECTIONS.includes(value)) {
    throw invalid(`unknown call direction "${value}"`);
  }
}

/** Maps driver errors to coded StoreErrors (SQLSTATE codes, PostgreSQL Appendix A). */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === '23505') return new StoreError('DUPLICATE_SID', message);
  if (code === '23503') return new StoreError('CALL_NOT_FOUND', message);
  if (code === '23514' || code === '23502' || (typeof code === 'string' && code.startsWith('22'))) return invalid(message);
  return new StoreError('DB_ERROR', message);
}

export async function insertCall(db: SqlRunner, rec: CallRecord): Promise<void> {
  for (const key of RECORD_KEYS) {
    if (rec[key] === undefined) throw invalid(`call field ${key} is missing`);
    checkField(key, rec[key]);
  }
  const placeholders = RECORD_KEYS.map((_, i) => `$${i + 1}`).join(', ');
  await db.query(
    `INSERT INTO calls (${RECORD_KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${placeholders})`,
    RECORD_KEYS.map((k) => rec[k]),
  );
}

export async function patchCall(db: SqlRunner, sid: string, patch: Partial<CallRecord>): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [sid];
  for (const key of RECORD_KEYS) {
    // The SID is the identity, not a field to change; unknown keys are ignored like undefined ones.
    if (key === 'sid' || patch[key] === undefined) continue;
    checkField(key, patch[key]);
    params.push(patch[key]);
    sets.push(`${COLUMN_OF[key]} = $${params.length}`);
  }
  sets.push('date_updated = now()');
  const res = await db.query(`UPDATE calls SET ${sets.join(', ')} WHERE sid = $1`, params);
  if (res.affectedRows === 0) throw new StoreError('CALL_NOT_FOUND', `no call ${sid}`);
}

export async function insertEvents(db: SqlRunner, sid: string, events: SerializedCallEvent[]): Promise<void> {
  if (events.length === 0) return;
  const params: unknown[] = [sid];
  const rows: string[] = [];
  for (const e of events) {
    params.push(e.at, e.type, e.detailJson);
    const n = params.length;
    rows.push(`($1, $${n - 2}::timestamptz, $${n - 1}, $${n}::jsonb)`);
  }
  // One statement keeps a multi-event append atomic and in order (ids are assigned in row order).
  await db.query(`INSERT INTO call_events (call_sid, at, type, detail) VALUES ${rows.join(', ')}`, params);
}

interface CallRow {
  sid: string;
  account_sid: string;
  from_addr: string;
  to_addr: string;
  direction: CallRecord['direction'];
  status: CallRecord['status'];
  start_time: Date | string;
  answer_time: Date | string | null;
  end_time: Date | string | null;
  duration_seconds: number | null;
  sip_call_id: string | null;
  sip_response_code: number | null;
  error_code: number | null;
  error_message: string | null;
  end_reason: string | null;
  parent_call_sid: string | null;
  date_created: Date | string;
  date_updated: Date | string;
}

export function iso(v: Date | string): string {
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

function isoOrNull(v: Date | string | null): string | null {
  return v === null ? null : iso(v);
}

function rowToCall(r: CallRow): StoredCallRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    from: r.from_addr,
    to: r.to_addr,
    direction: r.direction,
    status: r.status,
    startTime: iso(r.start_time),
    answerTime: isoOrNull(r.answer_time),
    endTime: isoOrNull(r.end_time),
    durationSeconds: r.duration_seconds,
    sipCallId: r.sip_call_id,
    sipResponseCode: r.sip_response_code,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    endReason: r.end_reason,
    parentCallSid: r.parent_call_sid,
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

export async function selectCall(
  db: SqlRunner,
  accountSid: string,
  sid: string,
): Promise<(StoredCallRecord & { events: CallEvent[] }) | null> {
  const { rows } = await db.query<CallRow>(`SELECT ${CALL_COLUMNS_SQL} FROM calls WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  const row = rows[0];
  if (!row) return null;
  const ev = await db.query<{ at: Date | string; type: string; detail: Record<string, unknown> }>(
    'SELECT at, type, detail FROM call_events WHERE call_sid = $1 ORDER BY id',
    [sid],
  );
  return { ...rowToCall(row), events: ev.rows.map((e) => ({ at: iso(e.at), type: e.type, detail: e.detail })) };
}

// The cursor carries start_time as PostgreSQL's own text form (microsecond precision) so the
// keyset comparison is exact even for times finer than a JS millisecond.
const CURSOR_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

export function encodePageToken(startTimeText: string, sid: string): string {
  return 'PT' + Buffer.from(JSON.stringify([startTimeText, sid]), 'utf8').toString('base64url');
}

export function decodePageToken(token: string): { startTimeText: string; sid: string } {
  const bad = () => new StoreError('INVALID_PAGE_TOKEN', 'pageToken is not a token returned by this server');
  if (!token.startsWith('PT') || token.length > 200) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.slice(2), 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw bad();
  const [t, s] = parsed as unknown[];
  if (typeof t !== 'string' || typeof s !== 'string' || !CURSOR_TIME_RE.test(t) || !/^[A-Za-z0-9]{1,64}$/.test(s)) throw bad();
  return { startTimeText: t, sid: s };
}

/**
 * One page of `table`, newest first by (start_time, sid), using the keyset cursor above. `filters`
 * are extra `column = value` conditions (beside the account). Rows come back raw; callers map them.
 */
export async function selectNewestFirst<Row>(
  db: SqlRunner,
  q: { table: 'calls' | 'recordings'; columnsSql: string; accountSid: string; filters: Record<string, unknown>; pageSize: number; pageToken?: string },
): Promise<{ rows: Row[]; nextPageToken: string | null }> {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > 1000) {
    throw new StoreError('INVALID_QUERY', `pageSize must be an integer 1-1000, got ${q.pageSize}`);
  }
  const where = ['account_sid = $1'];
  const params: unknown[] = [q.accountSid];
  for (const [column, value] of Object.entries(q.filters)) {
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  if (q.pageToken !== undefined) {
    const cursor = decodePageToken(q.pageToken);
    params.push(cursor.startTimeText, cursor.sid);
    where.push(`(start_time, sid) < ($${params.length - 1}::timestamptz, $${params.length}::text)`);
  }
  params.push(q.pageSize + 1); // one extra row tells whether a next page exists
  const { rows } = await db.query<Row & { sid: string; start_cursor: string }>(
    `SELECT ${q.columnsSql}, start_time::text AS start_cursor FROM ${q.table} WHERE ${where.join(' AND ')}
     ORDER BY start_time DESC, sid DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, q.pageSize);
  const last = page[page.length - 1];
  return { rows: page, nextPageToken: rows.length > q.pageSize && last ? encodePageToken(last.start_cursor, last.sid) : null };
}

export async function selectCalls(db: SqlRunner, q: CallListQuery): Promise<CallPage> {
  if (q.status !== undefined && !CALL_STATUSES.includes(q.status)) {
    throw new StoreError('INVALID_QUERY', `unknown call status "${String(q.status)}"`);
  }
  const { rows, nextPageToken } = await selectNewestFirst<CallRow>(db, {
    table: 'calls',
    columnsSql: CALL_COLUMNS_SQL,
    accountSid: q.accountSid,
    filters: q.status !== undefined ? { status: q.status } : {},
    pageSize: q.pageSize,
    ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
  });
  return { calls: rows.map(rowToCall), nextPageToken };
}

export async function closeInterrupted(db: SqlRunner, reason: string, endTime: string): Promise<number> {
  if (!isIsoTime(endTime)) throw invalid(`endTime must be an ISO 8601 time, got ${JSON.stringify(endTime)}`);
  // One statement: close every open call and note it on each call's timeline.
  const res = await db.query(
    `WITH closed AS (
       UPDATE calls SET status = 'failed', end_reason = $1::text,
         end_time = COALESCE(end_time, $2::timestamptz),
         duration_seconds = COALESCE(duration_seconds, CASE WHEN answer_time IS NULL THEN NULL
           ELSE GREATEST(0, floor(extract(epoch FROM (COALESCE(end_time, $2::timestamptz) - answer_time))))::integer END),
         date_updated = now()
       WHERE status IN ${OPEN_STATUSES_SQL}
       RETURNING sid)
     INSERT INTO call_events (call_sid, at, type, detail)
     SELECT sid, $2::timestamptz, 'status', jsonb_build_object('status', 'failed', 'reason', $1::text) FROM closed`,
    [reason, endTime],
  );
  return res.affectedRows ?? 0;
}
