/**
 * Recording-store SQL, against the same `SqlRunner` interface as store-sql.ts (one dialect for
 * PGlite and PostgreSQL). Fields are checked here before they reach SQL, the table's CHECK
 * constraints are the second line; rows map to camelCase records with ISO 8601 times.
 */
import { isSid } from '../ids.js';
import type { SqlDatabase, SqlRunner } from './migrations.js';
import { isSafeRelativePath } from './recording-paths.js';
import { selectNewestFirst } from './store-sql.js';
import {
  RECORDING_SOURCES,
  RECORDING_STATUSES,
  StoreError,
  type RecordingListQuery,
  type RecordingPage,
  type RecordingPatch,
  type RecordingRecord,
  type StoredRecordingRecord,
} from './store-types.js';

const COLUMN_OF: Readonly<Record<keyof RecordingRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  callSid: 'call_sid',
  status: 'status',
  source: 'source',
  channels: 'channels',
  sampleRate: 'sample_rate',
  durationSeconds: 'duration_seconds',
  startTime: 'start_time',
  filePath: 'file_path',
  bytes: 'bytes',
  errorCode: 'error_code',
};
const KEYS = Object.keys(COLUMN_OF) as (keyof RecordingRecord)[];
/** Identity and owner: set at creation, never patched. */
const IMMUTABLE_KEYS: ReadonlySet<keyof RecordingRecord> = new Set(['sid', 'accountSid', 'callSid']);
const NULLABLE_KEYS: ReadonlySet<keyof RecordingRecord> = new Set(['durationSeconds', 'bytes', 'errorCode']);
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;

function invalid(message: string): StoreError {
  return new StoreError('INVALID_RECORD', message);
}

function checkField(key: keyof RecordingRecord, value: unknown): void {
  if (value === null) {
    if (!NULLABLE_KEYS.has(key)) throw invalid(`recording field ${key} must not be null`);
    return;
  }
  const bad = (what: string) => invalid(`recording field ${key} must be ${what}, got ${JSON.stringify(value)}`);
  switch (key) {
    case 'sid':
      if (typeof value !== 'string' || !isSid('RE', value)) throw bad('a recording SID (RE + 32 hex)');
      return;
    case 'accountSid':
      if (typeof value !== 'string' || !isSid('AC', value)) throw bad('an account SID');
      return;
    case 'callSid':
      if (typeof value !== 'string' || !isSid('CA', value)) throw bad('a call SID');
      return;
    case 'status':
      if (!RECORDING_STATUSES.includes(value as RecordingRecord['status'])) throw bad(`one of ${RECORDING_STATUSES.join(', ')}`);
      return;
    case 'source':
      if (!RECORDING_SOURCES.includes(value as RecordingRecord['source'])) throw bad(`one of ${RECORDING_SOURCES.join(', ')}`);
      return;
    case 'channels':
      if (value !== 1 && value !== 2) throw bad('1 or 2');
      return;
    case 'sampleRate':
      if (!Number.isInteger(value) || (value as number) < 1000 || (value as number) > 384000) throw bad('an integer 1000-384000');
      return;
    case 'durationSeconds':
    case 'bytes':
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw bad('a non-negative integer');
      return;
    case 'errorCode':
      if (!Number.isInteger(value)) throw bad('an integer');
      return;
    case 'startTime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad('an ISO 8601 time');
      return;
    case 'filePath':
      if (typeof value !== 'string' || !isSafeRelativePath(value)) throw bad('a relative path inside the data directory');
      return;
  }
}

export async function insertRecording(db: SqlRunner, rec: RecordingRecord): Promise<void> {
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`recording field ${key} is missing`);
    checkField(key, rec[key]);
  }
  await db.query(
    `INSERT INTO recordings (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})`,
    KEYS.map((k) => rec[k]),
  );
}

export async function patchRecording(db: SqlRunner, sid: string, patch: RecordingPatch): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [sid];
  const fields = patch as Partial<RecordingRecord>;
  for (const key of KEYS) {
    // Identity fields in a patch are ignored, like unknown keys (a patch cannot move a recording).
    if (IMMUTABLE_KEYS.has(key) || fields[key] === undefined) continue;
    checkField(key, fields[key]);
    params.push(fields[key]);
    sets.push(`${COLUMN_OF[key]} = $${params.length}`);
  }
  sets.push('date_updated = now()');
  const res = await db.query(`UPDATE recordings SET ${sets.join(', ')} WHERE sid = $1`, params);
  if (res.affectedRows === 0) throw new StoreError('RECORDING_NOT_FOUND', `no recording ${sid}`);
}

interface RecordingRow {
  sid: string;
  account_sid: string;
  call_sid: string;
  status: RecordingRecord['status'];
  source: RecordingRecord['source'];
  channels: number;
  sample_rate: number;
  duration_seconds: number | null;
  start_time: Date | string;
  file_path: string;
  /** int8: the driver may hand it over as bigint or string. */
  bytes: bigint | string | number | null;
  error_code: number | null;
  date_created: Date | string;
  date_updated: Date | string;
}

function iso(v: Date | string): string {
  return (v instanceof Date ? v : new Date(v)).toISOString();
}

function rowToRecording(r: RecordingRow): StoredRecordingRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    callSid: r.call_sid,
    status: r.status,
    source: r.source,
    channels: r.channels === 2 ? 2 : 1,
    sampleRate: r.sample_rate,
    durationSeconds: r.duration_seconds,
    startTime: iso(r.start_time),
    filePath: r.file_path,
    bytes: r.bytes === null ? null : Number(r.bytes),
    errorCode: r.error_code,
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

export async function selectRecording(db: SqlRunner, accountSid: string, sid: string): Promise<StoredRecordingRecord | null> {
  const { rows } = await db.query<RecordingRow>(`SELECT ${COLUMNS_SQL} FROM recordings WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToRecording(rows[0]) : null;
}

export async function selectRecordings(db: SqlRunner, q: RecordingListQuery): Promise<RecordingPage> {
  const { rows, nextPageToken } = await selectNewestFirst<RecordingRow>(db, {
    table: 'recordings',
    columnsSql: COLUMNS_SQL,
    accountSid: q.accountSid,
    filters: q.callSid !== undefined ? { call_sid: q.callSid } : {},
    pageSize: q.pageSize,
    ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
  });
  return { recordings: rows.map(rowToRecording), nextPageToken };
}

export async function removeRecording(db: SqlDatabase, accountSid: string, sid: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ status: string }>('SELECT status FROM recordings WHERE sid = $1 AND account_sid = $2 FOR UPDATE', [sid, accountSid]);
    const row = rows[0];
    if (!row) return false;
    // Its writer would recreate the file after we delete it, leaving audio nobody can list.
    if (row.status === 'in-progress') throw new StoreError('RECORDING_IN_PROGRESS', `recording ${sid} is still being recorded`);
    await tx.query('DELETE FROM recordings WHERE sid = $1', [sid]);
    return true;
  });
}

export async function selectInProgressRecordings(db: SqlRunner): Promise<StoredRecordingRecord[]> {
  const { rows } = await db.query<RecordingRow>(
    `SELECT ${COLUMNS_SQL} FROM recordings WHERE status = 'in-progress' ORDER BY start_time, sid`,
  );
  return rows.map(rowToRecording);
}
