/**
 * Typed, coded errors raised while reading a verb document. Codes are Twilio's, so that logs,
 * fallback requests (`ErrorCode`) and the call record speak the same language as Twilio's debugger.
 */

export const VerbErrorCode = {
  /** Invalid URL format (bad URL in `<Play>`/`<Redirect>` body or an `action` attribute). */
  InvalidUrl: 11100,
  /** Document parse failure: malformed XML/JSON, unknown entity, DOCTYPE, several roots. */
  ParseFailure: 12100,
  /** Root element must be `<Response>` (JSON: root must be an array or `{ "verbs": [...] }`). */
  InvalidRoot: 12102,
  /** Schema validation: unknown verb, verb not supported yet, bad nesting, bad value without a more specific code. */
  Schema: 12200,
  /** `<Dial>` (132xx): method, timeout (5-600), hangupOnStar, callerId, a nested element it cannot hold or more than 10 nouns, timeLimit, record. */
  DialMethod: 13210,
  DialTimeout: 13212,
  DialHangupOnStar: 13213,
  DialCallerId: 13214,
  DialNestedElement: 13215,
  DialTimeLimit: 13216,
  DialRecord: 13217,
  /** `<Number>`: url/method (whisper and status callback methods), sendDigits. */
  NumberMethod: 13221,
  NumberSendDigits: 13222,
  /** No number to dial (empty `<Dial>`, empty `<Number>`) or not `+?[0-9*#]+` once spaces, dashes, dots and parentheses are removed. */
  DialNumberFormat: 13223,
  /** `<Sip>`: the URI is not a `sip:`/`sips:` URI with a host, or its header part cannot be decoded. */
  SipUri: 13243,
  /** `<Sip>`: the header part of the URI (and `<Headers>`) exceeds 1024 characters. */
  SipTooManyHeaders: 13251,
  /** `<Sip>`: a header that is neither `X-*` nor one Twilio lets through (User-to-User, Remote-Party-ID, P-Preferred-Identity, P-Called-Party-ID). */
  SipHeaderName: 13252,
  GatherFinishOnKey: 13310,
  GatherMethod: 13312,
  GatherTimeout: 13313,
  GatherNumDigits: 13314,
  GatherNestedVerb: 13320,
  GatherSpeechTimeout: 13327,
  PlayLoop: 13410,
  SayLoop: 13510,
  SayVoice: 13511,
  SayText: 13520,
  RecordMethod: 13610,
  RecordTimeout: 13611,
  RecordMaxLength: 13612,
  RecordFinishOnKey: 13613,
  RecordTranscribe: 13614,
  RecordPlayBeep: 13616,
  RecordTrim: 13617,
  RedirectMethod: 13710,
  RejectReason: 13810,
  PauseLength: 13910,
  /** Media Streams (Twilio's debugger codes): the WebSocket upgrade failed or timed out. */
  StreamHandshake: 31920,
  /** The stream's socket closed abnormally or failed mid-stream. */
  StreamClose: 31921,
  /** The app's queued audio exceeded the playout limit. */
  StreamBufferOverflow: 31930,
  /** The app sent a message that is not valid for the protocol. */
  StreamInvalidMessage: 31951,
  /**
   * Patchbay's own codes (82xxx, outside Twilio's catalogue) for failures Twilio has no code for:
   * a speech recognizer that is down, refuses its credentials or fails mid-stream.
   */
  SpeechRecognitionFailed: 82001,
  /** Patchbay: a call already has 4 forks (or 1 bidirectional stream), or a stream name is taken. */
  StreamLimit: 82004,
  /** The recording file could not be written (disk full, permissions). */
  RecordingFailed: 82002,
  /** A text-to-speech engine failed (down, refused its key, rate-limited): the <Say> is skipped. */
  TextToSpeechFailed: 82003,
} as const;

export class VerbDocumentError extends Error {
  override readonly name = 'VerbDocumentError';

  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
