/**
 * Twilio-compatible Calls resource (register with prefix `/2010-04-01/Accounts/:AccountSid`;
 * twilio-voice.md §4), form-encoded bodies, snake_case JSON:
 *   POST   /Calls.json                   create → 201 Call
 *   GET    /Calls.json                   list (To, From, ParentCallSid, Status, StartTime…, EndTime…; paged)
 *   GET    /Calls/{CA}.json              fetch
 *   POST   /Calls/{CA}.json              update: redirect (Url/Twiml), Status=completed|canceled, TimeLimit…
 *   DELETE /Calls/{CA}.json              delete an ended call's record → 204
 *   GET    /Calls/{CA}/Recordings.json   that call's recordings (Twilio Recording JSON)
 * Parameters are read and syntax-checked here (Twilio's codes, call-requests.ts); what a request
 * means is the call engine's to decide behind CallService. Parameters Twilio has and Patchbay does
 * not implement (Record, MachineDetection…) are refused with a 400 naming them rather than
 * silently ignored: a client asking for a recording must not believe it got one. Behind Basic
 * auth; another account's or an unknown call is a 404.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
// Types only: @fastify/swagger's augmentation gives route schemas `summary` and `tags`.
import type {} from '@fastify/swagger';
import type { CallCreateRequest, CallService, CallUpdateRequest } from '../calls/call-service.js';
import type { StatusCallbackEvent } from '../calls/status-notifier.js';
import { type AccountStore, type ApiKeyStore, type CallStore, type HttpMethodName, type RecordingStore } from '../store/store-types.js';
import { badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';
import { freshCall, twilioCallJson, twilioCallSchema, withLive } from './call-json.js';
import { asApiError, deleteEndedCall, callNotInProgress, checkCreateRequest, checkUpdateRequest, twilioFieldName } from './call-requests.js';
import { baseUrlOf } from './recording-media.js';
import { readTwilioCallQuery } from './twilio-call-query.js';
import { formOf, installTwilioForm, list, rejectUnknownFields, single, type TwilioForm } from './twilio-form.js';
import { twilioAccountPath } from './twilio-json.js';
import { readTwilioPaging, twilioPage, twilioPageMeta } from './twilio-paging.js';
import { twilioRecordingJson } from './twilio-recordings-routes.js';

export interface TwilioCallsRoutesOptions {
  store: CallStore & AccountStore & ApiKeyStore & RecordingStore;
  calls: CallService;
  publicBaseUrl?: string;
}

const TAGS = ['Calls (Twilio-compatible)'];

const CREATE_FIELDS = [
  'To', 'From', 'Url', 'Method', 'Twiml', 'ApplicationSid', 'FallbackUrl', 'FallbackMethod', 'StatusCallback',
  'StatusCallbackMethod', 'StatusCallbackEvent', 'Timeout', 'TimeLimit', 'SendDigits', 'CallerId', 'SipAuthUsername', 'SipAuthPassword',
];
const UPDATE_FIELDS = ['Url', 'Method', 'Twiml', 'Status', 'FallbackUrl', 'FallbackMethod', 'StatusCallback', 'StatusCallbackMethod', 'TimeLimit'];

/**
 * Twilio create parameters Patchbay does not implement, with why or what to use instead. A value
 * that asks for nothing (`Record=false`) is harmless and accepted.
 */
const UNSUPPORTED: Readonly<Record<string, { harmless?: string; hint: string }>> = {
  Record: { harmless: 'false', hint: 'record with <Record> or <Dial record="…"> in the TwiML instead' },
  AsyncAmd: { harmless: 'false', hint: 'answering machine detection is not implemented' },
  ...Object.fromEntries(
    ['RecordingChannels', 'RecordingStatusCallback', 'RecordingStatusCallbackMethod', 'RecordingStatusCallbackEvent', 'RecordingTrack', 'Trim', 'RecordingConfigurationId']
      .map((k) => [k, { hint: 'call recording from the REST request is not implemented; use <Record> or <Dial record="…"> in the TwiML' }]),
  ),
  ...Object.fromEntries(
    ['MachineDetection', 'MachineDetectionTimeout', 'MachineDetectionSpeechThreshold', 'MachineDetectionSpeechEndThreshold', 'MachineDetectionSilenceTimeout', 'AsyncAmdStatusCallback', 'AsyncAmdStatusCallbackMethod']
      .map((k) => [k, { hint: 'answering machine detection is not implemented' }]),
  ),
  ...Object.fromEntries(['Byoc', 'CallReason', 'CallToken', 'ClientNotificationUrl'].map((k) => [k, { hint: 'it is specific to Twilio’s network' }])),
};

const CREATE_KNOWN = new Set([...CREATE_FIELDS, ...Object.keys(UNSUPPORTED)]);

