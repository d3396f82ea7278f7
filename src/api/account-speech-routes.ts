/**
 * An account's speech settings (register with prefix `/v1`):
 *   GET   /account/speech   the account's choices, with its keys masked
 *   PATCH /account/speech   change some of them: a field given replaces it, `null` removes it
 * Settings: `recognizer` (the engine for Gathers whose speechModel names none), `language` (the
 * default recognition language), and the account's own credentials per engine: `deepgram`
 * {apiKey, url?}, `openai` {apiKey, url?}, `websocket` {url, token?}. Own credentials take
 * precedence over the server's. Keys are write-only: responses show their last four characters.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AccountSpeechSettings, AccountStore } from '../store/store-types.js';
import { LANGUAGE_PATTERN } from '../verbs/attribute-parsers.js';
import { ACCOUNT_ENGINES } from '../speech/account-recognizers.js';
import { badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';

export interface AccountSpeechRoutesOptions {
  store: AccountStore;
  /** The server's own recognizers (always includes the embedded one). */
  serverRecognizers: readonly string[];
  /** The server's default recognizer. */
  defaultRecognizer: string;
}

const ENGINES = ['pocketsphinx', ...ACCOUNT_ENGINES] as const;
const MAX_SECRET = 512;
const MAX_URL = 2048;

type Body = Record<string, unknown>;

function isObject(v: unknown): v is Body {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Body, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw badRequest(`${where}: unknown field "${k}" (allowed: ${allowed.join(', ')})`);
}

function secret(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_SECRET || /[\r\n]/.test(v)) throw badRequest(`${field} must be a non-empty string of at most ${MAX_SECRET} characters, on one line`);
  return v;
}

function url(v: unknown, field: string, schemes: readonly string[]): string {
  let parsed: URL | null = null;
  if (typeof v === 'string' && v.length <= MAX_URL) {
    try {
      parsed = new URL(v);
    } catch {
      parsed = null;
    }
  }
  if (!parsed || !schemes.includes(parsed.protocol)) throw badRequest(`${field} must be an absolute ${schemes.map((s) => s.replace(':', '')).join('/')} URL`);
  return v as string;
}

/** Reads one engine's credentials object: `required` first, then optional fields. */
function credentials(v: unknown, engine: string, read: Record<string, (x: unknown, field: string) => string>, required: string): Record<string, string> {
  if (!isObject(v)) throw badRequest(`${engine} must be an object or null`);
  onlyKeys(v, Object.keys(read), engine);
  if (v[required] === undefined) throw badRequest(`${engine}.${required} is required`);
  const out: Record<string, string> = {};
  for (const [k, parse] of Object.entries(read)) if (v[k] !== undefined && v[k] !== null) out[k] = parse(v[k], `${engine}.${k}`);
  return out;
}

/** Applies a PATCH body to the stored settings; throws 400 ApiErrors naming the field. */
export function patchSpeechSettings(current: AccountSpeechSettings, body: unknown): AccountSpeechSettings {
  if (!isObject(body)) throw badRequest('the body must be a JSON object');
  onlyKeys(body, ['recognizer', 'language', 'deepgram', 'openai', 'websocket'], 'speech settings');
  const next: AccountSpeechSettings = { ...current };
  if (body.recognizer === null) delete next.recognizer;
  else if (body.recognizer !== undefined) {
    const name = typeof body.recognizer === 'string' ? body.recognizer.toLowerCase() : '';
    if (!(ENGINES as readonly string[]).includes(name)) throw badRequest(`recognizer must be one of ${ENGINES.join(', ')}`);
    next.recognizer = name;
  }
  if (body.language === null) delete next.language;
  else if (body.language !== undefined) {
    if (typeof body.language !== 'string' || !LANGUAGE_PATTERN.test(body.language)) throw badRequest('language must be a language tag such as en-US');
    next.language = body.language;
  }
  const httpUrl = (x: unknown, f: string) => url(x, f, ['http:', 'https:']);
  const wsUrl = (x: unknown, f: string) => url(x, f, ['ws:', 'wss:']);
  if (body.deepgram === null) delete next.deepgram;
  else if (body.deepgram !== undefined) {
    next.deepgram = credentials(body.deepgram, 'deepgram', { apiKey: secret, url: (x, f) => url(x, f, ['ws:', 'wss:', 'http:', 'https:']) }, 'apiKey') as { apiKey: string };
  }
  if (body.openai === null) delete next.openai;
  else if (body.openai !== undefined) next.openai = credentials(body.openai, 'openai', { apiKey: secret, url: httpUrl }, 'apiKey') as { apiKey: string };
  if (body.websocket === null) delete next.websocket;
  else if (body.websocket !== undefined) next.websocket = credentials(body.websocket, 'websocket', { url: wsUrl, token: secret }, 'url') as { url: string };
  return next;
}

function mask(s: string | undefined): string | null {
  if (s === undefined) return null;
  return s.length <= 8 ? '****' : `****${s.slice(-4)}`;
}

/** The settings as shown to the account: keys masked, and which engine its Gathers will use. */
function view(s: AccountSpeechSettings, opts: AccountSpeechRoutesOptions): Record<string, unknown> {
  const usable = (name: string) => opts.serverRecognizers.includes(name) || (name !== 'pocketsphinx' && s[name as (typeof ACCOUNT_ENGINES)[number]] !== undefined);
  return {
    recognizer: s.recognizer ?? null,
    language: s.language ?? null,
    deepgram: s.deepgram ? { apiKey: mask(s.deepgram.apiKey), url: s.deepgram.url ?? null } : null,
    openai: s.openai ? { apiKey: mask(s.openai.apiKey), url: s.openai.url ?? null } : null,
    websocket: s.websocket ? { url: s.websocket.url, token: mask(s.websocket.token) } : null,
    effectiveRecognizer: s.recognizer ?? opts.defaultRecognizer,
    availableRecognizers: ENGINES.filter(usable),
  };
}

export const accountSpeechRoutes: FastifyPluginAsync<AccountSpeechRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));

  async function load(accountSid: string, path: string): Promise<AccountSpeechSettings> {
    const settings = await opts.store.getSpeechSettings(accountSid);
    if (!settings) throw notFound(path);
    return settings;
  }

  app.get('/account/speech', async (request) => {
    const account = authenticatedAccount(request);
    return view(await load(account.sid, request.url), opts);
  });

  // PATCH is read-modify-write: one at a time per account, so concurrent changes never undo each other.
  const queues = new Map<string, Promise<unknown>>();
  function serially<T>(accountSid: string, work: () => Promise<T>): Promise<T> {
    const run = (queues.get(accountSid) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    queues.set(accountSid, tail);
    void tail.then(() => {
      if (queues.get(accountSid) === tail) queues.delete(accountSid);
    });
    return run;
  }

  app.patch('/account/speech', async (request) => {
    const account = authenticatedAccount(request);
    return serially(account.sid, () => applyPatch(account.sid, request.url, request.body));
  });

  async function applyPatch(accountSid: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const next = patchSpeechSettings(await load(accountSid, path), body);
    // An engine nobody can serve would silently fall back at every Gather: refuse it now instead.
    if (next.recognizer && next.recognizer !== 'pocketsphinx' && !opts.serverRecognizers.includes(next.recognizer)
      && next[next.recognizer as (typeof ACCOUNT_ENGINES)[number]] === undefined) {
      throw badRequest(`recognizer "${next.recognizer}" is not configured on this server; give the account's own ${next.recognizer} credentials with it`);
    }
    await opts.store.setSpeechSettings(accountSid, next);
    return view(next, opts);
  }
};
