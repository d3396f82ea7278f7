/**
 * The typed verb model: what an application asked a call to do.
 *
 * TwiML (`twiml-reader.ts`) and JSON (`json-reader.ts`) are two readers into this one model; nothing
 * after a reader knows which format the app used. URLs are kept exactly as written (possibly
 * relative): the engine resolves them against the URL of the document they came from.
 *
 * Adding a verb (Gather, Record, Dial, Stream...) means: an interface here, a member of `Verb`,
 * a spec in `verb-builders.ts`, a schema branch in `json-verbs.schema.json`, and removing its entry
 * from `PENDING_VERBS` below.
 */

export type HttpMethod = 'GET' | 'POST';

/** `loop="0"` means "until hangup"; Twilio caps that (and any larger count) at 1000 iterations. */
export const MAX_LOOP = 1000;

export interface SayVerb {
  verb: 'say';
  /** Plain text to speak (SSML children flattened to their spoken text). */
  text: string;
  /** The original SSML fragment (inner markup of `<Say>`), present only when the text had SSML children. */
  ssml?: string;
  voice: string;
  language: string;
  /** 1..1000, or 0 = repeat until hangup (capped at MAX_LOOP). */
  loop: number;
}

export interface PlayVerb {
  verb: 'play';
  /** Media URL as written (may be relative); null when `digits` is used instead. */
  url: string | null;
  /** DTMF to send (`0-9 A-D * #`, `w` = 0.5 s pause, `W` = 1 s pause); null when a URL is played. */
  digits: string | null;
  loop: number;
}

export interface PauseVerb {
  verb: 'pause';
  /** Seconds. */
  length: number;
}

export interface HangupVerb {
  verb: 'hangup';
}

export interface RejectVerb {
  verb: 'reject';
  reason: 'rejected' | 'busy';
}

export interface RedirectVerb {
  verb: 'redirect';
  /** Target document URL as written (may be relative). */
  url: string;
  method: HttpMethod;
}

export type GatherInput = 'dtmf' | 'speech';

/** What `<Gather>` may nest: prompts that stop when the caller starts answering (barge-in). */
export type PromptVerb = SayVerb | PlayVerb | PauseVerb;

export interface GatherVerb {
  verb: 'gather';
  /** Where the result goes, as written; null = the current document's URL (Twilio's default). */
  action: string | null;
  method: HttpMethod;
  /** Which inputs end the gather; non-empty. */
  input: GatherInput[];
  /** Seconds to wait for input after the prompts (and between digits). */
  timeout: number;
  /** Seconds of silence that end speech, `auto` (end at the first pause), or null = `timeout`. */
  speechTimeout: number | 'auto' | null;
  /** Key that submits the digits; '' = none. */
  finishOnKey: string;
  /** Digits that end the gather by themselves; null = unlimited. */
  numDigits: number | null;
  actionOnEmptyResult: boolean;
  partialResultCallback: string | null;
  partialResultCallbackMethod: HttpMethod;
  /** Recognition language; null = the account's default (en-US unless it chose another). */
  language: string | null;
  hints: string[];
  speechModel: string;
  profanityFilter: boolean;
  /** Caller input stops the prompts (Twilio's default). */
  bargeIn: boolean;
  /** Longest speech accepted, seconds. */
  maxSpeechTime: number;
  prompts: PromptVerb[];
}

export type RecordingStatusEvent = 'in-progress' | 'completed' | 'absent';

export interface RecordVerb {
  verb: 'record';
  /** Where RecordingUrl, RecordingDuration and Digits go; null = the current document's URL. */
  action: string | null;
  method: HttpMethod;
  /** Seconds of silence that end the recording; 0 = never. */
  timeout: number;
  /** Keys that end the recording (any of them); '' = none. */
  finishOnKey: string;
  /** Longest recording, seconds. */
  maxLength: number;
  playBeep: boolean;
  trim: 'trim-silence' | 'do-not-trim';
  recordingStatusCallback: string | null;
  recordingStatusCallbackMethod: HttpMethod;
  recordingStatusCallbackEvent: RecordingStatusEvent[];
  transcribe: boolean;
  transcribeCallback: string | null;
}

