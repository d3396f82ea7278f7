/**
 * The text-to-speech contract. <Say> asks an engine for audio through this interface only, so the
 * embedded eSpeak NG default, a cache wrapper and cloud engines (ElevenLabs, OpenAI, Polly...) are
 * interchangeable.
 */

export interface SynthesisRequest {
  text: string;
  /** Twilio voice name: man, woman, alice, Polly.Joanna, Google.en-US-Standard-C, ... */
  voice: string;
  /** BCP 47 language tag: en-US, fr-FR, de-DE, ... */
  language: string;
  /** `text` is an SSML document (or fragment) rather than plain text. */
  ssml?: boolean;
}

export interface SynthesizedAudio {
  /** Mono 16-bit PCM. */
  samples: Int16Array;
  sampleRate: number;
}

export interface TextToSpeech {
  /** Stable engine name; part of cache keys, so changing it invalidates cached audio. */
  readonly name: string;
  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio>;
  close?(): Promise<void>;
}

export type TtsErrorCode = 'aborted' | 'closed' | 'engine-failed' | 'invalid-request';

export class TtsError extends Error {
  override readonly name = 'TtsError';
  constructor(
    readonly code: TtsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
