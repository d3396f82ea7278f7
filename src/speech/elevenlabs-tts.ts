/**
 * ElevenLabs text-to-speech over its HTTP streaming endpoint:
 *   POST {baseUrl}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000
 *   xi-api-key: <key>, Content-Type: application/json, body { text, model_id, language_code? }
 * The answer is a chunked body of raw audio, read and yielded as it arrives.
 *
 * Output format: `ulaw_8000` by default. It is already what a phone line carries — 8 kHz, G.711
 * µ-law — so there is nothing to resample (pcm_16000 would need a 2:1 low-pass resampler), it is
 * half the bytes, it is offered on every plan, and decoding is a table lookup. µ-law decoded to
 * linear and re-encoded to µ-law (PCMU) is bit-exact, so a PCMU call hears exactly what
 * ElevenLabs sent. `pcm_16000` remains available for wideband uses (recording, PCMA-only trunks).
 *
 * Voices: `ElevenLabs.<voice_id>` (the id is case-sensitive). SSML: see ssml-subset.ts.
 */
import { elevenLabsParts } from './ssml-subset.js';
import { decodeMulaw, postForAudio, S16leDecoder, silence } from './http-audio-stream.js';
import {
  abortedError,
  collectAudio,
  TtsError,
  type SynthesisRequest,
  type SynthesizedAudio,
  type TextToSpeech,
} from './text-to-speech.js';

export type ElevenLabsOutputFormat = 'ulaw_8000' | 'pcm_16000';

export interface ElevenLabsVoiceSettings {
  stability?: number;
  similarity_boost?: number;
  style?: number;
  use_speaker_boost?: boolean;
  speed?: number;
}

export interface ElevenLabsTtsOptions {
  apiKey: string;
  /** Default https://api.elevenlabs.io. */
  baseUrl?: string;
  /** Default eleven_flash_v2_5 (ElevenLabs' lowest-latency model, 32 languages). */
  model?: string;
  /** Longest wait for the answer or between two audio chunks (default 10,000 ms). */
  timeoutMs?: number;
  /** Default ulaw_8000 (see the module comment). */
  outputFormat?: ElevenLabsOutputFormat;
  /** Voice used when the request's voice names none (e.g. plain "ElevenLabs" or "woman"). */
  defaultVoiceId?: string;
  /** Sent as `voice_settings`; overrides the voice's stored settings for these requests. */
  voiceSettings?: ElevenLabsVoiceSettings;
}

export const ELEVENLABS_BASE_URL = 'https://api.elevenlabs.io';
export const ELEVENLABS_DEFAULT_MODEL = 'eleven_flash_v2_5';

/** Models that take `language_code` (the docs: an error is returned for other models). */
const LANGUAGE_CODE_MODELS = /(_v2_5|_v3)$/;
/** Models that honour SSML <phoneme> (English only). */
const PHONEME_MODELS = new Set(['eleven_flash_v2', 'eleven_turbo_v2', 'eleven_monolingual_v1']);
/** Eleven v3 ignores <break>; its pauses are rendered as real silence instead. */
const NO_BREAK_MODELS = /^eleven_v3/;

/** `ElevenLabs.<id>` → id; case-insensitive prefix. */
export function elevenLabsVoiceId(voice: string): string | undefined {
  const m = /^elevenlabs(?:\.(.*))?$/i.exec(voice.trim());
  const id = m?.[1]?.trim();
  return id ? id : undefined;
}

/** BCP 47 → the ISO 639-1 code ElevenLabs expects ("pt-BR" → "pt", "cmn" → "zh"). */
export function elevenLabsLanguage(language: string): string | undefined {
  const primary = language.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  if (primary === 'cmn' || primary === 'yue') return 'zh';
  if (primary === 'fil') return 'tl';
  return /^[a-z]{2}$/.test(primary) ? primary : undefined;
}

function errorMessage(json: unknown): string | undefined {
  // {"detail": {"status": "invalid_api_key", "message": "..."}} or a validation list (422).
  const detail = (json as { detail?: unknown } | null)?.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((d: { msg?: unknown; loc?: unknown }) => `${Array.isArray(d.loc) ? d.loc.join('.') + ': ' : ''}${String(d.msg ?? '')}`).join('; ');
  }
  if (detail && typeof detail === 'object') {
    const { status, message } = detail as { status?: unknown; message?: unknown };
    if (typeof message === 'string') return typeof status === 'string' ? `${status}: ${message}` : message;
  }
  return undefined;
}

export class ElevenLabsTts implements TextToSpeech {
  readonly name: string;
  readonly sampleRate: number;
  private readonly baseUrl: string;
  private readonly model: string;
  private readonly timeoutMs: number;
  private readonly format: ElevenLabsOutputFormat;

  constructor(private readonly opts: ElevenLabsTtsOptions) {
    if (!opts.apiKey) throw new TtsError('invalid-request', 'ElevenLabs: apiKey is required');
    this.baseUrl = (opts.baseUrl ?? ELEVENLABS_BASE_URL).replace(/\/+$/, '');
    this.model = opts.model ?? ELEVENLABS_DEFAULT_MODEL;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.format = opts.outputFormat ?? 'ulaw_8000';
    this.sampleRate = this.format === 'ulaw_8000' ? 8000 : 16000;
    this.name = `elevenlabs:${this.model}:${this.format}`;
  }

  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio> {
    return collectAudio(this.synthesizeStream(req, signal), this.sampleRate);
  }

  async *synthesizeStream(req: SynthesisRequest, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    if (signal?.aborted) throw abortedError(signal);
    const voiceId = elevenLabsVoiceId(req.voice) ?? this.opts.defaultVoiceId;
    if (!voiceId) throw new TtsError('invalid-request', `ElevenLabs: no voice id in "${req.voice}" (use ElevenLabs.<voice_id>)`);
    const parts = elevenLabsParts(req.text, req.ssml ?? false, {
      phonemes: PHONEME_MODELS.has(this.model),
      breaks: !NO_BREAK_MODELS.test(this.model),
    });
    for (const part of parts) {
      if ('pauseMs' in part) yield { samples: silence(part.pauseMs, this.sampleRate), sampleRate: this.sampleRate };
      else yield* this.streamText(part.text, voiceId, req.language, signal);
    }
  }

  private async *streamText(text: string, voiceId: string, language: string, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    const body: Record<string, unknown> = { text, model_id: this.model };
    const languageCode = LANGUAGE_CODE_MODELS.test(this.model) ? elevenLabsLanguage(language) : undefined;
    if (languageCode) body.language_code = languageCode;
    if (this.opts.voiceSettings) body.voice_settings = this.opts.voiceSettings;
    const bytes = postForAudio({
      provider: 'ElevenLabs',
      url: `${this.baseUrl}/v1/text-to-speech/${encodeURIComponent(voiceId)}/stream?output_format=${this.format}`,
      headers: { 'xi-api-key': this.opts.apiKey, 'Content-Type': 'application/json' },
      body,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
      errorMessage,
    });
    const pcm = new S16leDecoder();
    for await (const chunk of bytes) {
      const samples = this.format === 'ulaw_8000' ? decodeMulaw(chunk) : pcm.push(chunk);
      if (samples.length > 0) yield { samples, sampleRate: this.sampleRate };
    }
    if (!pcm.aligned) throw new TtsError('engine-failed', 'ElevenLabs: the PCM stream ended in the middle of a sample');
  }
}