/** Which audio a stream carries: the caller's, what Patchbay plays to the caller, or both. */
export type StreamTrack = 'inbound_track' | 'outbound_track' | 'both_tracks';

/** `<Stream>`: live call audio to (and, in `<Connect>`, from) the app's WebSocket server. */
export interface StreamNoun {
  /** ws:// or wss:// URL (relative URLs resolve against the document, http→ws, https→wss). */
  url: string;
  /** Unique per call; `<Stop><Stream name>` uses it. Null = known by its SID only. */
  name: string | null;
  track: StreamTrack;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  /** `<Parameter name value/>` children, in document order (sent as `start.customParameters`). */
  parameters: [string, string][];
  /**
   * Patchbay: `twilio` = Twilio's JSON protocol (base64 µ-law 8 kHz); `l16` = binary 16-bit PCM at
   * `sampleRate` with JSON control frames (docs/media-streams.md).
   */
  format: 'twilio' | 'l16';
  sampleRate: 8000 | 16000 | 24000;
  /** Patchbay: tell the app when the caller starts and stops speaking (`speech-started`/`speech-stopped`). */
  speechEvents: boolean;
  /** Patchbay: the caller starting to speak clears the app's queued audio, as a `clear` would. */
  clearOnSpeech: boolean;
}

/** `<Start>`: forks that run alongside the rest of the document. */
export interface StartVerb {
  verb: 'start';
  /** Requested (and its document run) right after the streams start; null = next verb. */
  action: string | null;
  method: HttpMethod;
  streams: StreamNoun[];
}

/** `<Stop>`: stops the named forks. */
export interface StopVerb {
  verb: 'stop';
  streams: string[];
}

/** `<Connect><Stream>`: the app talks with the caller until it closes the socket. */
export interface ConnectVerb {
  verb: 'connect';
  action: string | null;
  method: HttpMethod;
  stream: StreamNoun;
}

/** Status callbacks of one `<Dial>` target leg (`<Number>`, `<Sip>`, `<Client>` attributes). */
export interface DialLegCallbacks {
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  /** Subset of initiated, ringing, answered, completed; Twilio's default is completed only. */
  statusCallbackEvent: ('initiated' | 'ringing' | 'answered' | 'completed')[];
}

/** Whisper: a document run on the called party once it answers, before the bridge (it may `<Hangup/>` to refuse). */
export interface DialWhisper {
  url: string | null;
  method: HttpMethod;
}

/** `<Number>` (or a `<Dial>`'s text): a phone number, reached through the account's carriers. */
export interface DialNumberNoun extends DialLegCallbacks, DialWhisper {
  noun: 'number';
  /** As written, spaces and dashes removed (`+14155550100`, `1000`). */
  number: string;
  /** DTMF sent once the callee answers (`w` = 0.5 s). */
  sendDigits: string | null;
}

/** `<Sip>`: a SIP URI (its `?X-Header=value` part becomes INVITE headers), optionally with digest credentials. */
export interface DialSipNoun extends DialLegCallbacks, DialWhisper {
  noun: 'sip';
  /** The URI without its header part. */
  uri: string;
  /** Headers from the URI's `?...` part and `<Headers><Header>` children, in order. */
  headers: [string, string][];
  username: string | null;
  password: string | null;
}

/** `<Client>`: every registered device of a SIP user (`identity` = username). */
export interface DialClientNoun extends DialLegCallbacks, DialWhisper {
  noun: 'client';
  identity: string;
  /** `<Parameter>` children, sent as X-PB-Param-<name> headers. */
  parameters: [string, string][];
}

export type DialNoun = DialNumberNoun | DialSipNoun | DialClientNoun;

export type DialRecord = 'do-not-record' | 'record-from-answer' | 'record-from-ringing' | 'record-from-answer-dual' | 'record-from-ringing-dual';

