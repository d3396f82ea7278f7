/**
 * OpenAI transcription (`POST /v1/audio/transcriptions`, models `gpt-4o-transcribe`,
 * `gpt-4o-mini-transcribe`, `whisper-1`).
 *
 * The endpoint takes a whole file, so this adapter is not streaming: it buffers the caller's audio
 * (bounded, 60 s by default, the longest a Gather listens) and at finish() posts it as a WAV in a
 * multipart form. There are no partials, no speech-start events and no word times: the one final
 * result spans the whole audio. Confidence comes from the token log probabilities the gpt-4o
 * models return with `include[]=logprobs` (the geometric mean token probability); whisper-1 gives
 * none, so it reports 0.
 */
import { encodeWav } from '../media/wav.js';
import { systemClock, type Clock } from '../sip/clock.js';
import {
  SttError,
  type RecognitionEvents,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
} from './speech-recognizer.js';

export interface OpenAiRecognizerOptions {
  apiKey: string;
  /** Default `https://api.openai.com` (the adapter appends `/v1/audio/transcriptions`). */
  baseUrl?: string;
  /** Default `gpt-4o-transcribe`; a request's own model (speechModel `openai_whisper-1`) wins. */
  model?: string;
  /** Deadline for the request, from finish() to the parsed answer; default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Audio kept per stream; later audio is ignored. Default 60,000 ms. */
  maxAudioMs?: number;
  clock?: Clock;
}

/** ISO 639-1 codes that BCP 47 replaced; OpenAI expects the current ones. */
const RENAMED_LANGUAGES: Readonly<Record<string, string>> = { iw: 'he', in: 'id', ji: 'yi' };

/** `en-US` → `en`. Undefined when the tag has no two-letter language (the model then detects it). */
export function iso639_1(bcp47: string): string | undefined {
  const primary = bcp47.trim().split(/[-_]/)[0]!.toLowerCase();
  if (!/^[a-z]{2}$/.test(primary)) return undefined;
  return RENAMED_LANGUAGES[primary] ?? primary;
}

/** Only the gpt-4o transcription models return log probabilities (not whisper-1, not the diarizing one). */
function supportsLogprobs(model: string): boolean {
  return model.startsWith('gpt-4o') && !model.includes('diarize');
}

/** exp(mean log p) over the tokens: 0..1, 0 when there are none. */
function confidenceFrom(logprobs: unknown): number {
  if (!Array.isArray(logprobs)) return 0;
  const values = logprobs.map((t: { logprob?: unknown }) => t?.logprob).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (values.length === 0) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.min(1, Math.max(0, Math.exp(mean)));
}

/** The provider's own words from an error body (`{"error":{"message":...}}`), else the raw text. */
function providerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // not JSON: a proxy's HTML page, say; the text itself is the best description we have
  }
  return body.slice(0, 200) || 'no error message';
}

interface RequestConfig {
  url: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  maxSamples: number;
}

class OpenAiStream implements RecognitionStream {
  private readonly chunks: Int16Array[] = [];
  private samples = 0;
  private state: 'open' | 'finishing' | 'done' | 'aborted' = 'open';
  private finishPromise: Promise<RecognitionResult | null> | undefined;
  private readonly http = new AbortController();
  private readonly onAbort = (): void => this.abort();

