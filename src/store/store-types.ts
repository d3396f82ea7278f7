/**
 * Storage contracts: the call record, its event timeline, accounts and recordings. The call engine, the API
 * and the console depend only on these interfaces; `PgliteStore` is the embedded implementation
 * (a PostgreSQL-backed one for clustered mode can share its SQL).
 */

export type CallStatus =
  | 'queued'
  | 'initiated'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'busy'
  | 'failed'
  | 'no-answer'
  | 'canceled';

export const CALL_STATUSES: readonly CallStatus[] = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'failed',
  'no-answer',
  'canceled',
];

/** Statuses after which a call never changes again (twilio-voice.md §3). */
export const TERMINAL_CALL_STATUSES: readonly CallStatus[] = ['completed', 'busy', 'failed', 'no-answer', 'canceled'];

export type CallDirection = 'inbound' | 'outbound-api' | 'outbound-dial';

export interface CallEvent {
  /** ISO 8601 timestamp. */
  at: string;
  /** e.g. 'sip.in' 'sip.out' 'webhook' 'verb.start' 'verb.end' 'status' 'error'. */
  type: string;
  /** Must be JSON-serialisable; stored as jsonb. */
  detail: Record<string, unknown>;
}

export interface CallRecord {
  sid: string;
  accountSid: string;
  from: string;
  to: string;
  direction: CallDirection;
  status: CallStatus;
  /** ISO 8601. */
  startTime: string;
  answerTime: string | null;
  endTime: string | null;
  durationSeconds: number | null;
  sipCallId: string | null;
  sipResponseCode: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  endReason: string | null;
  parentCallSid: string | null;
}

/**
 * A call record as read back: the store adds its own bookkeeping timestamps (ISO 8601), which
 * the Twilio-compatible API exposes as `date_created` / `date_updated`.
 */
export interface StoredCallRecord extends CallRecord {
  dateCreated: string;
  dateUpdated: string;
}

export interface Account {
  sid: string;
  authToken: string;
  friendlyName: string;
  createdAt: string;
}

export interface CallListQuery {
  accountSid: string;
  status?: CallStatus;
  /** Exact match on the stored `to` / `from` identity (E.164, user part, `sip:…`). */
  to?: string;
  from?: string;
  parentCallSid?: string;
  /** ISO 8601 bounds on startTime: `From` inclusive, `To` exclusive (the API turns Twilio's dates into these). */
  startTimeFrom?: string;
  startTimeTo?: string;
  /** ISO 8601 bounds on endTime, same convention; calls without an end time never match. */
  endTimeFrom?: string;
  endTimeTo?: string;
  /** 1–1000. */
  pageSize: number;
  /** Opaque cursor from a previous page's `nextPageToken`. */
  pageToken?: string;
}

export interface CallPage {
  calls: StoredCallRecord[];
  nextPageToken: string | null;
}

export interface CallStore {
  /** Rejects with StoreError 'DUPLICATE_SID' if the SID exists. */
  createCall(rec: CallRecord): Promise<void>;
  /** Rejects with StoreError 'CALL_NOT_FOUND' if no such call. `sid` in the patch is ignored. */
  updateCall(sid: string, patch: Partial<CallRecord>): Promise<void>;
  /** Appends in order; rejects with StoreError 'CALL_NOT_FOUND' if no such call. */
  appendEvents(sid: string, events: CallEvent[]): Promise<void>;
  /**
   * The end of a call: the final fields and the rest of its timeline in ONE transaction, so a
   * crash (`kill -9`) leaves either the finished record with all its events or the open record
   * that start-up recovery closes, never a 'completed' call without its timeline. Rejects with
   * StoreError 'CALL_NOT_FOUND' (nothing written) if no such call.
   */
  finishCall(sid: string, patch: Partial<CallRecord>, events: CallEvent[]): Promise<void>;
  /** Null when the call does not exist or belongs to another account. Events oldest first. */
  getCall(accountSid: string, sid: string): Promise<(StoredCallRecord & { events: CallEvent[] }) | null>;
  /** Newest first (startTime desc, sid desc). Rejects with StoreError 'INVALID_PAGE_TOKEN' / 'INVALID_QUERY'. */
  listCalls(q: CallListQuery): Promise<CallPage>;
  /**
   * Start-up recovery after a crash: every non-terminal call (queued, initiated, ringing,
   * in-progress) becomes 'failed' — the call did not end the way its parties intended, whether
   * or not it was answered ('canceled' is reserved for an explicit REST cancel). endTime and
   * endReason are set; answered calls also get durationSeconds (whole seconds since answer).
   * Resolves to the number of calls closed.
   */
  closeInterruptedCalls(reason: string, endTime: string): Promise<number>;
  /**
   * Deletes a call record and its events (Twilio's DELETE …/Calls/{sid}). False when it does not
   * exist or belongs to another account; rejects with StoreError 'CALL_IN_PROGRESS' when the call
   * is not in a terminal status.
   */
  deleteCall(accountSid: string, sid: string): Promise<boolean>;
}

