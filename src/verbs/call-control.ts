/**
 * The narrow view of a live call that verb executors work with. `calls/` implements it; verb
 * executors never see SIP, RTP or storage, only these operations. Every long operation takes the
 * verb's AbortSignal: hangup, a REST redirect or barge-in abort the running verb the same way.
 */
import type { RecognitionEvents, RecognitionResult, RecognitionStream } from '../speech/speech-recognizer.js';
import type { DialVerb, HttpMethod, ReferVerb, StreamNoun } from './verb-model.js';

export type PlaybackOutcome = 'finished' | 'aborted' | 'cleared';

export interface SpeechRequest {
  text: string;
  ssml?: string;
  voice: string;
  language: string;
}

/** What a verb asks of speech recognition; the call picks the engine (account default or `speechModel`). */
/** A running Media Stream. */
export interface StreamHandle {
  sid: string;
  name: string | null;
  /** Settles once, when the stream has ended: stopped by us, closed by the app, or failed (with Twilio's code). */
  ended: Promise<{ reason: 'stopped' | 'app-closed' | 'failed'; code?: number; message?: string }>;
}

export interface RecognitionRequest {
  /** BCP 47 tag; null = the account's default language (en-US unless it chose another). */
  language: string | null;
  hints: readonly string[];
  /** Twilio's speechModel (`default`, `phone_call`, `deepgram_nova-3`, `pocketsphinx`...). */
  speechModel: string;
  profanityFilter: boolean;
  interimResults: boolean;
}

/** How a recording ended: `absent` when nothing was recorded, `failed` when the file could not be written. */
export interface RecordingOutcome {
  status: 'completed' | 'absent' | 'failed';
  durationSeconds: number;
}

/** A recording in progress on the call: audio written as it arrives, finished once. */
export interface RecordingHandle {
  readonly sid: string;
  /** Where the app downloads it (the account's credentials are needed). */
  readonly url: string;
  readonly startTime: Date;
  /** Appends 8 kHz mono PCM. */
  write(samples: Int16Array): void;
  /** Closes the file and the record; safe to call more than once (same result). */
  finish(): Promise<RecordingOutcome>;
}

/** A `<Dial>` as the call engine receives it: every URL already absolute. */
export type DialRequest = Omit<DialVerb, 'verb' | 'action' | 'method'>;

/** How a `<Dial>` ended: what its action URL receives (DialCallStatus, DialCallSid...). */
export interface DialResult {
  /** completed = a callee answered and the bridge ended; otherwise the last attempt's outcome. */
  status: 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
  /** The answered leg, else the last leg tried; null when no leg could be placed. */
  callSid: string | null;
  /** Seconds the callee was connected (null when nobody answered). */
  durationSeconds: number | null;
  bridged: boolean;
  /** The answered (or last) SIP leg's Call-ID and final response. */
  sipCallId: string | null;
  sipResponseCode: number | null;
  /** X- headers of that final response (DialSipHeader_X-*). */
  sipHeaders: Record<string, string>;
  /** Set when `record` was asked and something was recorded. */
  recordingUrl: string | null;
  /** The bridged callee asked to transfer the caller (REFER) and `referUrl` takes it: the Refer-To target. */
  referTransferTarget?: string | null;
}

export type ReferRequest = Omit<ReferVerb, 'verb' | 'action' | 'method'>;

/** How a `<Refer>` ended (ReferCallStatus, ReferSipResponseCode, NotifySipResponseCode). */
export interface ReferResult {
  /** completed = the far end accepted and reported the transfer done (NOTIFY 2xx); else failed. */
  status: 'completed' | 'failed';
  /** The REFER's final response (202 when accepted); null when none came. */
  referSipResponseCode: number | null;
  /** The status line of the last NOTIFY sipfrag; null when none came. */
  notifySipResponseCode: number | null;
}