function rejectUnsupported(form: TwilioForm): void {
  for (const [key, values] of form) {
    const entry = UNSUPPORTED[key];
    if (!entry) continue;
    if (entry.harmless !== undefined && values.every((v) => v.trim().toLowerCase() === entry.harmless)) continue;
    throw badRequest(`${key} is not supported by Patchbay: ${entry.hint}`);
  }
}

function method(form: TwilioForm, key: string): HttpMethodName | undefined {
  const value = single(form, key);
  if (value === undefined) return undefined;
  const upper = value.trim().toUpperCase();
  if (upper !== 'GET' && upper !== 'POST') throw badRequest(`Invalid ${key}: must be GET or POST, got "${value}"`);
  return upper;
}

function integer(form: TwilioForm, key: string): number | undefined {
  const value = single(form, key);
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(value.trim())) throw badRequest(`Invalid ${key}: expected a whole number of seconds, got "${value}"`);
  return Number(value.trim());
}

const EVENTS: readonly StatusCallbackEvent[] = ['initiated', 'ringing', 'answered', 'completed'];

function statusCallbackEvents(form: TwilioForm): StatusCallbackEvent[] | undefined {
  const events = list(form, 'StatusCallbackEvent');
  if (events === undefined) return undefined;
  for (const e of events) {
    if (!EVENTS.includes(e as StatusCallbackEvent)) throw badRequest(`Invalid StatusCallbackEvent: "${e}" is not one of ${EVENTS.join(', ')}`);
  }
  return events as StatusCallbackEvent[];
}

/** Drops undefined fields so the engine sees exactly what the client sent. */
function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

function createRequest(form: TwilioForm): CallCreateRequest {
  rejectUnsupported(form);
  // What rejectUnsupported let through asks for nothing (Record=false) and is dropped here.
  rejectUnknownFields(form, CREATE_KNOWN);
  const req = defined<CallCreateRequest>({
    to: single(form, 'To') ?? '',
    from: single(form, 'From') ?? '',
    url: single(form, 'Url'),
    method: method(form, 'Method'),
    twiml: single(form, 'Twiml'),
    applicationSid: single(form, 'ApplicationSid'),
    fallbackUrl: single(form, 'FallbackUrl'),
    fallbackMethod: method(form, 'FallbackMethod'),
    statusCallback: single(form, 'StatusCallback'),
    statusCallbackMethod: method(form, 'StatusCallbackMethod'),
    statusCallbackEvent: statusCallbackEvents(form),
    timeout: integer(form, 'Timeout'),
    timeLimit: integer(form, 'TimeLimit'),
    sendDigits: single(form, 'SendDigits'),
    callerId: single(form, 'CallerId'),
    sipAuthUsername: single(form, 'SipAuthUsername'),
    sipAuthPassword: single(form, 'SipAuthPassword'),
  });
  checkCreateRequest(req, twilioFieldName);
  return req;
}