/** `<Dial>`: ring one or more targets (in parallel, or in sequence) and bridge the caller to the first that answers. */
export interface DialVerb {
  verb: 'dial';
  /** Where DialCallStatus & co go; null = go on with the next verb. */
  action: string | null;
  method: HttpMethod;
  /** Ring seconds per attempt (5–600; default 30). */
  timeout: number;
  /** Longest bridged time, seconds (default 14400). */
  timeLimit: number;
  /** From of the outgoing legs; null = the caller's (the parent call's From). */
  callerId: string | null;
  /** Keep the caller unanswered (ringing, early media) until a callee answers. */
  answerOnBridge: boolean;
  /** Country code of the ringback played to an answered caller while targets ring; null = `us`. */
  ringTone: string | null;
  /** The caller's `*` ends the bridged leg and the document continues. */
  hangupOnStar: boolean;
  record: DialRecord;
  recordingStatusCallback: string | null;
  recordingStatusCallbackMethod: HttpMethod;
  recordingStatusCallbackEvent: RecordingStatusEvent[];
  recordingTrack: 'inbound' | 'outbound' | 'both';
  trim: 'trim-silence' | 'do-not-trim';
  /** Ring the nouns one after another instead of all at once. */
  sequential: boolean;
  /** Where a REFER from the bridged callee goes (ReferTransferTarget); null = Patchbay transfers by itself. */
  referUrl: string | null;
  referMethod: HttpMethod;
  /** 1–10 nouns. */
  targets: DialNoun[];
}

/** `<Refer>`: blind transfer of the caller's SIP leg with a REFER to its side. */
export interface ReferVerb {
  verb: 'refer';
  action: string | null;
  method: HttpMethod;
  /** The `<Sip>` target URI (without its header part). */
  target: string;
  /** Headers from the URI's `?...` part (sent on the REFER: X-*, User-to-User). */
  headers: [string, string][];
}

export type Verb =
  | SayVerb
  | PlayVerb
  | PauseVerb
  | HangupVerb
  | RejectVerb
  | RedirectVerb
  | GatherVerb
  | RecordVerb
  | StartVerb
  | StopVerb
  | ConnectVerb
  | DialVerb
  | ReferVerb;
export type VerbName = Verb['verb'];

/** A non-fatal problem found while reading (Twilio logs these as debugger warnings). */
export interface VerbWarning {
  /** Twilio code: 12200 unknown attribute/ignored content, 13520 empty `<Say>`... */
  code: number;
  message: string;
  /** Index of the verb in the source document (before empty verbs were dropped), if any. */
  verbIndex?: number;
}

export interface VerbDocument {
  verbs: Verb[];
  warnings: VerbWarning[];
}

export const DEFAULTS = {
  sayVoice: 'man',
  sayLanguage: 'en-US',
  loop: 1,
  pauseLength: 1,
  rejectReason: 'rejected',
  redirectMethod: 'POST',
  gatherTimeout: 5,
  finishOnKey: '#',
  speechModel: 'default',
  maxSpeechTime: 60,
  recordTimeout: 5,
  recordFinishOnKey: '1234567890*#',
  recordMaxLength: 3600,
  /** Twilio's shorter default when transcribing (its transcription takes 2-120 s recordings). */
  recordMaxLengthTranscribed: 120,
  dialTimeout: 30,
  dialTimeLimit: 14400,
} as const;

/**
 * Verbs that exist in Twilio's vocabulary but that Patchbay does not execute yet, by TwiML name
 * (value = JSON name). Readers reject them with 12200 "<X> is not supported yet" rather than
 * "unknown verb", so apps get an honest message. Later issues delete entries as verbs land.
 */
export const PENDING_VERBS: Readonly<Record<string, string>> = {
  Enqueue: 'enqueue',
  Leave: 'leave',
  Sms: 'sms',
  Pay: 'pay',
  Echo: 'echo',
};

/** The same list by JSON name (value = TwiML name). */
export const PENDING_JSON_VERBS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(PENDING_VERBS).map(([twiml, json]) => [json, twiml]),
);
