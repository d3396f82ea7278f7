/**
 * REST control of Media Streams on live calls (forks only, listen-only, as Twilio's REST streams):
 *   native  (prefix /v1, JSON):
 *     POST   /calls/:callSid/streams               start → 201 {sid, callSid, name, status}
 *     DELETE /calls/:callSid/streams/:nameOrSid    stop  → 204
 *   Twilio  (prefix /2010-04-01/Accounts/:AccountSid, form-encoded, snake_case JSON):
 *     POST   /Calls/:CallSid/Streams.json          start → 201 Stream resource
 *     POST   /Calls/:CallSid/Streams/:Sid.json     Status=stopped → 200 Stream resource
 * Both readers hand the stream to the same `parseStream` the `<Stream>` noun uses, so REST and TwiML
 * accept the same values with the same defaults. Behind Basic auth; another account's call, an
 * ended or unknown one is a 404 (SIDs cannot be probed). The API sees a live call only through the
 * narrow `LiveCall` interface below (CallRegistry satisfies `LiveCalls` structurally).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccountStore } from '../store/store-types.js';
import type { StreamHandle } from '../verbs/call-control.js';
import { parseStream } from '../verbs/stream-builder.js';
import { VerbDocumentError } from '../verbs/verb-errors.js';
import type { StreamNoun } from '../verbs/verb-model.js';
import type { RawNoun, RawValue } from '../verbs/verb-spec.js';
import { ApiError, badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';
import { formOf, installTwilioForm, rejectUnknownFields, single, type TwilioForm } from './twilio-form.js';
import { rfc2822 } from './twilio-json.js';

/** What the API may do with a live call. */
export interface LiveCall {
  readonly info: { readonly accountSid: string };
  readonly ended: boolean;
  /** Answers the call if needed; rejects with a coded error (82004) when there is no room or the name is taken. */
  startStream(stream: StreamNoun, bidirectional: boolean): Promise<StreamHandle>;
  /** False when no stream has that name or SID. */
  stopStream(nameOrSid: string): boolean;
}

/** This process's live calls by SID. */
export interface LiveCalls {
  get(callSid: string): LiveCall | undefined;
}

export interface StreamsRoutesOptions {
  store: Pick<AccountStore, 'getAccount'>;
  liveCalls: LiveCalls;
}

/** Stream limit / name taken (Patchbay's 82004, as `<Start><Stream>` reports it). */
const STREAM_LIMIT = 82004;
/** Twilio numbers ParameterN from 1 to 99. */
const PARAMETER_KEY = /^Parameter([1-9][0-9]?)\.(Name|Value)$/;
const NATIVE_FIELDS = new Set(['url', 'name', 'track', 'statusCallback', 'statusCallbackMethod', 'parameters', 'format', 'sampleRate', 'speechEvents']);
const TWILIO_FIELDS: Readonly<Record<string, string>> = { Url: 'url', Name: 'name', Track: 'track', StatusCallback: 'statusCallback', StatusCallbackMethod: 'statusCallbackMethod' };
const TWILIO_NAME_OF: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(TWILIO_FIELDS).map(([k, v]) => [v, k]));
/** A URL `parseStream` accepts, standing in for the real one while another field is checked alone. */
const PLACEHOLDER_URL = 'wss://placeholder.invalid/';