export type HttpMethodName = 'GET' | 'POST';

/**
 * Where a call's application lives: the voice URL set shared by IncomingPhoneNumbers and
 * Applications (Twilio's VoiceUrl, VoiceMethod, VoiceFallbackUrl, VoiceFallbackMethod,
 * StatusCallback, StatusCallbackMethod).
 */
export interface VoiceSettings {
  voiceUrl: string | null;
  voiceMethod: HttpMethodName;
  voiceFallbackUrl: string | null;
  voiceFallbackMethod: HttpMethodName;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethodName;
}

/** A TwiML Application (`AP…`): a reusable voice URL set that numbers and outbound calls can point at. */
export interface ApplicationRecord extends VoiceSettings {
  sid: string;
  accountSid: string;
  friendlyName: string;
}

export interface StoredApplicationRecord extends ApplicationRecord {
  dateCreated: string;
  dateUpdated: string;
}

/**
 * An IncomingPhoneNumber (`PN…`): a called identity routed to its application. `phoneNumber` is
 * E.164 (`+14155550100`) or any SIP user part (`1000`, `support`); unique across the server,
 * since an inbound INVITE's Request-URI must resolve to exactly one account. When
 * `voiceApplicationSid` is set, that application's settings win over the number's own.
 */
export interface IncomingNumberRecord extends VoiceSettings {
  sid: string;
  accountSid: string;
  phoneNumber: string;
  friendlyName: string;
  voiceApplicationSid: string | null;
}

export interface StoredIncomingNumberRecord extends IncomingNumberRecord {
  dateCreated: string;
  dateUpdated: string;
}

/** An API key (`SK…`): Basic-auth credentials for one account. Only the secret's SHA-256 (hex) is stored. */
export interface ApiKeyRecord {
  sid: string;
  accountSid: string;
  friendlyName: string;
  secretSha256: string;
}

export interface StoredApiKeyRecord extends ApiKeyRecord {
  dateCreated: string;
  dateUpdated: string;
}

/** Paging shared by the configuration resources: newest first (dateCreated desc, sid desc). */
export interface ResourceListQuery {
  accountSid: string;
  /** 1–1000. */
  pageSize: number;
  pageToken?: string;
}

export interface ResourcePage<T> {
  items: T[];
  nextPageToken: string | null;
}

/** Fields a resource may change after creation (identity and owner never change). */
export type IncomingNumberPatch = Partial<Omit<IncomingNumberRecord, 'sid' | 'accountSid'>>;
export type ApplicationPatch = Partial<Omit<ApplicationRecord, 'sid' | 'accountSid'>>;

export interface NumberStore {
  /** Rejects with 'DUPLICATE_NUMBER' when the phone number is taken (by any account), 'INVALID_RECORD' on a bad field. */
  createNumber(rec: IncomingNumberRecord): Promise<StoredIncomingNumberRecord>;
  /** Null when missing or another account's. Rejects 'DUPLICATE_NUMBER' / 'INVALID_RECORD' like create. */
  updateNumber(accountSid: string, sid: string, patch: IncomingNumberPatch): Promise<StoredIncomingNumberRecord | null>;
  getNumber(accountSid: string, sid: string): Promise<StoredIncomingNumberRecord | null>;
  /** Inbound routing: the number with exactly this `phoneNumber`, whichever account owns it. */
  findNumber(phoneNumber: string): Promise<StoredIncomingNumberRecord | null>;
  /** Optional exact filters as Twilio's list has them (PhoneNumber, FriendlyName). */
  listNumbers(q: ResourceListQuery & { phoneNumber?: string; friendlyName?: string }): Promise<ResourcePage<StoredIncomingNumberRecord>>;
  deleteNumber(accountSid: string, sid: string): Promise<boolean>;
}

