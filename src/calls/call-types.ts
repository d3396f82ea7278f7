/**
 * What a call leg is made of and depends on: its identity (CallInfo), the services it uses
 * (CallDeps: media ports and clock, speech, recordings, callbacks, the connector for <Dial>), and
 * the error every operation on an ended call rejects with.
 */
import type { DialRequest, DialResult, ReferRequest, ReferResult } from '../verbs/call-control.js';
import type { HttpMethod } from '../verbs/verb-model.js';
import type { RecognizerCatalog } from '../speech/recognizer-catalog.js';
import type { TelephonySpeech } from '../speech/telephony-speech.js';
import type { PortAllocator } from '../media/port-allocator.js';
import type { MediaClock } from '../media/media-clock.js';
import type { MediaFetcher } from '../media/media-fetcher.js';
import type { CallRecord } from '../store/store-types.js';
import type { StreamEgress } from '../streams/media-stream-session.js';
import type { CallRecordings } from './call-recordings.js';
import type { Call } from './call.js';

export interface CallMediaDeps {
  bindAddress: string;
  /** Address written in our SDP (c=) and reachable by the caller. */
  publicAddress: string;
  ports: PortAllocator;
  clock: MediaClock;
}

/** Background requests to the app (signed with `authToken`, queued per call, responses ignored). */
export interface AppCallbacks {
  send(callSid: string, url: string, method: HttpMethod, params: Record<string, string>, authToken: string): void;
}

/** Connects a call to others: `<Dial>` legs and bridges, `<Refer>` transfers (calls/dial-*.ts). */
export interface CallConnector {
  dial(call: Call, request: DialRequest, signal: AbortSignal): Promise<DialResult>;
  refer(call: Call, request: ReferRequest, signal: AbortSignal): Promise<ReferResult>;
}

export interface CallDeps {
  media: CallMediaDeps;
  /** Absent in set-ups that cannot connect calls (unit tests): `<Dial>` and `<Refer>` then fail with 13201. */
  connector?: CallConnector;
  speech: TelephonySpeech;
  fetcher: MediaFetcher;
  recognizers: RecognizerCatalog;
  callbacks: AppCallbacks;
  recordings: CallRecordings;
  /**
   * Media Streams: the handshake deadline (handshakes are signed with the call's account token)
   * and where stream URLs may connect (webhooks/EgressPolicy).
   */
  streams?: { connectTimeoutMs: number; egress?: StreamEgress };
}


export interface CallInfo {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
  direction: CallRecord['direction'];
  /** Empty until an outbound call's INVITE is sent. */
  sipCallId: string;
  sourceIp: string;
  /** X- headers of the INVITE, as the app receives them (SipHeader_X-*). */
  sipHeaders: Record<string, string>;
  /** The owning account's auth token: it signs every request made to the app for this call. */
  authToken: string;
  /** The IncomingPhoneNumber the call arrived on, if any (Twilio's phone_number_sid). */
  phoneNumberSid?: string | null;
  /** A `<Dial>` leg's parent call. */
  parentCallSid?: string | null;
}

export class CallEndedError extends Error {
  override readonly name = 'AbortError';
  constructor(readonly callSid: string) {
    super(`call ${callSid} has ended`);
  }
}
