/**
 * The speech-to-text contract. <Gather input="speech">, <Record transcribe> and barge-in talk to a
 * recognizer through this interface only, so the embedded pocketsphinx default, cloud engines
 * (Deepgram, OpenAI) and a custom engine over WebSocket are interchangeable.
 *
 * A recognition is a stream: the caller's audio goes in frame by frame as it arrives (16-bit mono
 * PCM, normally 8 kHz telephony audio in 20 ms frames), results come out as events while it runs,
 * and `finish()` ends the audio and yields the final result.
 */

export interface RecognitionOptions {
  /** BCP 47 tag as the app wrote it (`en-US`, `fr-FR`...); engines map it to their own form. */
  language: string;
  /** Phrases the caller is likely to say (Twilio's `hints`): a grammar, keyword list or prompt. */
  hints: readonly string[];
  /** Sample rate of the audio given to `write` (Hz). */
  sampleRate: number;
  /** Engine-specific model name (`nova-3`, `gpt-4o-transcribe`...); undefined = the engine's default. */
  model?: string;
  /** Ask for interim results (only requested when the app has a partialResultCallback). */
  interimResults: boolean;
  /** Mask profanity when the engine can (Twilio's `profanityFilter`, default true). */
  profanityFilter: boolean;
}

export interface RecognitionResult {
  transcript: string;
  /** 0.0–1.0; engines that give none report 0 rather than inventing a value. */
  confidence: number;
  /** Milliseconds from the first sample written to the start and end of the recognised speech. */
  startMs: number;
  endMs: number;
}

export interface RecognitionEvents {
  /** An interim hypothesis that may still change. */
  partial?(result: RecognitionResult): void;
  /** A finished utterance. Engines that segment on pauses may report several per stream. */
  final?(result: RecognitionResult): void;
  /** The engine detected the start of speech (ms from the first sample), when it can tell. */
  speechStarted?(atMs: number): void;
  /** The stream failed after it was opened (connection lost, engine crashed). */
  error?(err: SttError): void;
}

export interface RecognitionStream {
  /** Appends audio (mono 16-bit PCM at `options.sampleRate`). Never blocks; engines buffer. */
  write(samples: Int16Array): void;
  /**
   * No more audio: the engine finalizes. Resolves with everything recognised in the stream (all
   * final utterances joined with spaces, the lowest confidence among them), or null when nothing
   * was recognised. Rejects with an SttError.
   */
  finish(): Promise<RecognitionResult | null>;
  /** Abandons the stream and releases its resources; results after this are dropped. */
  abort(): void;
}

export interface SpeechRecognizer {
  /** Stable engine name (`pocketsphinx`, `deepgram`, `openai`, `websocket`). */
  readonly name: string;
  /**
   * Opens a recognition stream. Rejects with SttError 'unavailable' when the engine cannot be
   * reached and 'unauthorized' when it refuses the credentials, so the app can be told clearly.
   */
  open(options: RecognitionOptions, events: RecognitionEvents, signal?: AbortSignal): Promise<RecognitionStream>;
  close?(): Promise<void>;
}

export type SttErrorCode = 'aborted' | 'closed' | 'unavailable' | 'unauthorized' | 'engine-failed' | 'invalid-request' | 'timeout';

export class SttError extends Error {
  override readonly name = 'SttError';
  constructor(
    readonly code: SttErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Joins an utterance list the way `finish()` reports it. */
export function joinResults(results: readonly RecognitionResult[]): RecognitionResult | null {
  const spoken = results.filter((r) => r.transcript.trim() !== '');
  if (spoken.length === 0) return null;
  return {
    transcript: spoken.map((r) => r.transcript.trim()).join(' '),
    confidence: Math.min(...spoken.map((r) => r.confidence)),
    startMs: spoken[0]!.startMs,
    endMs: spoken[spoken.length - 1]!.endMs,
  };
}
