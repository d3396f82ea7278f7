/**
 * Which speech recognizer serves a request. Engines are registered by name (`pocketsphinx`,
 * `deepgram`, `openai`, `websocket`); a Gather picks one through Twilio's `speechModel` attribute
 * (`deepgram_nova-3` = engine `deepgram`, model `nova-3`; a bare engine name = its default model),
 * and everything else (`default`, `phone_call`, `numbers_and_commands`...) goes to the account's
 * default engine, which is the server's default unless the account chose another.
 *
 * An account may bring its own credentials for a cloud engine; its requests then use an engine
 * built from them (cached per credentials) instead of the server's, so each tenant is billed on,
 * and limited by, its own key.
 */
import type { AccountSpeechSettings } from '../store/store-types.js';
import { SttError, type SpeechRecognizer } from './speech-recognizer.js';

export interface RecognizerChoice {
  recognizer: SpeechRecognizer;
  /** Engine model to ask for; undefined = the engine's own default. */
  model?: string;
  /** Set when the request named an engine that is not configured here and the default serves it. */
  substitutedFor?: string;
  /** The account's default recognition language, for requests that set none. */
  language?: string;
}

/**
 * An engine built from an account's own credentials: `cacheKey` identifies the credentials (equal
 * keys share one engine), `build` makes it. Undefined when the account has none for `name`.
 */
export type AccountEngineFactory = (name: string, settings: AccountSpeechSettings) => { cacheKey: string; build: () => SpeechRecognizer } | undefined;

export interface RecognizerCatalogOptions {
  /** The server's engines (from configuration). */
  engines: readonly SpeechRecognizer[];
  /** Engine for requests that name none, unless the account chose another. */
  defaultEngine: string;
  /** The account's settings, read at each request (so a change applies to the next Gather). */
  accountSettings?: (accountSid: string) => Promise<AccountSpeechSettings | null | undefined>;
  accountEngine?: AccountEngineFactory;
  /** Account engines kept for reuse; the least recently built is dropped first. Default 500. */
  maxAccountEngines?: number;
}

export class RecognizerCatalog {
  private readonly engines = new Map<string, SpeechRecognizer>();
  private readonly accountEngines = new Map<string, SpeechRecognizer>();

  constructor(private readonly options: RecognizerCatalogOptions) {
    for (const e of options.engines) this.engines.set(e.name.toLowerCase(), e);
  }

  /** The server's engines. */
  get names(): string[] {
    return [...this.engines.keys()];
  }

  /**
   * Unconfigured engines named by a Twilio app (`googlev2_*`, `deepgram_*` without a key) are served
   * by the default engine, flagged with `substitutedFor`, so an unmodified app still works.
   */
  async choose(speechModel: string, accountSid: string): Promise<RecognizerChoice> {
    const settings = (await this.options.accountSettings?.(accountSid)) ?? {};
    const language = settings.language ? { language: settings.language } : {};
    const model = speechModel.trim();
    const separator = model.indexOf('_');
    const prefix = (separator > 0 ? model.slice(0, separator) : model).toLowerCase();
    const named = this.engine(prefix, settings);
    if (named) return separator > 0 ? { recognizer: named, model: model.slice(separator + 1), ...language } : { recognizer: named, ...language };
    const fallback = settings.recognizer?.toLowerCase() ?? this.options.defaultEngine;
    const recognizer = this.engine(fallback, settings) ?? this.engines.get(this.options.defaultEngine);
    if (!recognizer) throw new SttError('unavailable', 'no speech recognizer is configured');
    const asked = model !== '' && model.toLowerCase() !== 'default';
    return asked ? { recognizer, substitutedFor: model, ...language } : { recognizer, ...language };
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values(), ...this.accountEngines.values()].map((e) => e.close?.()));
    this.accountEngines.clear();
  }

  /** The account's own engine for `name` when it has credentials for it, else the server's. */
  private engine(name: string, settings: AccountSpeechSettings): SpeechRecognizer | undefined {
    const own = this.options.accountEngine?.(name, settings);
    if (!own) return this.engines.get(name);
    const cached = this.accountEngines.get(own.cacheKey);
    if (cached) {
      // Most recently used last, so eviction drops the coldest.
      this.accountEngines.delete(own.cacheKey);
      this.accountEngines.set(own.cacheKey, cached);
      return cached;
    }
    const built = own.build();
    this.accountEngines.set(own.cacheKey, built);
    const max = this.options.maxAccountEngines ?? 500;
    while (this.accountEngines.size > max) {
      const oldest = this.accountEngines.keys().next().value as string;
      const evicted = this.accountEngines.get(oldest);
      this.accountEngines.delete(oldest);
      // Cloud engines hold nothing between streams; close() is for engines that do.
      void evicted?.close?.();
    }
    return built;
  }
}