export interface ApplicationStore {
  createApplication(rec: ApplicationRecord): Promise<StoredApplicationRecord>;
  updateApplication(accountSid: string, sid: string, patch: ApplicationPatch): Promise<StoredApplicationRecord | null>;
  getApplication(accountSid: string, sid: string): Promise<StoredApplicationRecord | null>;
  listApplications(q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredApplicationRecord>>;
  /** Numbers pointing at the application keep their own settings (their voiceApplicationSid is cleared). */
  deleteApplication(accountSid: string, sid: string): Promise<boolean>;
}

export interface ApiKeyStore {
  createApiKey(rec: ApiKeyRecord): Promise<StoredApiKeyRecord>;
  /** Authentication: the key with this SID, whichever account owns it. */
  findApiKey(sid: string): Promise<StoredApiKeyRecord | null>;
  getApiKey(accountSid: string, sid: string): Promise<StoredApiKeyRecord | null>;
  updateApiKey(accountSid: string, sid: string, patch: { friendlyName: string }): Promise<StoredApiKeyRecord | null>;
  listApiKeys(q: ResourceListQuery): Promise<ResourcePage<StoredApiKeyRecord>>;
  deleteApiKey(accountSid: string, sid: string): Promise<boolean>;
}

/**
 * SRTP (RFC 4568 SDES) towards a carrier or SIP user: 'optional' encrypts when the peer offers or
 * accepts it, 'required' refuses plain-RTP calls (488) and offers only RTP/SAVP, 'off' never encrypts.
 */
export type SrtpPolicyName = 'optional' | 'required' | 'off';
export const SRTP_POLICY_NAMES: readonly SrtpPolicyName[] = ['optional', 'required', 'off'];

/** How SIP reaches a carrier. (TLS and WebSocket arrive with the security issue.) */
export type SipTransportName = 'udp' | 'tcp';

/**
 * A carrier (SIP trunk, `TK…`): where calls to phone numbers go, and who may send calls in
 * through it. Outbound, the carriers whose `prefixes` match the dialled number (longest prefix
 * first; an empty list matches every number) are tried in `priority` order (lower first), failing
 * over to the next on 5xx, 408 or no response, never on a callee's answer such as 486 or 603.
 * `password` is kept as given: answering a carrier's digest challenge needs it.
 */
export interface CarrierRecord {
  sid: string;
  accountSid: string;
  friendlyName: string;
  /** Host name or IP literal of the carrier's SIP server. */
  host: string;
  /** 1–65535; default 5060. */
  port: number;
  transport: SipTransportName;
  /** Digest credentials for the carrier's 401/407 challenges; both null when it authenticates by address. */
  username: string | null;
  password: string | null;
  /** Keep a REGISTER binding with the carrier (needs username/password). */
  register: boolean;
  /** Requested registration lifetime, seconds (60–86400; default 3600). */
  registerExpires: number;
  /** Number prefixes this carrier takes (`+1`, `+4420`); empty = every number. */
  prefixes: string[];
  /** Lower is tried first; 0–1000; default 10. */
  priority: number;
  /** Source addresses (IPv4/IPv6 literals or CIDR blocks) allowed to send calls in through this carrier. */
  inboundAddresses: string[];
  /**
   * Digest username the carrier's INVITEs may authenticate with instead of coming from
   * `inboundAddresses` (unique across carriers); null: address only. Only the HA1s are kept, for
   * `inboundRealm`; all four are null together.
   */
  inboundUsername: string | null;
  inboundRealm: string | null;
  inboundHa1Md5: string | null;
  inboundHa1Sha256: string | null;
  /** Host part of our From on calls through this carrier (null = the carrier's host). */
  fromDomain: string | null;
  /** Prepended to the dialled number in the Request-URI user part (`tech prefix`); '' = none. */
  techPrefix: string;
  enabled: boolean;
  /** SRTP policy for calls with this carrier, both directions. Absent means 'optional' (the store always returns it). */
  srtp?: SrtpPolicyName;
}

export interface StoredCarrierRecord extends CarrierRecord {
  dateCreated: string;
  dateUpdated: string;
}

export type CarrierPatch = Partial<Omit<CarrierRecord, 'sid' | 'accountSid'>>;

export interface CarrierStore {
  /** Rejects 'INVALID_RECORD' on a bad field. */
  createCarrier(rec: CarrierRecord): Promise<StoredCarrierRecord>;
  updateCarrier(accountSid: string, sid: string, patch: CarrierPatch): Promise<StoredCarrierRecord | null>;
  getCarrier(accountSid: string, sid: string): Promise<StoredCarrierRecord | null>;
  listCarriers(q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredCarrierRecord>>;
  /** Every enabled carrier of the account (outbound selection), in priority order then creation order. */
  enabledCarriers(accountSid: string): Promise<StoredCarrierRecord[]>;
  /** Every enabled carrier of every account (inbound source checks and outbound registrations). */
  allEnabledCarriers(): Promise<StoredCarrierRecord[]>;
  deleteCarrier(accountSid: string, sid: string): Promise<boolean>;
}

/**
 * A SIP user (`US…`): a softphone or desk phone account that registers with Patchbay, places calls
 * (run by its application) and is reachable as `client:<username>` or `sip:<username>@<our host>`.
 * `username` is unique across the server (it is the registrar's key). The password is never
 * stored: only the digest HA1 for the server's realm, per algorithm (RFC 2617 MD5, RFC 8760 SHA-256).
 */
export interface SipUserRecord extends VoiceSettings {
  sid: string;
  accountSid: string;
  username: string;
  friendlyName: string;
  /** The realm the HA1 values were computed for. */
  realm: string;
  /** hex MD5(username:realm:password). */
  ha1Md5: string;
  /** hex SHA-256(username:realm:password). */
  ha1Sha256: string;
  /** When set, that application's voice settings run the user's calls (like a number's). */
  voiceApplicationSid: string | null;
  /** SRTP policy for the user's calls, both directions. Absent means 'optional' (the store always returns it). */
  srtp?: SrtpPolicyName;
}

export interface StoredSipUserRecord extends SipUserRecord {
  dateCreated: string;
  dateUpdated: string;
}

export type SipUserPatch = Partial<Omit<SipUserRecord, 'sid' | 'accountSid'>>;

export interface SipUserStore {
  /** Rejects 'DUPLICATE_USERNAME' when the username is taken (by any account), 'INVALID_RECORD' on a bad field. */
  createSipUser(rec: SipUserRecord): Promise<StoredSipUserRecord>;
  updateSipUser(accountSid: string, sid: string, patch: SipUserPatch): Promise<StoredSipUserRecord | null>;
  getSipUser(accountSid: string, sid: string): Promise<StoredSipUserRecord | null>;
  /** Registrar and call authentication: the user with this username, whichever account owns it. */
  findSipUser(username: string): Promise<StoredSipUserRecord | null>;
  listSipUsers(q: ResourceListQuery & { username?: string; friendlyName?: string }): Promise<ResourcePage<StoredSipUserRecord>>;
  deleteSipUser(accountSid: string, sid: string): Promise<boolean>;
}

/**
 * An account's speech choices: the recognizer for Gathers that name none (`speechModel` names one
 * explicitly), the default recognition language, and the account's own engine credentials, which
 * take precedence over the server's. Plain data: validated by the API, interpreted by speech/.
 */
export interface AccountSpeechSettings {
  recognizer?: string;
  language?: string;
  deepgram?: { apiKey: string; url?: string };
  openai?: { apiKey: string; url?: string };
  websocket?: { url: string; token?: string };
}

export interface AccountStore {
  /**
   * Makes sure an account exists. With `sid`: that account (created if missing); an `authToken`
   * given here replaces the stored one, because configuration is the source of truth. Without
   * `sid`: the oldest account, or a new one with a generated SID. A missing token is generated.
   */
  ensureAccount(opts: { sid?: string; authToken?: string }): Promise<{ account: Account; created: boolean }>;
  getAccount(sid: string): Promise<Account | null>;
  /** Null when the account does not exist; `{}` when it has chosen nothing. */
  getSpeechSettings(accountSid: string): Promise<AccountSpeechSettings | null>;
  /** Replaces the whole document; rejects with StoreError 'ACCOUNT_NOT_FOUND'. */
  setSpeechSettings(accountSid: string, settings: AccountSpeechSettings): Promise<void>;
}

/**
 * A recording's life: 'in-progress' while audio is written, then 'completed' (a playable file),
 * 'absent' (nothing was recorded, e.g. silence trimmed to nothing; no file) or 'failed' (the
 * file could not be written or recovered). Twilio's recording statuses plus 'failed', which its
 * recordingStatusCallback uses.
 */
export type RecordingStatus = 'in-progress' | 'completed' | 'failed' | 'absent';

export const RECORDING_STATUSES: readonly RecordingStatus[] = ['in-progress', 'completed', 'failed', 'absent'];

/** What made the recording (Twilio's `source` values; Patchbay produces RecordVerb and DialVerb). */
export type RecordingSource =
  | 'RecordVerb'
  | 'DialVerb'
  | 'Conference'
  | 'OutboundAPI'
  | 'Trunking'
  | 'StartCallRecordingAPI'
  | 'StartConferenceRecordingAPI';

export const RECORDING_SOURCES: readonly RecordingSource[] = [
  'RecordVerb', 'DialVerb', 'Conference', 'OutboundAPI', 'Trunking', 'StartCallRecordingAPI', 'StartConferenceRecordingAPI',
];

export interface RecordingRecord {
  /** `RE` + 32 hex. */
  sid: string;
  accountSid: string;
  callSid: string;
  status: RecordingStatus;
  source: RecordingSource;
  /** 1, or 2 for dual-channel Dial recordings. */
  channels: 1 | 2;
  sampleRate: number;
  /** Whole seconds; null while in progress. */
  durationSeconds: number | null;
  /** ISO 8601: when recording began. */
  startTime: string;
  /** Relative to the data directory, forward slashes (see recording-paths.ts). */
  filePath: string;
  /** File size in bytes, header included; null while in progress or when there is no file. */
  bytes: number | null;
  /** Twilio error code when failed/absent, else null. */
  errorCode: number | null;
}

export interface StoredRecordingRecord extends RecordingRecord {
  dateCreated: string;
  dateUpdated: string;
}

/** Fields a recording may change after creation (its identity and owner never change). */
export type RecordingPatch = Partial<Omit<RecordingRecord, 'sid' | 'accountSid' | 'callSid'>>;

export interface RecordingListQuery {
  accountSid: string;
  callSid?: string;
  /** 1–1000. */
  pageSize: number;
  pageToken?: string;
}

export interface RecordingPage {
  recordings: StoredRecordingRecord[];
  nextPageToken: string | null;
}

export interface RecordingStore {
  /** Rejects with StoreError 'DUPLICATE_SID' if the SID exists, 'INVALID_RECORD' on a bad field. */
  createRecording(rec: RecordingRecord): Promise<void>;
  /** Rejects with StoreError 'RECORDING_NOT_FOUND' if no such recording. */
  updateRecording(sid: string, patch: RecordingPatch): Promise<void>;
  /** Null when the recording does not exist or belongs to another account. */
  getRecording(accountSid: string, sid: string): Promise<StoredRecordingRecord | null>;
  /** Newest first (startTime desc, sid desc), optionally one call's. Rejects 'INVALID_PAGE_TOKEN' / 'INVALID_QUERY'. */
  listRecordings(q: RecordingListQuery): Promise<RecordingPage>;
  /**
   * Deletes the record (not the file: the caller owns files). False when it does not exist or
   * belongs to another account; rejects with 'RECORDING_IN_PROGRESS' while it is being written.
   */
  deleteRecording(accountSid: string, sid: string): Promise<boolean>;
  /** Every account's 'in-progress' recordings, oldest first: start-up recovery's input. */
  listInProgressRecordings(): Promise<StoredRecordingRecord[]>;
}

export type StoreErrorCode =
  | 'CALL_NOT_FOUND'
  | 'RECORDING_NOT_FOUND'
  | 'ACCOUNT_NOT_FOUND'
  | 'RECORDING_IN_PROGRESS'
  | 'CALL_IN_PROGRESS'
  | 'DUPLICATE_NUMBER'
  | 'DUPLICATE_USERNAME'
  | 'DUPLICATE_SID'
  | 'INVALID_PAGE_TOKEN'
  | 'INVALID_QUERY'
  | 'INVALID_RECORD'
  | 'STORE_CLOSED'
  | 'STORE_LOCKED'
  | 'WORKER_FAILED'
  | 'MIGRATION_FAILED'
  | 'DB_ERROR';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
