/**
 * The call-store SQL, written against the small `SqlRunner` interface so the embedded PGlite
 * worker and a future PostgreSQL store share one dialect. Rows are mapped to the camelCase
 * records of store-types.ts; timestamps leave as ISO 8601 strings.
 */
import type { SqlDatabase, SqlRunner } from './migrations.js';
import {
  CALL_STATUSES,
  StoreError,
  TERMINAL_CALL_STATUSES,
  type CallEvent,
  type CallListQuery,
  type CallPage,
  type CallRecord,
  type ResourceListQuery,
  type ResourcePage,
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

// The cursor carries the ordering time (start_time, or date_created for configuration resources)
// as PostgreSQL's own text form (microsecond precision) so the keyset comparison is exact even for
// times finer than a JS millisecond.
const CURSOR_TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

export function encodePageToken(timeText: string, sid: string): string {
  return 'PT' + Buffer.from(JSON.stringify([timeText, sid]), 'utf8').toString('base64url');
}

export function decodePageToken(token: string): { timeText: string; sid: string } {
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
  return { timeText: t, sid: s };
}

/** Tables paged by selectNewestFirst, and the time column each orders by. */
export type PagedTable = 'calls' | 'recordings' | 'incoming_numbers' | 'applications' | 'api_keys' | 'carriers' | 'sip_users';
export type PageOrderColumn = 'start_time' | 'date_created';

/** A half-open time range on a timestamptz column: `from` inclusive, `to` exclusive (ISO 8601, checked by the caller). */
export interface TimeRange {
  column: string;
  from?: string;
  to?: string;
}

export interface NewestFirstQuery {
  table: PagedTable;
  /** Defaults to start_time (calls, recordings); configuration resources page by date_created. */
  orderBy?: PageOrderColumn;
  columnsSql: string;
  accountSid: string;
  /** Extra `column = value` conditions beside the account; column names come from code, never input. */
  filters: Record<string, unknown>;
  ranges?: TimeRange[];
  pageSize: number;
  pageToken?: string;
}

/**
 * One page of `table`, newest first by (orderBy, sid), using the keyset cursor above. Rows come
 * back raw (plus a `page_cursor` column); callers map them.
 */
export async function selectNewestFirst<Row>(db: SqlRunner, q: NewestFirstQuery): Promise<{ rows: Row[]; nextPageToken: string | null }> {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > 1000) {
    throw new StoreError('INVALID_QUERY', `pageSize must be an integer 1-1000, got ${q.pageSize}`);
  }
  const order = q.orderBy ?? 'start_time';
  const where = ['account_sid = $1'];
  const params: unknown[] = [q.accountSid];
  for (const [column, value] of Object.entries(q.filters)) {
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  for (const r of q.ranges ?? []) {
    if (r.from !== undefined) {
      params.push(r.from);
      where.push(`${r.column} >= $${params.length}::timestamptz`);
    }
    if (r.to !== undefined) {
      params.push(r.to);
      where.push(`${r.column} < $${params.length}::timestamptz`);
    }
  }
  if (q.pageToken !== undefined) {
    const cursor = decodePageToken(q.pageToken);
    params.push(cursor.timeText, cursor.sid);
    where.push(`(${order}, sid) < ($${params.length - 1}::timestamptz, $${params.length}::text)`);
  }
  params.push(q.pageSize + 1); // one extra row tells whether a next page exists
  const { rows } = await db.query<Row & { sid: string; page_cursor: string }>(
    `SELECT ${q.columnsSql}, ${order}::text AS page_cursor FROM ${q.table} WHERE ${where.join(' AND ')}
     ORDER BY ${order} DESC, sid DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, q.pageSize);
  const last = page[page.length - 1];
  return { rows: page, nextPageToken: rows.length > q.pageSize && last ? encodePageToken(last.page_cursor, last.sid) : null };
}

const QUERY_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A list bound as PostgreSQL should read it: a date-time with an explicit zone (a zone-less time
 * would mean the server's zone) or a bare date, taken as midnight UTC. Rejects impossible dates
 * like 02-30, which JavaScript would quietly roll over.
 */
export function queryTime(name: string, value: unknown): string {
  const bad = () => new StoreError('INVALID_QUERY', `${name} must be an ISO 8601 date-time with a zone (or a date), got ${JSON.stringify(value)}`);
  if (typeof value !== 'string') throw bad();
  const m = QUERY_TIME_RE.exec(value);
  if (!m) throw bad();
  const [, y, mo, d, h, mi, sec] = m.map((x) => (x === undefined ? 0 : Number(x)));
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d || h! > 23 || mi! > 59 || sec! > 59) throw bad();
  return m[4] === undefined ? `${value}T00:00:00Z` : value;
}

/**
 * One page of a configuration resource (numbers, applications, carriers, users), newest first,
 * with optional exact text filters: `filterColumns` maps each query key to its column.
 */
export async function selectConfigPage<Row, T, Q extends ResourceListQuery>(
  db: SqlRunner,
  q: Q,
  spec: { table: PagedTable; columnsSql: string; filterColumns: Partial<Record<keyof Q & string, string>>; toRecord: (row: Row) => T },
): Promise<ResourcePage<T>> {
  const filters: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(spec.filterColumns) as [keyof Q & string, string][]) {
    const value = q[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new StoreError('INVALID_QUERY', `${key} must be a string`);
    filters[column] = value;
  }
  const { rows, nextPageToken } = await selectNewestFirst<Row>(db, {
    table: spec.table,
    orderBy: 'date_created',
    columnsSql: spec.columnsSql,
    accountSid: q.accountSid,
    filters,
    pageSize: q.pageSize,
    ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
  });
  return { items: rows.map(spec.toRecord), nextPageToken };
}

function optionalText(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') throw new StoreError('INVALID_QUERY', `${name} must be a string`);
}

export async function selectCalls(db: SqlRunner, q: CallListQuery): Promise<CallPage> {
  if (q.status !== undefined && !CALL_STATUSES.includes(q.status)) {
    throw new StoreError('INVALID_QUERY', `unknown call status "${String(q.status)}"`);
  }
  optionalText('to', q.to);
  optionalText('from', q.from);
  optionalText('parentCallSid', q.parentCallSid);
  const filters: Record<string, unknown> = {};
  if (q.status !== undefined) filters['status'] = q.status;
  if (q.to !== undefined) filters['to_addr'] = q.to;
  if (q.from !== undefined) filters['from_addr'] = q.from;
  if (q.parentCallSid !== undefined) filters['parent_call_sid'] = q.parentCallSid;
  const bound = (name: keyof CallListQuery): string | undefined => (q[name] === undefined ? undefined : queryTime(name, q[name]));
  const range = (column: string, from: string | undefined, to: string | undefined): TimeRange[] =>
    from === undefined && to === undefined ? [] : [{ column, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) }];
  // end_time bounds never match a call still going: NULL compares as unknown, which WHERE drops.
  const ranges = [
    ...range('start_time', bound('startTimeFrom'), bound('startTimeTo')),
    ...range('end_time', bound('endTimeFrom'), bound('endTimeTo')),
  ];
  const { rows, nextPageToken } = await selectNewestFirst<CallRow>(db, {
    table: 'calls',
    columnsSql: CALL_COLUMNS_SQL,
    accountSid: q.accountSid,
    filters,
    ranges,
    pageSize: q.pageSize,
    ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
  });
  return { calls: rows.map(rowToCall), nextPageToken };
}

/**
 * Deletes a finished call and (by ON DELETE CASCADE) its events. A live call is refused: its
 * engine would keep writing updates and events to a record nobody can see.
 */
export async function removeCall(db: SqlDatabase, accountSid: string, sid: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ status: CallRecord['status'] }>('SELECT status FROM calls WHERE sid = $1 AND account_sid = $2 FOR UPDATE', [sid, accountSid]);
    const row = rows[0];
    if (!row) return false;
    if (!TERMINAL_CALL_STATUSES.includes(row.status)) throw new StoreError('CALL_IN_PROGRESS', `call ${sid} is ${row.status}; only finished calls can be deleted`);
    await tx.query('DELETE FROM calls WHERE sid = $1', [sid]);
    return true;
  });
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
