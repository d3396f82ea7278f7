/**
 * Syntax checks on call create/update requests shared by both API dialects, with Twilio's codes
 * (twilio-voice.md §4.5): no To 21201, no From 21213, nothing to run or a bad Url 21205, a
 * malformed ApplicationSid 21218, anything else 20001. Whether the call can be placed or changed
 * (reachable To, allowed From, call state) is the call engine's to decide behind CallService; its
 * CallRequestError becomes an ApiError with the same code here. Messages name fields in the
 * client's own spelling (`To` for Twilio, `to` natively).
 */
import { CallRequestError, type CallCreateRequest, type CallUpdateRequest } from '../calls/call-service.js';
import { isSid } from '../ids.js';
import { ApiError, badRequest, notFound } from './api-errors.js';
import type { CallService } from '../calls/call-service.js';
import { StoreError, type CallStore } from '../store/store-types.js';

/** The client's name for a request field. */
export type FieldName = (field: keyof CallCreateRequest | keyof CallUpdateRequest) => string;

/** PascalCase, as Twilio's form parameters are spelled (`statusCallback` → `StatusCallback`). */
export const twilioFieldName: FieldName = (field) => field.charAt(0).toUpperCase() + field.slice(1);
export const nativeFieldName: FieldName = (field) => field;

function absoluteHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function checkUrl(value: string | undefined, field: 'url' | 'fallbackUrl' | 'statusCallback', name: FieldName): void {
  if (value === undefined || absoluteHttpUrl(value)) return;
  // Only the application Url has its own Twilio code; the other URLs are plain invalid parameters.
  const code = field === 'url' ? 21205 : 20001;
  throw new ApiError(400, code, `Invalid ${name(field)}: "${value}" is not an absolute http:// or https:// URL`);
}

/** Throws the first syntax error of a create request (the engine checks the rest). */
export function checkCreateRequest(req: CallCreateRequest, name: FieldName): void {
  if (req.to === undefined || req.to.trim() === '') throw new ApiError(400, 21201, `No '${name('to')}' number is specified`);
  if (req.from === undefined || req.from.trim() === '') throw new ApiError(400, 21213, `No '${name('from')}' number is specified`);
  if (req.url === undefined && req.twiml === undefined && req.applicationSid === undefined) {
    throw new ApiError(400, 21205, `One of ${name('url')}, ${name('twiml')} or ${name('applicationSid')} is required: it says what the call runs once answered`);
  }
  checkUrl(req.url, 'url', name);
  checkUrl(req.fallbackUrl, 'fallbackUrl', name);
  checkUrl(req.statusCallback, 'statusCallback', name);
  if (req.applicationSid !== undefined && !isSid('AP', req.applicationSid)) {
    throw new ApiError(400, 21218, `Invalid ${name('applicationSid')}: "${req.applicationSid}" is not an application SID (AP + 32 hex digits)`);
  }
}

/** Throws the first syntax error of an update request; an update must change something. */
export function checkUpdateRequest(req: CallUpdateRequest, name: FieldName): void {
  if (Object.values(req).every((v) => v === undefined)) {
    throw badRequest(`Nothing to change: give ${name('url')}, ${name('twiml')}, ${name('status')}, ${name('statusCallback')} or ${name('timeLimit')}`);
  }
  checkUrl(req.url, 'url', name);
  checkUrl(req.fallbackUrl, 'fallbackUrl', name);
  checkUrl(req.statusCallback, 'statusCallback', name);
}

/** The engine's refusal as the API reports it (same code and status); anything else unchanged. */
export function asApiError(err: unknown): unknown {
  if (err instanceof CallRequestError) return new ApiError(err.status, err.code, err.message);
  return err;
}

/** Twilio's answer to changing a call that has ended (21220, with Twilio's own text). */
export function callNotInProgress(): ApiError {
  return new ApiError(400, 21220, 'Call is not in-progress. Cannot redirect.');
}

/** Twilio's 20009: a call's record can only be deleted once the call has ended. */
export function callNotDeletable(sid: string): ApiError {
  return new ApiError(400, 20009, `Cannot delete call ${sid} before it is complete: hang it up first (Status=completed)`);
}

/** DELETE of a call record, both dialects: 20009 while the call is live (here or per the store), 404 when unknown. */
export async function deleteEndedCall(store: Pick<CallStore, 'deleteCall'>, calls: Pick<CallService, 'live'> | undefined, accountSid: string, sid: string, path: string): Promise<void> {
  if (calls?.live(accountSid, sid)) throw callNotDeletable(sid);
  let deleted: boolean;
  try {
    deleted = await store.deleteCall(accountSid, sid);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'CALL_IN_PROGRESS') throw callNotDeletable(sid);
    throw err;
  }
  if (!deleted) throw notFound(path);
}