/** A REST request's stream: attributes and `<Parameter>` nouns, with the client's name for each. */
interface StreamInput {
  attrs: Record<string, RawValue>;
  params: { noun: RawNoun; field: string }[];
  fieldOf(attr: string): string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parameterNoun(name: RawValue, value: RawValue): RawNoun {
  return { tag: 'Parameter', attrs: { name, value }, nouns: [] };
}

function tryParse(attrs: Record<string, RawValue>, nouns: RawNoun[]): VerbDocumentError | StreamNoun {
  try {
    return parseStream({ tag: 'Stream', attrs, nouns }, 'Stream', false);
  } catch (err) {
    if (err instanceof VerbDocumentError) return err;
    throw err;
  }
}

const detail = (err: VerbDocumentError): string => err.message.replace(/^Stream:? /, '');

/**
 * The StreamNoun, or a 400 naming the field at fault. parseStream reports the first problem of
 * the whole stream; checking each field alone against it tells which field that was, in the
 * client's own spelling (`Track` for Twilio, `track` natively).
 */
function buildStream(input: StreamInput): StreamNoun {
  const { attrs, params, fieldOf } = input;
  if (attrs.url === undefined || attrs.url === '') throw badRequest(`${fieldOf('url')} is required`);
  const parsed = tryParse(attrs, params.map((p) => p.noun));
  if (parsed instanceof VerbDocumentError) {
    for (const [attr, value] of Object.entries(attrs)) {
      // sampleRate is only wrong for its format (twilio is 8 kHz only), so it is checked with it.
      const alone: Record<string, RawValue> = { url: PLACEHOLDER_URL, [attr]: value, ...(attr === 'sampleRate' ? { format: attrs.format } : {}) };
      const err = tryParse(alone, []);
      if (err instanceof VerbDocumentError) throw badRequest(`Invalid ${fieldOf(attr)}: ${detail(err)}`);
    }
    for (const p of params) {
      const err = tryParse({ url: PLACEHOLDER_URL }, [p.noun]);
      if (err instanceof VerbDocumentError) throw badRequest(`Invalid ${p.field}: ${detail(err)}`);
    }
    throw badRequest(`Invalid stream: ${detail(parsed)}`);
  }
  // No document to resolve against: both URLs must be absolute (TwiML may use relative ones).
  if (!/^wss?:\/\//i.test(parsed.url)) throw badRequest(`Invalid ${fieldOf('url')}: a stream started over REST needs an absolute ws:// or wss:// URL`);
  if (parsed.statusCallback !== null && !/^https?:\/\//i.test(parsed.statusCallback)) {
    throw badRequest(`Invalid ${fieldOf('statusCallback')}: a stream started over REST needs an absolute http:// or https:// URL`);
  }
  return { ...parsed, url: new URL(parsed.url).toString(), statusCallback: parsed.statusCallback === null ? null : new URL(parsed.statusCallback).toString() };
}

/** The native JSON body as a StreamInput; `parameters` is `{name: value}` or `[{name, value}]`, as in JSON verbs. */
function nativeInput(body: unknown): StreamInput {
  if (!isObject(body)) throw badRequest('The body must be a JSON object');
  const attrs: Record<string, RawValue> = {};
  const params: StreamInput['params'] = [];
  for (const [key, value] of Object.entries(body)) {
    if (!NATIVE_FIELDS.has(key)) throw badRequest(`Unknown field "${key}"`);
    if (key !== 'parameters') {
      attrs[key] = value as RawValue;
      continue;
    }
    if (isObject(value)) {
      for (const [name, v] of Object.entries(value)) params.push({ noun: parameterNoun(name, v as RawValue), field: `parameters.${name}` });
    } else if (Array.isArray(value)) {
      value.forEach((p, i) => {
        if (!isObject(p)) throw badRequest(`Invalid parameters[${i}]: must be {name, value}`);
        params.push({ noun: parameterNoun(p.name as RawValue, p.value as RawValue), field: `parameters[${i}]` });
      });
    } else {
      throw badRequest('Invalid parameters: must be an object of name: value, or an array of {name, value}');
    }
  }
  return { attrs, params, fieldOf: (attr) => attr };
}

/** Twilio's form parameters (Url, Track, Parameter1.Name...) as a StreamInput. */
function twilioInput(form: TwilioForm): StreamInput {
  const attrs: Record<string, RawValue> = {};
  const byIndex = new Map<number, { name?: string; value?: string }>();
  for (const key of form.keys()) {
    const attr = TWILIO_FIELDS[key];
    if (attr !== undefined) {
      attrs[attr] = single(form, key);
      continue;
    }
    const m = PARAMETER_KEY.exec(key);
    if (!m) throw badRequest(`Unknown parameter "${key}"`);
    const n = Number(m[1]);
    const entry = byIndex.get(n) ?? {};
    entry[m[2] === 'Name' ? 'name' : 'value'] = single(form, key);
    byIndex.set(n, entry);
  }
  const params: StreamInput['params'] = [];
  for (const n of [...byIndex.keys()].sort((a, b) => a - b)) {
    const { name, value } = byIndex.get(n)!;
    if (name === undefined || name.trim() === '') throw badRequest(`Parameter${n}.Name is required when Parameter${n}.Value is given`);
    params.push({ noun: parameterNoun(name, value ?? ''), field: `Parameter${n}` });
  }
  return { attrs, params, fieldOf: (attr) => TWILIO_NAME_OF[attr] ?? attr };
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/** SIDs and names of the streams started here, so a stop by name can answer with the SID. */
class StartedStreams {
  private readonly byCall = new Map<string, Map<string, string | null>>();

  add(callSid: string, handle: StreamHandle): void {
    let streams = this.byCall.get(callSid);
    if (!streams) this.byCall.set(callSid, (streams = new Map()));
    streams.set(handle.sid, handle.name);
    const forget = (): void => {
      streams.delete(handle.sid);
      if (streams.size === 0 && this.byCall.get(callSid) === streams) this.byCall.delete(callSid);
    };
    void handle.ended.then(forget, forget);
  }

  find(callSid: string, nameOrSid: string): { sid: string; name: string | null } | undefined {
    for (const [sid, name] of this.byCall.get(callSid) ?? []) if (sid === nameOrSid || name === nameOrSid) return { sid, name };
    return undefined;
  }
}

export const streamsRoutes: FastifyPluginAsync<StreamsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));
  const started = new StartedStreams();

