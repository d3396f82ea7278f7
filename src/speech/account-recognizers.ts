/**
 * Speech engines built from an account's own credentials (AccountSpeechSettings): Deepgram and
 * OpenAI with the account's key (and optional self-hosted or proxy URL), and the custom WebSocket
 * protocol at the account's URL. The embedded engine has no credentials, so it is always the server's.
 */
import { createHash } from 'node:crypto';
import type { AccountSpeechSettings } from '../store/store-types.js';
import type { AccountEngineFactory } from './recognizer-catalog.js';
import { DeepgramRecognizer } from './deepgram-recognizer.js';
import { OpenAiRecognizer } from './openai-recognizer.js';
import { WebSocketRecognizer } from './websocket-recognizer.js';

/** Engines an account can bring credentials for. */
export const ACCOUNT_ENGINES = ['deepgram', 'openai', 'websocket'] as const;

/** The cache key names the credentials without keeping the secret itself in a map key. */
function keyOf(name: string, credentials: object): string {
  return `${name}:${createHash('sha256').update(JSON.stringify(credentials)).digest('base64url')}`;
}

export const accountRecognizers: AccountEngineFactory = (name: string, settings: AccountSpeechSettings) => {
  switch (name) {
    case 'deepgram': {
      const c = settings.deepgram;
      if (!c?.apiKey) return undefined;
      return { cacheKey: keyOf(name, c), build: () => new DeepgramRecognizer({ apiKey: c.apiKey, ...(c.url ? { baseUrl: c.url } : {}) }) };
    }
    case 'openai': {
      const c = settings.openai;
      if (!c?.apiKey) return undefined;
      return { cacheKey: keyOf(name, c), build: () => new OpenAiRecognizer({ apiKey: c.apiKey, ...(c.url ? { baseUrl: c.url } : {}) }) };
    }
    case 'websocket': {
      const c = settings.websocket;
      if (!c?.url) return undefined;
      return { cacheKey: keyOf(name, c), build: () => new WebSocketRecognizer({ url: c.url, ...(c.token ? { token: c.token } : {}) }) };
    }
    default:
      return undefined;
  }
};
