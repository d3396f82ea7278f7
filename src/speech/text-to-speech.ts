/**
 * The text-to-speech contract. <Say> asks an engine for audio through this interface only, so the
 * embedded eSpeak NG default, a cache wrapper and cloud engines (ElevenLabs, OpenAI, Polly...) are
 * interchangeable.
 *
 * Engines that produce audio progressively (cloud APIs answering with a chunked body) also
 * implement `synthesizeStream`, so the first words can play while the rest is still being
 * synthesized. `synthesize` stays mandatory: callers that want the whole clip need not care.
 * `audioChunks()` gives every engine a stream (one chunk for engines that do not stream) and
 * `SharedSynthesis` lets several listeners share one stream while it is produced.
 */

export interface SynthesisRequest {
  /** Plain text, or an SSML fragment (the inner markup of `<Say>`, optionally inside `<speak>`) when `ssml`. */
  text: string;
  /** Twilio voice name: man, woman, alice, Polly.Joanna, Google.en-US-Standard-C, ElevenLabs.<id>, OpenAI.<voice>... */
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
  /**
   * Audio as it is synthesized: every chunk has the same sampleRate; concatenated, the chunks are
   * what `synthesize` would return. Aborting `signal` stops the synthesis (the iterator throws a
   * TtsError 'aborted'); leaving the loop early stops it too.
   */
  synthesizeStream?(req: SynthesisRequest, signal?: AbortSignal): AsyncIterable<SynthesizedAudio>;
  close?(): Promise<void>;
}

export type TtsErrorCode =
  | 'aborted'
  | 'closed'
  | 'engine-failed'
  | 'invalid-request'
  /** The provider refused the credentials (HTTP 401/403). */
  | 'unauthorized'
  /** The provider could not be reached, or answered 5xx, or cut the stream. */
  | 'unavailable'
  /** The provider throttled the request (HTTP 429). */
  | 'rate-limited'
  /** No answer, or no audio for too long. */
  | 'timeout';

export class TtsError extends Error {
  override readonly name = 'TtsError';
  /** HTTP status of a cloud provider's answer, when there was one. */
  readonly httpStatus: number | undefined;
  constructor(
    readonly code: TtsErrorCode,
    message: string,
    options?: { cause?: unknown; httpStatus?: number },
  ) {
    super(message, options);
    this.httpStatus = options?.httpStatus;
  }
}

/** The request's chunks: the engine's own stream when it has one, else its whole clip as one chunk. */
export async function* audioChunks(tts: TextToSpeech, req: SynthesisRequest, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
  if (tts.synthesizeStream) {
    yield* tts.synthesizeStream(req, signal);
    return;
  }
  yield await tts.synthesize(req, signal);
}

/** Concatenates chunks (which must share one sampleRate) into one clip. */
export function concatAudio(chunks: readonly SynthesizedAudio[], fallbackRate = 8000): SynthesizedAudio {
  if (chunks.length === 1) return chunks[0]!;
  const sampleRate = chunks[0]?.sampleRate ?? fallbackRate;
  let length = 0;
  for (const c of chunks) {
    if (c.sampleRate !== sampleRate) throw new TtsError('engine-failed', `chunk at ${c.sampleRate} Hz in a ${sampleRate} Hz stream`);
    length += c.samples.length;
  }
  const samples = new Int16Array(length);
  let offset = 0;
  for (const c of chunks) {
    samples.set(c.samples, offset);
    offset += c.samples.length;
  }
  return { samples, sampleRate };
}

/** Drains a stream into one clip. */
export async function collectAudio(chunks: AsyncIterable<SynthesizedAudio>, fallbackRate = 8000): Promise<SynthesizedAudio> {
  const all: SynthesizedAudio[] = [];
  for await (const c of chunks) all.push(c);
  return concatAudio(all, fallbackRate);
}

export function abortedError(signal: AbortSignal): TtsError {
  const reason: unknown = signal.reason;
  return reason instanceof TtsError ? reason : new TtsError('aborted', 'synthesis aborted', { cause: reason });
}

