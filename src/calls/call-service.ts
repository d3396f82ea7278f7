/**
 * What the REST API may ask of the call engine: place an outbound call, and redirect, hang up or
 * cancel a live one. Both API dialects (Twilio's form-encoded /2010-04-01 and the native JSON /v1)
 * translate their requests into these shapes, so validation of meaning (which To is reachable,
 * which state allows which change) lives once, here, behind this interface.
 */
import type { Account, CallRecord, HttpMethodName } from '../store/store-types.js';
import type { StatusCallbackEvent } from './status-notifier.js';

export interface CallCreateRequest {
  /** `sip:user@host[:port]`, `client:name` or a phone number (E.164 / digits). */
  to: string;
  from: string;
  /** Exactly one of url, twiml, applicationSid decides what runs on answer (url wins over twiml, applicationSid over both). */
  url?: string;
  method?: HttpMethodName;
  twiml?: string;
  applicationSid?: string;
  fallbackUrl?: string;
  fallbackMethod?: HttpMethodName;
  statusCallback?: string;
  statusCallbackMethod?: HttpMethodName;
  /** Default: ['completed'] (Twilio's). */
  statusCallbackEvent?: StatusCallbackEvent[];
  /** Ring time in seconds before giving up as no-answer: default 60, at most 600. */
  timeout?: number;
  /** Longest the answered call may last, in seconds (default 4 hours). */
  timeLimit?: number;
  /** DTMF sent once the call is answered, before the application runs (`0-9 A-D # * w W`, ≤ 32). */
  sendDigits?: string;
  /** Display name/user for the From header when it should differ from `from`. */
  callerId?: string;
  /** Digest credentials for a `sip:` target that challenges (401/407). */
  sipAuthUsername?: string;
  sipAuthPassword?: string;
}

export interface CallUpdateRequest {
  url?: string;
  method?: HttpMethodName;
  twiml?: string;
  fallbackUrl?: string;
  fallbackMethod?: HttpMethodName;
  /** 'completed' hangs up (cancels an unanswered call); 'canceled' cancels a queued or ringing call and leaves an answered one alone. */
  status?: 'completed' | 'canceled';
  statusCallback?: string;
  statusCallbackMethod?: HttpMethodName;
  timeLimit?: number;
}

/**
 * A refused call request, with Twilio's code: 21201 no To, 21205 bad Url, 21210/21212 bad From,
 * 21211 bad To, 21218 bad ApplicationSid, 21220 call not in a state that allows the change,
 * 20001 other invalid parameters. `status` is the HTTP status to answer with.
 */
export class CallRequestError extends Error {
  override readonly name = 'CallRequestError';
  constructor(
    readonly code: number,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface CallService {
  /** Validates and places the call; resolves with its record (status `queued`). Rejects with CallRequestError. */
  create(account: Account, request: CallCreateRequest): Promise<CallRecord>;
  /**
   * Changes a live call. Resolves with the call's record after the change was applied (a hangup
   * has ended the call by then), or null when this process has no live call with that SID for
   * that account. Rejects with CallRequestError (21220 when the state does not allow the change).
   */
  update(account: Account, sid: string, request: CallUpdateRequest): Promise<CallRecord | null>;
  /** The live call's current record (fresher than the store's), or null when it is not live here. */
  live(accountSid: string, sid: string): CallRecord | null;
}
