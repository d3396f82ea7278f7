/**
 * One call as both API dialects show it. The store's row can lag behind a call that is live in
 * this process (status, answer time...), so `freshCall` overlays the call engine's live record on
 * the stored one; `twilioCallJson` then writes Twilio's Call resource (twilio-voice.md §4.4) with
 * every key present, and `twilioCallSchema` is its response schema (OpenAPI and serialisation).
 */
import type { CallService } from '../calls/call-service.js';
import type { CallRecord, CallStore, CallStatus, StoredCallRecord } from '../store/store-types.js';
import { rfc2822, twilioAccountPath, TWILIO_API_VERSION } from './twilio-json.js';

/**
 * The freshest view of a call: the stored row with the live record's fields on top. A live call
 * that has no row yet gets its start time as creation date. Null when neither exists.
 */
export function withLive(stored: StoredCallRecord | null, live: CallRecord | null, now: () => Date = () => new Date()): StoredCallRecord | null {
  if (!live) return stored;
  if (!stored) return { ...live, dateCreated: live.startTime, dateUpdated: now().toISOString() };
  return { ...stored, ...live, dateCreated: stored.dateCreated, dateUpdated: stored.dateUpdated };
}

/**
 * The call as the account sees it now, or null when it is not the account's: the live record if
 * the call is live here, else `latest` (what the engine just answered to a create or update, which
 * may be newer than the row it writes), else the store's row.
 */
export async function freshCall(
  store: Pick<CallStore, 'getCall'>,
  calls: Pick<CallService, 'live'> | undefined,
  accountSid: string,
  sid: string,
  latest: CallRecord | null = null,
): Promise<StoredCallRecord | null> {
  const stored = await store.getCall(accountSid, sid);
  const live = calls?.live(accountSid, sid) ?? latest;
  // getCall adds the event timeline; the call resources do not carry it.
  const row: StoredCallRecord | null = stored ? withoutEvents(stored) : null;
  return withLive(row, live && live.accountSid === accountSid ? live : null);
}

function withoutEvents(call: StoredCallRecord & { events?: unknown }): StoredCallRecord {
  const { events: _events, ...rest } = call;
  return rest;
}

/** Twilio's Call status enum has no `initiated` (it appears only in webhooks); REST shows such a call as `queued`. */
function twilioStatus(status: CallStatus): Exclude<CallStatus, 'initiated'> {
  return status === 'initiated' ? 'queued' : status;
}

const TERMINAL: ReadonlySet<CallStatus> = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

export interface TwilioCallJson {
  sid: string;
  date_created: string;
  date_updated: string;
  parent_call_sid: string | null;
  account_sid: string;
  to: string;
  to_formatted: string;
  from: string;
  from_formatted: string;
  phone_number_sid: string | null;
  status: Exclude<CallStatus, 'initiated'>;
  start_time: string | null;
  end_time: string | null;
  duration: string | null;
  price: string | null;
  price_unit: string;
  direction: CallRecord['direction'];
  answered_by: string | null;
  annotation: string | null;
  api_version: string;
  forwarded_from: string | null;
  group_sid: string | null;
  caller_name: string | null;
  queue_time: string | null;
  trunk_sid: string | null;
  uri: string;
  subresource_uris: { recordings: string; streams: string };
}

export function twilioCallPath(accountSid: string, sid: string): string {
  return `${twilioAccountPath(accountSid)}/Calls/${sid}`;
}

/** The Call resource (oai `api.v2010.account.call`): every key present, null where Patchbay has no value. */
export function twilioCallJson(call: StoredCallRecord): TwilioCallJson {
  const path = twilioCallPath(call.accountSid, call.sid);
  // Twilio reports "0" for calls that ended unanswered and nothing while a call is still going.
  const duration = call.durationSeconds !== null ? String(call.durationSeconds) : TERMINAL.has(call.status) ? '0' : null;
  return {
    sid: call.sid,
    date_created: rfc2822(call.dateCreated),
    date_updated: rfc2822(call.dateUpdated),
    parent_call_sid: call.parentCallSid,
    account_sid: call.accountSid,
    to: call.to,
    to_formatted: call.to,
    from: call.from,
    from_formatted: call.from,
    phone_number_sid: null,
    status: twilioStatus(call.status),
    // A queued call has not started dialing: Twilio leaves start_time empty until it does.
    start_time: call.status === 'queued' ? null : rfc2822(call.startTime),
    end_time: call.endTime === null ? null : rfc2822(call.endTime),
    duration,
    price: null,
    price_unit: 'USD',
    direction: call.direction,
    answered_by: null,
    annotation: null,
    api_version: TWILIO_API_VERSION,
    forwarded_from: null,
    group_sid: null,
    caller_name: null,
    queue_time: null,
    trunk_sid: null,
    uri: `${path}.json`,
    // Only the subresources this server answers.
    subresource_uris: { recordings: `${path}/Recordings.json`, streams: `${path}/Streams.json` },
  };
}

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;

/** JSON schema of TwilioCallJson (every key required, so the serialiser never drops one). */
export const twilioCallSchema = {
  type: 'object',
  properties: {
    sid: str,
    date_created: str,
    date_updated: str,
    parent_call_sid: nullableStr,
    account_sid: str,
    to: str,
    to_formatted: str,
    from: str,
    from_formatted: str,
    phone_number_sid: nullableStr,
    status: { type: 'string', enum: ['queued', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled'] },
    start_time: nullableStr,
    end_time: nullableStr,
    duration: nullableStr,
    price: nullableStr,
    price_unit: str,
    direction: { type: 'string', enum: ['inbound', 'outbound-api', 'outbound-dial'] },
    answered_by: nullableStr,
    annotation: nullableStr,
    api_version: str,
    forwarded_from: nullableStr,
    group_sid: nullableStr,
    caller_name: nullableStr,
    queue_time: nullableStr,
    trunk_sid: nullableStr,
    uri: str,
    subresource_uris: { type: 'object', properties: { recordings: str, streams: str }, required: ['recordings', 'streams'] },
  },
  required: [
    'sid', 'date_created', 'date_updated', 'parent_call_sid', 'account_sid', 'to', 'to_formatted', 'from', 'from_formatted',
    'phone_number_sid', 'status', 'start_time', 'end_time', 'duration', 'price', 'price_unit', 'direction', 'answered_by',
    'annotation', 'api_version', 'forwarded_from', 'group_sid', 'caller_name', 'queue_time', 'trunk_sid', 'uri', 'subresource_uris',
  ],
} as const;