export interface CallControl {
  /** True once the call has been answered (200 OK sent). */
  readonly answered: boolean;
  /** True once the call has ended (hung up by either side, failed...). */
  readonly ended: boolean;
  /** Answers the call if not yet answered (SDP answer, media endpoint). Idempotent. */
  answer(): Promise<void>;
  /** Refuses an unanswered call: busy → 486 Busy Here, rejected → 603 Decline. */
  reject(reason: 'busy' | 'rejected'): Promise<void>;
  /** Ends the call from our side (BYE when answered, a final error response otherwise). */
  hangup(): Promise<void>;
  /** Plays 8 kHz mono PCM on the call; resolves when its last sample has been sent. */
  play(samples: Int16Array, signal: AbortSignal): Promise<PlaybackOutcome>;
  /** Speech for `text`, as 8 kHz mono PCM (cached by the speech layer). */
  synthesize(text: string, voice: string, language: string, signal: AbortSignal): Promise<Int16Array>;
  /**
   * The same speech as 8 kHz chunks while the engine synthesizes (a cached prompt comes as one
   * chunk), so the first words play before the whole text is synthesized. `ssml` is the `<Say>`
   * markup, passed to engines that understand it.
   */
  synthesizeStream(speech: SpeechRequest, signal: AbortSignal): AsyncIterable<Int16Array>;
  /** Audio behind a media URL (already resolved against the document URL), as 8 kHz mono PCM. */
  loadMedia(url: string, signal: AbortSignal): Promise<Int16Array>;
  /** Waits `ms` milliseconds of call time; rejects with an AbortError when the signal fires. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /**
   * Calls `listener` for each DTMF key the caller presses from now on (RFC 4733, INFO or in-band),
   * and `onKeyDown` as soon as a key starts (before its digit is known to be complete), so prompts
   * can stop at once. Returns an unsubscribe.
   */
  onDigit(listener: (digit: string) => void, onKeyDown?: () => void): () => void;
  /** Calls `listener` with each frame of the caller's audio (8 kHz mono PCM) from now on; returns an unsubscribe. */
  onAudio(listener: (samples: Int16Array) => void): () => void;
  /** Sends DTMF to the caller (RFC 4733 when negotiated, tones otherwise); `w` waits 0.5 s, `W` 1 s. */
  sendDigits(digits: string, signal: AbortSignal): Promise<void>;
  /** Opens a speech-recognition stream for the caller's audio (8 kHz); rejects with an SttError. */
  recognize(request: RecognitionRequest, events: RecognitionEvents, signal: AbortSignal): Promise<RecognitionStream>;
  /**
   * Transcribes finished audio (8 kHz) with the account's default recognizer. Not tied to the call's
   * lifetime: a recording's transcription completes after the caller hangs up. `language` null =
   * the account's default language.
   */
  transcribe(samples: Int16Array, language: string | null): Promise<RecognitionResult | null>;
  /**
   * Starts a Media Stream (answering the call first); `stream.url` and `statusCallback` are absolute.
   * Rejects with a coded error (82004) when the call has no room for it; a connection failure
   * arrives through the handle's `ended`.
   */
  startStream(stream: StreamNoun, bidirectional: boolean): Promise<StreamHandle>;
  /** Stops a running stream by name or SID; false when there is none. */
  stopStream(nameOrSid: string): boolean;
  /** Starts a recording of this call (the verb decides what audio goes in). */
  startRecording(source: 'RecordVerb'): Promise<RecordingHandle>;
  /**
   * A signed request to the app in the background (partial results, recording status...), carrying
   * the call's standard parameters plus `params`; the response is ignored.
   */
  sendCallback(url: string, method: HttpMethod, params: Record<string, string>): void;
  /** Records a timeline event on the call (verb details, warnings). */
  note(type: string, detail: Record<string, unknown>): void;
  /**
   * `<Dial>`: rings the targets and bridges the caller to the first that answers (answering the
   * caller first unless answerOnBridge). Resolves when the attempt or the bridge is over; the
   * caller hanging up ends it too (check `ended`). Rejects only on a coded error (132xx).
   */
  dial(request: DialRequest, signal: AbortSignal): Promise<DialResult>;
  /** `<Refer>`: REFER to the caller's side; resolves with the final NOTIFY progress (or its absence). */
  refer(request: ReferRequest, signal: AbortSignal): Promise<ReferResult>;
}