  constructor(
    private readonly config: RequestConfig,
    private readonly options: RecognitionOptions,
    private readonly events: RecognitionEvents,
    private readonly clock: Clock,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  write(samples: Int16Array): void {
    if (this.state !== 'open') return;
    const room = this.config.maxSamples - this.samples;
    if (room <= 0) return;
    // A copy: callers reuse their frame buffers.
    const kept = samples.slice(0, room);
    this.chunks.push(kept);
    this.samples += kept.length;
  }

  finish(): Promise<RecognitionResult | null> {
    if (this.finishPromise) return this.finishPromise;
    if (this.state === 'aborted') return Promise.reject(new SttError('aborted', 'openai: stream was aborted'));
    this.state = 'finishing';
    this.finishPromise = this.transcribe().finally(() => {
      if (this.state === 'finishing') this.state = 'done';
      this.signal?.removeEventListener('abort', this.onAbort);
      this.chunks.length = 0;
    });
    return this.finishPromise;
  }

  abort(): void {
    if (this.state === 'done' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.chunks.length = 0;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.http.abort();
  }

  private async transcribe(): Promise<RecognitionResult | null> {
    if (this.samples === 0) return null;
    const pcm = new Int16Array(this.samples);
    let at = 0;
    for (const c of this.chunks) {
      pcm.set(c, at);
      at += c.length;
    }
    const endMs = Math.round((this.samples * 1000) / this.options.sampleRate);
    const body = this.form(encodeWav(pcm, this.options.sampleRate));

    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      this.http.abort();
    }, this.config.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await fetch(this.config.url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.config.apiKey}` },
        body,
        signal: this.http.signal,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (this.state === 'aborted') throw new SttError('aborted', 'openai: stream was aborted', { cause: err });
      if (timedOut) throw new SttError('timeout', `openai: no transcription within ${this.config.timeoutMs} ms`, { cause: err });
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new SttError('unavailable', `openai: cannot reach ${new URL(this.config.url).host} (${cause})`, { cause: err });
    } finally {
      this.clock.clearTimeout(timer);
    }
    if (this.state === 'aborted') throw new SttError('aborted', 'openai: stream was aborted');
    if (status < 200 || status > 299) {
      const message = `openai: HTTP ${status}: ${providerMessage(text)}`;
      if (status === 401 || status === 403) throw new SttError('unauthorized', message);
      if (status === 429 || status >= 500) throw new SttError('engine-failed', message);
      throw new SttError('invalid-request', message);
    }
    let parsed: { text?: unknown; logprobs?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (err) {
      throw new SttError('engine-failed', 'openai: the transcription is not JSON', { cause: err });
    }
    if (typeof parsed.text !== 'string') throw new SttError('engine-failed', 'openai: the transcription has no "text"');
    const transcript = parsed.text.trim();
    if (transcript === '') return null;
    const result: RecognitionResult = { transcript, confidence: confidenceFrom(parsed.logprobs), startMs: 0, endMs };
    this.events.final?.(result);
    return result;
  }

  private form(wav: Buffer): FormData {
    const form = new FormData();
    // A plain ArrayBuffer-backed copy: Blob's types reject a Buffer that might sit on shared memory.
    form.append('file', new Blob([new Uint8Array(wav)], { type: 'audio/wav' }), 'audio.wav');
    form.append('model', this.config.model);
    form.append('response_format', 'json');
    const language = iso639_1(this.options.language);
    if (language) form.append('language', language);
    const hints = this.options.hints.map((h) => h.trim()).filter((h) => h !== '');
    // The prompt steers vocabulary and spelling: a plain list of the expected phrases does that.
    if (hints.length > 0) form.append('prompt', hints.join(', '));
    if (supportsLogprobs(this.config.model)) form.append('include[]', 'logprobs');
    return form;
  }
}

export class OpenAiRecognizer implements SpeechRecognizer {
  readonly name = 'openai';
  private readonly clock: Clock;

  constructor(private readonly options: OpenAiRecognizerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Nothing goes over the network until finish(), so open() can only refuse a missing key or bad
   * options; an unreachable service or a refused key shows up as finish()'s rejection.
   */
  async open(options: RecognitionOptions, events: RecognitionEvents, signal?: AbortSignal): Promise<RecognitionStream> {
    if (signal?.aborted) throw new SttError('aborted', 'openai: aborted before opening');
    if (!this.options.apiKey) throw new SttError('unauthorized', 'openai: no API key configured');
    if (!Number.isInteger(options.sampleRate) || options.sampleRate <= 0) {
      throw new SttError('invalid-request', `openai: bad sample rate ${options.sampleRate}`);
    }
    const base = (this.options.baseUrl ?? 'https://api.openai.com').replace(/\/+$/, '');
    const config: RequestConfig = {
      url: `${base}/v1/audio/transcriptions`,
      apiKey: this.options.apiKey,
      model: options.model ?? this.options.model ?? 'gpt-4o-transcribe',
      timeoutMs: this.options.requestTimeoutMs ?? 30_000,
      maxSamples: Math.round(((this.options.maxAudioMs ?? 60_000) * options.sampleRate) / 1000),
    };
    return new OpenAiStream(config, options, events, this.clock, signal);
  }
}
