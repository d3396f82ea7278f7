/**
 * Which speech recognizer serves a request. Engines are registered by name (`pocketsphinx`,
 * `deepgram`, `openai`, `websocket`); a Gather picks one through Twilio's `speechModel` attribute
 * (`deepgram_nova-3` = engine `deepgram`, model `nova-3`; a bare engine name = its default model),
 * and everything else (`default`, `phone_call`, `numbers_and_commands`...) goes to the account's
 * default engine, which is the embedded one unless configured otherwise.
 */
import { SttError, type SpeechRecognizer } from './speech-recognizer.js';

export interface RecognizerChoice {
  recognizer: SpeechRecognizer;
  /** Engine model to ask for; undefined = the engine's own default. */
  model?: string;
  /** Set when the request named an engine that is not configured here and the default serves it. */
  substitutedFor?: string;
}

export interface AccountSpeechSettings {
  /** Engine for requests that do not name one. */
  defaultRecognizer?: string;
}

export class RecognizerCatalog {
  private readonly engines = new Map<string, SpeechRecognizer>();

  constructor(
    engines: readonly SpeechRecognizer[],
    private readonly defaultEngine: string,
    /** Per-account settings (e.g. from the store); read at each request. */
    private readonly accountSettings: (accountSid: string) => AccountSpeechSettings | undefined = () => undefined,
  ) {
    for (const e of engines) this.engines.set(e.name.toLowerCase(), e);
  }

  get names(): string[] {
    return [...this.engines.keys()];
  }

  /**
   * Unconfigured engines named by a Twilio app (`googlev2_*`, `deepgram_*` without a key) are served
   * by the default engine, flagged with `substitutedFor`, so an unmodified app still works.
   */
  choose(speechModel: string, accountSid: string): RecognizerChoice {
    const model = speechModel.trim();
    const separator = model.indexOf('_');
    const prefix = (separator > 0 ? model.slice(0, separator) : model).toLowerCase();
    const named = this.engines.get(prefix);
    if (named) return separator > 0 ? { recognizer: named, model: model.slice(separator + 1) } : { recognizer: named };
    const fallback = this.accountSettings(accountSid)?.defaultRecognizer?.toLowerCase() ?? this.defaultEngine;
    const recognizer = this.engines.get(fallback) ?? this.engines.get(this.defaultEngine);
    if (!recognizer) throw new SttError('unavailable', 'no speech recognizer is configured');
    return separator > 0 ? { recognizer, substitutedFor: model } : { recognizer };
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.close?.()));
  }
}
