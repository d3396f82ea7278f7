/**
 * Speech ready for a phone line: any TextToSpeech engine's output converted to 8 kHz mono PCM and
 * memoized, so a prompt that many calls say is synthesized and resampled once.
 */
import type { TextToSpeech } from './text-to-speech.js';
import { resample } from '../media/resampler.js';

const TELEPHONY_RATE = 8000;

function toFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}

function toInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * 32767);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

export class TelephonySpeech {
  private readonly memo = new Map<string, Promise<Int16Array>>();
  private memoBytes = 0;
  private readonly sizes = new Map<string, number>();

  constructor(
    private readonly tts: TextToSpeech,
    private readonly maxMemoryBytes = 64 * 1024 * 1024,
  ) {}

  /** 8 kHz mono PCM for `text`. Concurrent identical requests share one synthesis. */
  speak(text: string, voice: string, language: string, signal?: AbortSignal): Promise<Int16Array> {
    const key = `${this.tts.name}\u0000${voice}\u0000${language}\u0000${text}`;
    const hit = this.memo.get(key);
    if (hit) {
      // Refresh recency: Map iteration order is insertion order, so re-insert.
      this.memo.delete(key);
      this.memo.set(key, hit);
      return hit;
    }
    // The synthesis itself is not tied to one caller's signal: other calls may share it.
    const job = this.tts.synthesize({ text, voice, language }).then((audio) => {
      const pcm = audio.sampleRate === TELEPHONY_RATE ? audio.samples : toInt16(resample(toFloat(audio.samples), audio.sampleRate, TELEPHONY_RATE));
      this.remember(key, pcm.byteLength);
      return pcm;
    });
    job.catch(() => this.memo.delete(key));
    this.memo.set(key, job);
    if (!signal) return job;
    return new Promise<Int16Array>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      job.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private remember(key: string, bytes: number): void {
    this.sizes.set(key, bytes);
    this.memoBytes += bytes;
    for (const oldest of this.memo.keys()) {
      if (this.memoBytes <= this.maxMemoryBytes || oldest === key) break;
      this.memo.delete(oldest);
      this.memoBytes -= this.sizes.get(oldest) ?? 0;
      this.sizes.delete(oldest);
    }
  }
}