  const liveCall = (request: FastifyRequest, callSid: string): LiveCall => {
    const call = opts.liveCalls.get(callSid);
    if (!call || call.ended || call.info.accountSid !== authenticatedAccount(request).sid) throw notFound(pathOf(request));
    return call;
  };

  const start = async (request: FastifyRequest, callSid: string, input: () => StreamInput): Promise<StreamHandle> => {
    const call = liveCall(request, callSid);
    const stream = buildStream(input());
    let handle: StreamHandle;
    try {
      handle = await call.startStream(stream, false);
    } catch (err) {
      // The call ended meanwhile (CallEndedError is an AbortError): as unknown as any ended call.
      if (call.ended || (err as Error).name === 'AbortError') throw notFound(pathOf(request));
      if ((err as { code?: unknown }).code === STREAM_LIMIT) throw new ApiError(400, STREAM_LIMIT, (err as Error).message);
      throw err;
    }
    started.add(callSid, handle);
    return handle;
  };

  await app.register(async (v1: FastifyInstance) => {
    v1.post<{ Params: { callSid: string } }>('/calls/:callSid/streams', async (request, reply) => {
      const handle = await start(request, request.params.callSid, () => nativeInput(request.body));
      return reply.code(201).send({ sid: handle.sid, callSid: request.params.callSid, name: handle.name, status: 'in-progress' });
    });
    v1.delete<{ Params: { callSid: string; nameOrSid: string } }>('/calls/:callSid/streams/:nameOrSid', async (request, reply) => {
      const call = liveCall(request, request.params.callSid);
      if (!call.stopStream(request.params.nameOrSid)) throw notFound(pathOf(request));
      return reply.code(204).send();
    });
  }, { prefix: '/v1' });

  await app.register(async (tw: FastifyInstance) => {
    installTwilioForm(tw);
    const resource = (accountSid: string, callSid: string, s: { sid: string | null; name: string | null }, status: 'in-progress' | 'stopped') => ({
      sid: s.sid,
      account_sid: accountSid,
      call_sid: callSid,
      name: s.name,
      status,
      date_updated: rfc2822(new Date().toISOString()),
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Streams/${s.sid ?? encodeURIComponent(s.name ?? '')}.json`,
    });
    const ownAccount = (request: FastifyRequest<{ Params: { AccountSid: string } }>): string => {
      const account = authenticatedAccount(request).sid;
      if (request.params.AccountSid !== account) throw notFound(pathOf(request));
      return account;
    };

    tw.post<{ Params: { AccountSid: string; CallSid: string } }>('/Calls/:CallSid/Streams.json', async (request, reply) => {
      const account = ownAccount(request);
      const handle = await start(request, request.params.CallSid, () => twilioInput(formOf(request)));
      return reply.code(201).type('application/json; charset=utf-8').send(resource(account, request.params.CallSid, handle, 'in-progress'));
    });

    tw.post<{ Params: { AccountSid: string; CallSid: string; file: string } }>('/Calls/:CallSid/Streams/:file', async (request, reply) => {
      const account = ownAccount(request);
      const nameOrSid = /^(.+)\.json$/.exec(request.params.file)?.[1];
      if (nameOrSid === undefined) throw notFound(pathOf(request));
      const call = liveCall(request, request.params.CallSid);
      const form = formOf(request);
      rejectUnknownFields(form, ['Status']);
      const status = single(form, 'Status');
      if (status !== 'stopped') throw badRequest(`Invalid Status: a stream can only be updated to "stopped", got ${status === undefined ? 'none' : `"${status}"`}`);
      // Looked up before stopping: the stream forgets itself once it has ended.
      const known = started.find(request.params.CallSid, nameOrSid);
      if (!call.stopStream(nameOrSid)) throw notFound(pathOf(request));
      // A stream started by TwiML and stopped by name: its SID is the call's, not known here.
      const stream = known ?? (/^MZ[0-9a-fA-F]{32}$/.test(nameOrSid) ? { sid: nameOrSid, name: null } : { sid: null, name: nameOrSid });
      return reply.type('application/json; charset=utf-8').send(resource(account, request.params.CallSid, stream, 'stopped'));
    });
  }, { prefix: '/2010-04-01/Accounts/:AccountSid' });
};