export interface SharedSynthesisOptions {
  /** Rate of the (empty) clip when the stream yields nothing (default 8000). */
  fallbackRate?: number;
  /** Runs with the whole clip before listeners see the end of the stream (e.g. to cache it). */
  onComplete?: (whole: SynthesizedAudio) => Promise<void> | void;
}

/**
 * One synthesis shared by any number of listeners: each `listen()` replays the chunks produced so
 * far, then follows live; `whole` is the concatenated clip once the stream ends. The producer runs
 * once, whoever listens; when every listener has left before the end, it is aborted (nobody would
 * hear it, and a cloud engine would bill for it) and `whole` rejects with 'aborted'.
 */
export class SharedSynthesis {
  readonly whole: Promise<SynthesizedAudio>;
  private readonly chunks: SynthesizedAudio[] = [];
  private state: 'running' | 'done' | 'failed' = 'running';
  private failure: unknown;
  private wake: (() => void)[] = [];
  private listeners = 0;
  private readonly controller = new AbortController();

  constructor(produce: (signal: AbortSignal) => AsyncIterable<SynthesizedAudio>, opts: SharedSynthesisOptions = {}) {
    this.whole = this.run(produce, opts);
    this.whole.catch(() => undefined); // observed through listen(); not an unhandled rejection
  }

  get finished(): boolean {
    return this.state !== 'running';
  }

  /**
   * Every listener left before the end and the synthesis is being stopped: a new request must
   * start its own instead of joining this one (it would only get 'aborted').
   */
  get abandoned(): boolean {
    return this.state !== 'done' && this.controller.signal.aborted;
  }

  /** Chunks from the first one on; `signal` releases this listener only. */
  async *listen(signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    if (signal?.aborted) throw abortedError(signal);
    this.listeners++;
    let wakeMe: (() => void) | undefined;
    const onAbort = (): void => wakeMe?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (let i = 0; ; ) {
        if (signal?.aborted) throw abortedError(signal);
        if (i < this.chunks.length) {
          yield this.chunks[i++]!;
          continue;
        }
        if (this.state === 'done') return;
        if (this.state === 'failed') throw this.failure;
        await new Promise<void>((resolve) => {
          wakeMe = resolve;
          this.wake.push(resolve);
        });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.listeners--;
      if (this.listeners === 0 && this.state === 'running') {
        this.controller.abort(new TtsError('aborted', 'every listener left the synthesis'));
      }
    }
  }

  /** The whole clip, counted as a listener (so aborting every waiter stops the synthesis). */
  async join(signal?: AbortSignal): Promise<SynthesizedAudio> {
    for await (const _ of this.listen(signal)) {
      // chunks are assembled once, in `whole`
    }
    return this.whole;
  }

  private async run(produce: (signal: AbortSignal) => AsyncIterable<SynthesizedAudio>, opts: SharedSynthesisOptions): Promise<SynthesizedAudio> {
    // Let the creator attach listeners before the first chunk arrives.
    await Promise.resolve();
    try {
      for await (const chunk of produce(this.controller.signal)) {
        if (this.chunks.length > 0 && chunk.sampleRate !== this.chunks[0]!.sampleRate) {
          throw new TtsError('engine-failed', `chunk at ${chunk.sampleRate} Hz in a ${this.chunks[0]!.sampleRate} Hz stream`);
        }
        if (chunk.samples.length === 0) continue;
        this.chunks.push(chunk);
        this.notify();
      }
      const whole = concatAudio(this.chunks, opts.fallbackRate);
      await opts.onComplete?.(whole);
      this.state = 'done';
      return whole;
    } catch (err) {
      this.failure = this.controller.signal.aborted ? abortedError(this.controller.signal) : err;
      this.state = 'failed';
      throw this.failure;
    } finally {
      this.notify();
    }
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const w of waiting) w();
  }
}
