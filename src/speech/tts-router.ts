/**
 * One TextToSpeech in front of several engines, chosen by the Twilio voice name of each <Say>:
 *
 *   man, woman, alice, Polly.*, Google.*, anything else  → the default engine (eSpeak NG), which
 *                                                          maps the Twilio voice and language itself
 *   ElevenLabs.<voice_id>                                → the ElevenLabs adapter
 *   OpenAI.<voice>                                       → the OpenAI adapter
 *
 * Prefixes are case-insensitive. A cloud voice whose engine is not configured is spoken by the
 * default engine, with one warning per engine, so a document written for the cloud still plays.
 * The router's name lists its engines: wrapping it in CachedTts keys the cache by configuration,
 * so adding an API key later does not keep serving the fallback's cached audio.
 */
import { audioChunks, type SynthesisRequest, type SynthesizedAudio, type TextToSpeech } from './text-to-speech.js';

export type TtsRoute = 'default' | 'elevenlabs' | 'openai';

export interface TtsRouterOptions {
  /** Speaks every non-cloud voice, and cloud voices whose engine is not configured. */
  default: TextToSpeech;
  /** ElevenLabsTts, when an API key is configured. */
  elevenLabs?: TextToSpeech;
  /** OpenAiTts, when an API key is configured. */
  openAi?: TextToSpeech;
  /** Where configuration warnings go (default: a process warning). */
  onWarning?: (message: string) => void;
}

/** Which engine family a Twilio voice name asks for. */
export function routeForVoice(voice: string): TtsRoute {
  const v = voice.trim().toLowerCase();
  if (v === 'elevenlabs' || v.startsWith('elevenlabs.')) return 'elevenlabs';
  if (v === 'openai' || v.startsWith('openai.')) return 'openai';
  return 'default';
}

const LABELS: Record<Exclude<TtsRoute, 'default'>, string> = { elevenlabs: 'ElevenLabs', openai: 'OpenAI' };

export class TtsRouter implements TextToSpeech {
  readonly name: string;
  private readonly warned = new Set<TtsRoute>();
  private readonly onWarning: (message: string) => void;

  constructor(private readonly opts: TtsRouterOptions) {
    this.onWarning = opts.onWarning ?? ((message) => process.emitWarning(message, 'TtsRouterWarning'));
    const engines = [opts.default.name, opts.elevenLabs?.name, opts.openAi?.name].filter((n): n is string => n !== undefined);
    this.name = `router(${engines.join(',')})`;
  }

  /** The engine that will speak `voice` (warns once when a cloud engine is missing). */
  engineFor(voice: string): TextToSpeech {
    const route = routeForVoice(voice);
    if (route === 'default') return this.opts.default;
    const engine = route === 'elevenlabs' ? this.opts.elevenLabs : this.opts.openAi;
    if (engine) return engine;
    if (!this.warned.has(route)) {
      this.warned.add(route);
      this.onWarning(`voice "${voice}" needs the ${LABELS[route]} engine, which is not configured (no API key): speaking it with ${this.opts.default.name}`);
    }
    return this.opts.default;
  }

  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio> {
    return this.engineFor(req.voice).synthesize(req, signal);
  }

  synthesizeStream(req: SynthesisRequest, signal?: AbortSignal): AsyncIterable<SynthesizedAudio> {
    return audioChunks(this.engineFor(req.voice), req, signal);
  }

  async close(): Promise<void> {
    const engines = new Set([this.opts.default, this.opts.elevenLabs, this.opts.openAi].filter((e): e is TextToSpeech => e !== undefined));
    await Promise.all([...engines].map((e) => e.close?.()));
  }
}
