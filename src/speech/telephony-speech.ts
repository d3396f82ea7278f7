/**
 * Speech ready for a phone line: any TextToSpeech engine's output converted to 8 kHz mono PCM and
 * memoized, so a prompt that many calls say is synthesized and resampled once.
 *
 * `speakStream` yields the 8 kHz audio chunk by chunk while the engine is still synthesizing, so a
 * cloud voice starts playing after its first chunk. The conversion runs through one stateful
 * streaming Resampler per synthesis ('fast' quality): its filter spans chunk edges, so the result
 * is the same as resampling the whole clip at once, without clicks where chunks meet. Concurrent
 * identical requests share one synthesis (a late one first gets the chunks already made); the
 * finished clip is memoized, and a memoized clip is yielded whole, at once.
 *
 * Aborting the caller's signal rejects with the signal's reason (the call's own AbortError), as
 * every call-side wait does; the shared synthesis stops only when no caller is left.
 */
import { Resampler } from '../media/resampler.js';
import { audioChunks, SharedSynthesis, TtsError, type SynthesisRequest, type SynthesizedAudio, type TextToSpeech } from './text-to-speech.js';

const TELEPHONY_RATE = 8000;

/** What to say: `ssml` (the <Say> fragment, when it had markup) wins over `text` for the engine. */
export interface SpeechInput {
  text: string;
  voice: string;
  language: string;
  ssml?: string;
}

function toFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}

function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Any-rate chunks in, 8 kHz chunks out, through one Resampler for the whole stream. */
export async function* toTelephonyRate(chunks: AsyncIterable<SynthesizedAudio>): AsyncGenerator<SynthesizedAudio> {
  let inputRate: number | undefined;
  let resampler: Resampler | undefined;
  for await (const chunk of chunks) {
    inputRate ??= chunk.sampleRate;
    if (chunk.sampleRate !== inputRate) throw new TtsError('engine-failed', `chunk at ${chunk.sampleRate} Hz in a ${inputRate} Hz stream`);
    if (inputRate === TELEPHONY_RATE) {
      yield chunk;
      continue;
    }
    resampler ??= new Resampler(inputRate, TELEPHONY_RATE, { quality: 'fast' });
    const out = resampler.process(toFloat(chunk.samples));
    if (out.length > 0) yield { samples: toInt16(out), sampleRate: TELEPHONY_RATE };
  }
  const tail = resampler?.flush();
  if (tail && tail.length > 0) yield { samples: toInt16(tail), sampleRate: TELEPHONY_RATE };
}

function callerAbort(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('aborted', 'AbortError');
}

export class TelephonySpeech {
  private readonly memo = new Map<string, Int16Array>();
  private memoBytes = 0;
  private readonly inflight = new Map<string, SharedSynthesis>();

  constructor(
    private readonly tts: TextToSpeech,
    private readonly maxMemoryBytes = 64 * 1024 * 1024,
  ) {}

  /** 8 kHz mono PCM for `text` (or the `ssml` fragment). Concurrent identical requests share one synthesis. */
  async speak(text: string, voice: string, language: string, signal?: AbortSignal, ssml?: string): Promise<Int16Array> {
    const input: SpeechInput = ssml === undefined ? { text, voice, language } : { text, voice, language, ssml };
    if (signal?.aborted) throw callerAbort(signal);
    const key = this.keyFor(input);
    const hit = this.memoHit(key);
    if (hit) return hit;
    try {
      return (await this.shared(key, input).join(signal)).samples;
    } catch (err) {
      if (signal?.aborted) throw callerAbort(signal);
      throw err;
    }
  }

  /** The same audio as `speak`, as 8 kHz chunks while it is being synthesized. */
  async *speakStream(input: SpeechInput, signal?: AbortSignal): AsyncGenerator<Int16Array> {
    if (signal?.aborted) throw callerAbort(signal);
    const key = this.keyFor(input);
    const hit = this.memoHit(key);
    if (hit) {
      yield hit;
      return;
    }
    try {
      for await (const chunk of this.shared(key, input).listen(signal)) yield chunk.samples;
    } catch (err) {
      if (signal?.aborted) throw callerAbort(signal);
      throw err;
    }
  }

  private keyFor(input: SpeechInput): string {
    const what = input.ssml !== undefined ? `ssml\u0000${input.ssml}` : `text\u0000${input.text}`;
    return `${this.tts.name}\u0000${input.voice}\u0000${input.language}\u0000${what}`;
  }

  private memoHit(key: string): Int16Array | undefined {
    const hit = this.memo.get(key);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order, so re-insert.
      this.memo.delete(key);
      this.memo.set(key, hit);
    }
    return hit;
  }

  private shared(key: string, input: SpeechInput): SharedSynthesis {
    const current = this.inflight.get(key);
    if (current && !current.abandoned) return current;
    const req: SynthesisRequest =
      input.ssml !== undefined
        ? { text: input.ssml, voice: input.voice, language: input.language, ssml: true }
        : { text: input.text, voice: input.voice, language: input.language };
    const job = new SharedSynthesis((signal) => toTelephonyRate(audioChunks(this.tts, req, signal)), {
      fallbackRate: TELEPHONY_RATE,
      onComplete: (whole) => this.remember(key, whole.samples),
    });
    this.inflight.set(key, job);
    const done = (): void => {
      if (this.inflight.get(key) === job) this.inflight.delete(key);
    };
    job.whole.then(done, done);
    return job;
  }

  private remember(key: string, pcm: Int16Array): void {
    if (pcm.byteLength > this.maxMemoryBytes) return;
    this.memo.set(key, pcm);
    this.memoBytes += pcm.byteLength;
    for (const [oldest, old] of this.memo) {
      if (this.memoBytes <= this.maxMemoryBytes) break;
      this.memo.delete(oldest);
      this.memoBytes -= old.byteLength;
    }
  }
}