function updateRequest(form: TwilioForm): CallUpdateRequest {
  rejectUnknownFields(form, UPDATE_FIELDS);
  const status = single(form, 'Status');
  if (status !== undefined && status !== 'completed' && status !== 'canceled') {
    throw badRequest(`Invalid Status: a call can only be updated to "completed" or "canceled", got "${status}"`);
  }
  const req = defined<CallUpdateRequest>({
    url: single(form, 'Url'),
    method: method(form, 'Method'),
    twiml: single(form, 'Twiml'),
    status,
    fallbackUrl: single(form, 'FallbackUrl'),
    fallbackMethod: method(form, 'FallbackMethod'),
    statusCallback: single(form, 'StatusCallback'),
    statusCallbackMethod: method(form, 'StatusCallbackMethod'),
    timeLimit: integer(form, 'TimeLimit'),
  });
  checkUpdateRequest(req, twilioFieldName);
  return req;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

const pageMetaProperties = {
  first_page_uri: { type: 'string' },
  next_page_uri: { type: ['string', 'null'] },
  previous_page_uri: { type: ['string', 'null'] },
  uri: { type: 'string' },
  page: { type: 'integer' },
  page_size: { type: 'integer' },
  start: { type: 'integer' },
  end: { type: 'integer' },
} as const;

const callsPageSchema = { type: 'object', properties: { calls: { type: 'array', items: twilioCallSchema }, ...pageMetaProperties } } as const;

type CallParams = { AccountSid: string; CallSid: string };

const accountParams = { type: 'object', properties: { AccountSid: { type: 'string', description: 'The account (AC…)' } }, required: ['AccountSid'] } as const;
const callParams = {
  type: 'object',
  properties: { ...accountParams.properties, CallSid: { type: 'string', description: 'The call (CA…)' } },
  required: ['AccountSid', 'CallSid'],
} as const;

export const twilioCallsRoutes: FastifyPluginAsync<TwilioCallsRoutesOptions> = async (app: FastifyInstance, opts) => {
  installTwilioForm(app);
  // The hook also answers 404 when the path's AccountSid is not the caller's.
  app.addHook('onRequest', basicAuth(opts.store));
  const { store, calls } = opts;

  const callJson = async (request: FastifyRequest, sid: string, latest: Parameters<typeof freshCall>[4] = null) => {
    const call = await freshCall(store, calls, authenticatedAccount(request).sid, sid, latest);
    if (!call) throw notFound(pathOf(request));
    return twilioCallJson(call);
  };

  app.post('/Calls.json', { schema: { summary: 'Create (place) a call', tags: TAGS, params: accountParams, response: { 201: twilioCallSchema } } }, async (request, reply) => {
    const account = authenticatedAccount(request);
    const req = createRequest(formOf(request));
    let created;
    try {
      created = await calls.create(account, req);
    } catch (err) {
      throw asApiError(err);
    }
    // The call as it was created (queued), like Twilio's 201; it may be ringing by the time this is sent.
    return reply.code(201).send(twilioCallJson(withLive(null, created)!));
  });

  app.get('/Calls.json', { schema: { summary: 'List calls, newest first', tags: TAGS, params: accountParams, response: { 200: callsPageSchema } } }, async (request) => {
    const account = authenticatedAccount(request);
    const paging = readTwilioPaging(request.query);
    const { filters, echo } = readTwilioCallQuery(request.query);
    const page = await store.listCalls({ ...filters, accountSid: account.sid, pageSize: paging.pageSize, pageToken: paging.pageToken });
    const records = page.calls.map((c) => twilioCallJson(withLive(c, calls.live(account.sid, c.sid))!));
    const meta = twilioPageMeta({ path: `${twilioAccountPath(account.sid)}/Calls.json`, filters: echo, paging, count: records.length, nextPageToken: page.nextPageToken });
    return twilioPage('calls', records, meta);
  });

  app.get<{ Params: CallParams }>('/Calls/:CallSid.json', { schema: { summary: 'Fetch a call', tags: TAGS, params: callParams, response: { 200: twilioCallSchema } } }, async (request) =>
    callJson(request, request.params.CallSid),
  );

  app.post<{ Params: CallParams }>(
    '/Calls/:CallSid.json',
    { schema: { summary: 'Update a live call: redirect, hang up, cancel', tags: TAGS, params: callParams, response: { 200: twilioCallSchema } } },
    async (request) => {
      const account = authenticatedAccount(request);
      const sid = request.params.CallSid;
      const req = updateRequest(formOf(request));
      let updated;
      try {
        updated = await calls.update(account, sid, req);
      } catch (err) {
        throw asApiError(err);
      }
      if (!updated) {
        // Not live here: an ended call cannot change any more; an unknown one is simply not found.
        if (await store.getCall(account.sid, sid)) throw callNotInProgress();
        throw notFound(pathOf(request));
      }
      return callJson(request, sid, updated);
    },
  );

  app.delete<{ Params: CallParams }>('/Calls/:CallSid.json', { schema: { summary: "Delete an ended call's record", tags: TAGS, params: callParams } }, async (request, reply) => {
    const account = authenticatedAccount(request);
    const sid = request.params.CallSid;
    await deleteEndedCall(store, calls, account.sid, sid, pathOf(request));
    return reply.code(204).send();
  });

  app.get<{ Params: CallParams }>('/Calls/:CallSid/Recordings.json', { schema: { summary: "List a call's recordings", tags: TAGS, params: callParams } }, async (request) => {
    const account = authenticatedAccount(request);
    const sid = request.params.CallSid;
    const call = await freshCall(store, calls, account.sid, sid);
    if (!call) throw notFound(pathOf(request));
    const paging = readTwilioPaging(request.query);
    for (const key of Object.keys(request.query as object)) {
      if (!['PageSize', 'Page', 'PageToken'].includes(key)) throw badRequest(`Unknown parameter "${key}"`);
    }
    const page = await store.listRecordings({ accountSid: account.sid, callSid: sid, pageSize: paging.pageSize, pageToken: paging.pageToken });
    const base = baseUrlOf(request, opts.publicBaseUrl);
    const records = page.recordings.map((r) => twilioRecordingJson(r, base));
    const meta = twilioPageMeta({ path: `${twilioAccountPath(account.sid)}/Calls/${sid}/Recordings.json`, paging, count: records.length, nextPageToken: page.nextPageToken });
    return twilioPage('recordings', records, meta);
  });
};
