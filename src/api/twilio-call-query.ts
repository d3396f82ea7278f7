/**
 * The filters of Twilio's Calls list (twilio-voice.md §4.3) turned into the store's query.
 *
 * Dates: `StartTime` / `EndTime` take a day (`YYYY-MM-DD`, UTC) or an instant (ISO 8601 with a
 * zone, or RFC 2822 as Twilio's JSON writes them). The comparison keys are all inclusive, as
 * Twilio documents them: its old docs wrote `StartTime>=2009-07-06` literally in URLs, which a
 * query string parses as key `StartTime>`, so `StartTime>` means "on or after" and `StartTime<`
 * "on or before". `StartTime>=` / `StartTime<=` (the `=` percent-encoded into the key) mean the
 * same. A value stands for its whole unit: a day is that day, an instant is that second (JSON
 * dates have second resolution). So `StartTime=D` is [D, D+1 day), `StartTime<D` is before D+1
 * day, `StartTime>D` is from D; several bounds on one field intersect. The store takes ISO bounds,
 * `From` inclusive and `To` exclusive.
 */
import { CALL_STATUSES, type CallListQuery, type CallStatus } from '../store/store-types.js';
import { badRequest } from './api-errors.js';
import { queryValue } from './twilio-paging.js';

export type TwilioCallFilters = Pick<
  CallListQuery,
  'status' | 'to' | 'from' | 'parentCallSid' | 'startTimeFrom' | 'startTimeTo' | 'endTimeFrom' | 'endTimeTo'
>;

const DATE_KEYS = ['StartTime', 'EndTime'] as const;
const OPERATORS = ['', '<', '>', '<=', '>='] as const;
const PAGING_KEYS = ['PageSize', 'Page', 'PageToken'];
const FILTER_KEYS = ['To', 'From', 'ParentCallSid', 'Status', ...DATE_KEYS.flatMap((k) => OPERATORS.map((op) => `${k}${op}`))];
const KNOWN_KEYS = new Set([...FILTER_KEYS, ...PAGING_KEYS]);

const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const RFC2822_RE = /^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|GMT|UT|UTC|Z)$/;

/** The span a date value stands for: [start, end) in ms. */
function spanOf(key: string, raw: string): { start: number; end: number } {
  const value = raw.trim();
  const day = DAY_RE.exec(value);
  if (day) {
    const start = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    // Date.UTC rolls 2024-02-30 over into March: such a day does not exist.
    if (new Date(start).toISOString().slice(0, 10) !== value) throw badRequest(`Invalid ${key}: "${raw}" is not a calendar date`);
    return { start, end: start + DAY_MS };
  }
  if (ISO_RE.test(value) || RFC2822_RE.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) {
      const start = Math.floor(at / 1000) * 1000;
      return { start, end: start + 1000 };
    }
  }
  throw badRequest(`Invalid ${key}: expected YYYY-MM-DD, an ISO 8601 date-time with a zone, or an RFC 2822 date, got "${raw}"`);
}

/** Lower and upper bounds on one date field from all its keys. */
function boundsOf(query: unknown, field: (typeof DATE_KEYS)[number]): { from?: string; to?: string } {
  let from: number | undefined;
  let to: number | undefined;
  for (const op of OPERATORS) {
    const key = `${field}${op}`;
    const raw = queryValue(query, key);
    if (raw === undefined) continue;
    const span = spanOf(key, raw);
    const lower = op === '' || op.startsWith('>') ? span.start : undefined;
    const upper = op === '' || op.startsWith('<') ? span.end : undefined;
    if (lower !== undefined) from = from === undefined ? lower : Math.max(from, lower);
    if (upper !== undefined) to = to === undefined ? upper : Math.min(to, upper);
  }
  return {
    ...(from !== undefined ? { from: new Date(from).toISOString() } : {}),
    ...(to !== undefined ? { to: new Date(to).toISOString() } : {}),
  };
}

export interface TwilioCallQuery {
  filters: TwilioCallFilters;
  /** The filters as the client spelled them, to carry into the page URIs. */
  echo: Record<string, string | undefined>;
}

/** Reads the list's filters; 400 (20001) on an unknown key or a bad value. */
export function readTwilioCallQuery(query: unknown): TwilioCallQuery {
  for (const key of Object.keys((query ?? {}) as object)) {
    if (!KNOWN_KEYS.has(key)) throw badRequest(`Unknown parameter "${key}"`);
  }
  const status = queryValue(query, 'Status');
  if (status !== undefined && !CALL_STATUSES.includes(status as CallStatus)) {
    throw badRequest(`Invalid Status: "${status}" is not one of ${CALL_STATUSES.join(', ')}`);
  }
  const parentCallSid = queryValue(query, 'ParentCallSid');
  if (parentCallSid !== undefined && !/^CA[0-9a-fA-F]{32}$/.test(parentCallSid)) {
    throw badRequest(`Invalid ParentCallSid: "${parentCallSid}" is not a call SID`);
  }
  const start = boundsOf(query, 'StartTime');
  const end = boundsOf(query, 'EndTime');
  const filters: TwilioCallFilters = {};
  const set = <K extends keyof TwilioCallFilters>(k: K, v: TwilioCallFilters[K] | undefined): void => {
    if (v !== undefined) filters[k] = v;
  };
  set('status', status as CallStatus | undefined);
  set('to', queryValue(query, 'To'));
  set('from', queryValue(query, 'From'));
  set('parentCallSid', parentCallSid);
  set('startTimeFrom', start.from);
  set('startTimeTo', start.to);
  set('endTimeFrom', end.from);
  set('endTimeTo', end.to);
  const echo: Record<string, string | undefined> = {};
  for (const key of FILTER_KEYS) echo[key] = queryValue(query, key);
  return { filters, echo };
}
