/**
 * The form dialect of Twilio's REST API, shared by every /2010-04-01 plugin: request bodies are
 * `application/x-www-form-urlencoded` with PascalCase keys; list values arrive as repeated keys
 * (twilio-node posts `StatusCallbackEvent=a&StatusCallbackEvent=b`) or space/comma separated
 * (hand-written curl), booleans as `true`/`false` (twilio-voice.md §0). A body is parsed into a
 * `TwilioForm`: every key with all its values, in order, so nothing sent twice is silently lost.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from './api-errors.js';

/** A parsed form body: each key's values in the order sent. */
export type TwilioForm = Map<string, string[]>;

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Parses `application/x-www-form-urlencoded` text into a TwilioForm. */
export function parseTwilioForm(body: string): TwilioForm {
  const form: TwilioForm = new Map();
  for (const [k, v] of new URLSearchParams(body)) {
    const values = form.get(k);
    if (values) values.push(v);
    else form.set(k, [v]);
  }
  return form;
}

/**
 * Makes `instance` (an encapsulated plugin context) read form bodies as TwilioForm and refuse
 * every other body type with 415: JSON here is a client speaking the wrong dialect (the native
 * API under /v1 takes JSON).
 */
export function installTwilioForm(instance: FastifyInstance): void {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser(FORM_TYPE, { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseTwilioForm(body as string));
  });
  instance.addContentTypeParser('*', (request, _payload, done) => {
    const type = request.headers['content-type'] ?? 'none';
    done(new ApiError(415, 20001, `Unsupported Content-Type ${type}: the /2010-04-01 API takes ${FORM_TYPE} bodies (JSON is for /v1)`), undefined);
  });
}

/** The request's form; empty when the request had no body (GET, DELETE, a bare POST). */
export function formOf(request: FastifyRequest): TwilioForm {
  return request.body instanceof Map ? (request.body as TwilioForm) : new Map();
}

/** One value of a field; a field sent twice is ambiguous, so it is refused rather than guessed. */
export function single(form: TwilioForm, key: string): string | undefined {
  const values = form.get(key);
  if (values === undefined) return undefined;
  if (values.length > 1) throw badRequest(`${key} was given ${values.length} times`);
  return values[0];
}

/** A list field: repeated keys and space- or comma-separated values, in order, empty items dropped. */
export function list(form: TwilioForm, key: string): string[] | undefined {
  const values = form.get(key);
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(/[\s,]+/)).filter((v) => v !== '');
}

/** A boolean field (`true`/`false`, any case, as Twilio accepts them). */
export function bool(form: TwilioForm, key: string): boolean | undefined {
  const value = single(form, key);
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badRequest(`Invalid ${key}: expected true or false, got "${value}"`);
}

/** Refuses (400, 20001) the first key not in `allowed`, naming it. */
export function rejectUnknownFields(form: TwilioForm, allowed: ReadonlySet<string> | readonly string[]): void {
  const known = allowed instanceof Set ? allowed : new Set(allowed as readonly string[]);
  for (const key of form.keys()) if (!known.has(key)) throw badRequest(`Unknown parameter "${key}"`);
}
