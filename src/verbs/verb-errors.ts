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
  PlayLoop: 13410,
  SayLoop: 13510,
  SayVoice: 13511,
  SayText: 13520,
  RedirectMethod: 13710,
  RejectReason: 13810,
  PauseLength: 13910,
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
