/**
 * OpenAI text-to-speech over its speech endpoint:
 *   POST {baseUrl}/v1/audio/speech, Authorization: Bearer <key>, Content-Type: application/json
 *   body { model, input, voice, response_format: "pcm", instructions? }
 * With `response_format: "pcm"` the answer is raw 24 kHz signed 16-bit little-endian mono,
 * streamed as a chunked body (the default `stream_format: "audio"`); it is yielded as it arrives.
 *
 * OpenAI reads plain text only: SSML is flattened to words, and breaks of half a second or more
 * become real silence between two requests (ssml-subset.ts). Input over 4,096 characters (the
 * API's limit) is split at paragraph/sentence boundaries into several requests.
 * Language: the models speak the language of the text; for models that take `instructions`
 * (not tts-1 / tts-1-hd) the <Say> language is added to them ("Speak in French (France).").
 */
import { plainParts, splitForLimit } from './ssml-subset.js';
import { postForAudio, S16leDecoder, silence } from './http-audio-stream.js';
import {
  abortedError,
  collectAudio,
  TtsError,
  type SynthesisRequest,
  type SynthesizedAudio,
  type TextToSpeech,
} from './text-to-speech.js';

export interface OpenAiTtsOptions {
  apiKey: string;
  /** Default https://api.openai.com. */
  baseUrl?: string;
  /** Default gpt-4o-mini-tts. */
  model?: string;
  /** Longest wait for the answer or between two audio chunks (default 10,000 ms). */
  timeoutMs?: number;
  /** Voice used when the request's voice names none (default "alloy"). */
  defaultVoice?: string;
  /** Style instructions sent with every request (models other than tts-1 / tts-1-hd). */
  instructions?: string;
  /** 0.25 .. 4.0 (the API's default is 1.0). */
  speed?: number;
}

export const OPENAI_BASE_URL = 'https://api.openai.com';
export const OPENAI_DEFAULT_MODEL = 'gpt-4o-mini-tts';
/** `response_format: "pcm"` is 24 kHz s16le mono. */
export const OPENAI_PCM_RATE = 24_000;
/** The API's limit on `input`. */
const MAX_INPUT_CHARS = 4096;

const BUILT_IN_VOICES = new Set(['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar']);

/** `OpenAI.<voice>` → the voice; built-in names are lower-cased. Case-insensitive prefix. */
export function openAiVoice(voice: string): string | undefined {
  const m = /^openai(?:\.(.*))?$/i.exec(voice.trim());
  const name = m?.[1]?.trim();
  if (!name) return undefined;
  return BUILT_IN_VOICES.has(name.toLowerCase()) ? name.toLowerCase() : name;
}

/** "fr-FR" → "French (France)"; undefined when the tag is not a language. */
function languageName(language: string): string | undefined {
  const tag = language.trim().replace(/_/g, '-');
  if (!tag) return undefined;
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(canonical!);
    return name && name.toLowerCase() !== canonical!.toLowerCase() ? name : undefined;
  } catch {
    return undefined; // not a well-formed BCP 47 tag: say nothing about the language
  }
}

function errorMessage(json: unknown): string | undefined {
  // {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}
  const error = (json as { error?: unknown } | null)?.error;
  if (!error || typeof error !== 'object') return undefined;
  const { message, code } = error as { message?: unknown; code?: unknown };
  if (typeof message !== 'string') return undefined;
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

export class OpenAiTts implements TextToSpeech {
  readonly name: string;
  readonly sampleRate = OPENAI_PCM_RATE;
  private readonly baseUrl: string;
  private readonly model: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: OpenAiTtsOptions) {
    if (!opts.apiKey) throw new TtsError('invalid-request', 'OpenAI: apiKey is required');
    this.baseUrl = (opts.baseUrl ?? OPENAI_BASE_URL).replace(/\/+$/, '');
    this.model = opts.model ?? OPENAI_DEFAULT_MODEL;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const style = [opts.instructions ?? '', opts.speed ?? ''].join('|');
    this.name = `openai:${this.model}${style === '|' ? '' : `:${style}`}`;
  }

  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio> {
    return collectAudio(this.synthesizeStream(req, signal), this.sampleRate);
  }

  async *synthesizeStream(req: SynthesisRequest, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    if (signal?.aborted) throw abortedError(signal);
    const voice = openAiVoice(req.voice) ?? this.opts.defaultVoice ?? 'alloy';
    for (const part of plainParts(req.text, req.ssml ?? false)) {
      if ('pauseMs' in part) {
        yield { samples: silence(part.pauseMs, this.sampleRate), sampleRate: this.sampleRate };
        continue;
      }
      for (const input of splitForLimit(part.text, MAX_INPUT_CHARS)) yield* this.streamInput(input, voice, req.language, signal);
    }
  }

  private instructions(language: string): string | undefined {
    if (/^tts-1/.test(this.model)) return undefined; // "does not work with tts-1 or tts-1-hd"
    const name = languageName(language);
    const parts = [this.opts.instructions?.trim(), name ? `Speak in ${name}.` : undefined].filter((p): p is string => !!p);
    return parts.length > 0 ? parts.join(' ') : undefined;
  }

  private async *streamInput(input: string, voice: string, language: string, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    const body: Record<string, unknown> = {
      model: this.model,
      input,
      voice: voice.startsWith('voice_') ? { id: voice } : voice, // custom voices are objects
      response_format: 'pcm',
    };
    const instructions = this.instructions(language);
    if (instructions) body.instructions = instructions;
    if (this.opts.speed !== undefined) body.speed = this.opts.speed;
    const bytes = postForAudio({
      provider: 'OpenAI',
      url: `${this.baseUrl}/v1/audio/speech`,
      headers: { Authorization: `Bearer ${this.opts.apiKey}`, 'Content-Type': 'application/json' },
      body,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
      errorMessage,
    });
    const pcm = new S16leDecoder();
    for await (const chunk of bytes) {
      const samples = pcm.push(chunk);
      if (samples.length > 0) yield { samples, sampleRate: this.sampleRate };
    }
    if (!pcm.aligned) throw new TtsError('engine-failed', 'OpenAI: the PCM stream ended in the middle of a sample');
  }
}
