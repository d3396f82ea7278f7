/**
 * Native calls API (register with prefix `/v1`), camelCase JSON:
 *   GET    /calls          newest first, keyset paged; filters status, to, from, parentCallSid,
 *                          startTimeFrom/To, endTimeFrom/To (ISO 8601; From inclusive, To exclusive)
 *   GET    /calls/:sid     record plus its event timeline
 *   POST   /calls          place an outbound call (body = CallCreateRequest) → 201
 *   PATCH  /calls/:sid     redirect, hang up or cancel a live call (body = CallUpdateRequest)
 *   DELETE /calls/:sid     delete an ended call's record → 204
 * POST and PATCH are only served when a CallService is given. A call live in this process is
 * shown with its live record rather than the store's possibly older row. Every route is behind
 * Basic auth and an account only ever sees its own calls (another account's SID is a 404, not a
 * 403, so SIDs cannot be probed). JSON schemas are the contract (and the OpenAPI source):
 * validation failures become 400/20001 through api-errors.ts.
 */
import type { FastifyPluginAsync, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
// Types only: @fastify/swagger's augmentation gives route schemas `summary` and `tags`.
import type {} from '@fastify/swagger';
import type { CallCreateRequest, CallService, CallUpdateRequest } from '../calls/call-service.js';
import { CALL_STATUSES, type AccountStore, type CallListQuery, type CallStatus, type CallStore } from '../store/store-types.js';
import { badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';
import { freshCall, withLive } from './call-json.js';
import { asApiError, deleteEndedCall, callNotInProgress, checkCreateRequest, checkUpdateRequest, nativeFieldName } from './call-requests.js';

export interface CallsRoutesOptions {
  store: CallStore & AccountStore;
  /** The call engine; without it the routes that place or change calls are not served. */
  calls?: CallService;
}

const nullable = (type: string) => ({ type: [type, 'null'] });
const TAGS = ['Calls'];
const SID = { type: 'string', pattern: '^CA[0-9a-fA-F]{32}$' } as const;
const METHOD = { type: 'string', enum: ['GET', 'POST'] } as const;
const URL_FIELD = { type: 'string', minLength: 1, maxLength: 4000 } as const;
const ISO_DATE = { type: 'string', format: 'date-time' } as const;

export const callRecordSchema = {
  type: 'object',
  properties: {
    sid: { type: 'string' },
    accountSid: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    direction: { type: 'string', enum: ['inbound', 'outbound-api', 'outbound-dial'] },
    status: { type: 'string', enum: [...CALL_STATUSES] },
    startTime: { type: 'string' },
    answerTime: nullable('string'),
    endTime: nullable('string'),
    durationSeconds: nullable('integer'),
    sipCallId: nullable('string'),
    sipResponseCode: nullable('integer'),
    errorCode: nullable('integer'),
    errorMessage: nullable('string'),
    endReason: nullable('string'),
    parentCallSid: nullable('string'),
    dateCreated: { type: 'string' },
    dateUpdated: { type: 'string' },
  },
} as const;

const callWithEventsSchema = {
  type: 'object',
  properties: {
    ...callRecordSchema.properties,
    events: {
      type: 'array',
      items: {
        type: 'object',
        properties: { at: { type: 'string' }, type: { type: 'string' }, detail: { type: 'object', additionalProperties: true } },
      },
    },
  },
} as const;

const sidParams = { type: 'object', properties: { sid: { type: 'string', description: "The call's SID (CA…)" } }, required: ['sid'] } as const;

const errorSchema = {
  type: 'object',
  properties: { code: { type: 'integer' }, message: { type: 'string' }, status: { type: 'integer' }, moreInfo: { type: 'string' } },
} as const;

const createBodySchema = {
  type: 'object',
  required: ['to', 'from'],
  properties: {
    to: { type: 'string', minLength: 1, description: '`sip:user@host[:port]`, `client:name` or a phone number' },
    from: { type: 'string', minLength: 1 },
    url: { ...URL_FIELD, description: 'absolute http(s) URL of the application (wins over twiml)' },
    method: METHOD,
    twiml: { type: 'string', minLength: 1, description: 'inline TwiML run on answer' },
    applicationSid: { type: 'string', description: 'an application (AP…) whose voice settings win over url and twiml' },
    fallbackUrl: URL_FIELD,
    fallbackMethod: METHOD,
    statusCallback: URL_FIELD,
    statusCallbackMethod: METHOD,
    statusCallbackEvent: { type: 'array', items: { type: 'string', enum: ['initiated', 'ringing', 'answered', 'completed'] } },
    timeout: { type: 'integer', minimum: 1, description: 'ring seconds before no-answer (default 60, at most 600)' },
    timeLimit: { type: 'integer', minimum: 1, description: 'longest the answered call may last, in seconds' },
    sendDigits: { type: 'string', description: 'DTMF sent once answered: 0-9 A-D # * w W, at most 32' },
    callerId: { type: 'string' },
    sipAuthUsername: { type: 'string' },
    sipAuthPassword: { type: 'string' },
  },
} as const;

const updateBodySchema = {
  type: 'object',
  properties: {
    url: URL_FIELD,
    method: METHOD,
    twiml: { type: 'string', minLength: 1 },
    fallbackUrl: URL_FIELD,
    fallbackMethod: METHOD,
    status: { type: 'string', enum: ['completed', 'canceled'], description: 'completed hangs up; canceled cancels an unanswered call' },
    statusCallback: URL_FIELD,
    statusCallbackMethod: METHOD,
    timeLimit: { type: 'integer', minimum: 1 },
  },
} as const;

const listQuerySchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: [...CALL_STATUSES] },
    to: { type: 'string', minLength: 1 },
    from: { type: 'string', minLength: 1 },
    parentCallSid: SID,
    startTimeFrom: { ...ISO_DATE, description: 'calls that started at or after this instant' },
    startTimeTo: { ...ISO_DATE, description: 'calls that started before this instant' },
    endTimeFrom: ISO_DATE,
    endTimeTo: ISO_DATE,
    pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    pageToken: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

interface ListQuery {
  status?: CallStatus;
  to?: string;
  from?: string;
  parentCallSid?: string;
  startTimeFrom?: string;
  startTimeTo?: string;
  endTimeFrom?: string;
  endTimeTo?: string;
  pageSize: number;
  pageToken?: string;
}

const FILTERS = ['status', 'to', 'from', 'parentCallSid', 'startTimeFrom', 'startTimeTo', 'endTimeFrom', 'endTimeTo'] as const;
const DATE_FILTERS = new Set<string>(['startTimeFrom', 'startTimeTo', 'endTimeFrom', 'endTimeTo']);

/**
 * fastify's ajv removes unknown properties silently; a misspelt field (`statusCalback`) must
 * fail loudly instead, so unknown body keys are refused before validation.
 */
function rejectUnknownBodyFields(properties: Readonly<Record<string, unknown>>): preValidationAsyncHookHandler {
  const known = new Set(Object.keys(properties));
  return async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object');
    for (const key of Object.keys(body)) if (!known.has(key)) throw badRequest(`Unknown field "${key}"`);
  };
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

export const callsRoutes: FastifyPluginAsync<CallsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));
  const { store, calls } = opts;

  app.get<{ Querystring: ListQuery }>(
    '/calls',
    {
      schema: {
        summary: 'List calls, newest first',
        tags: TAGS,
        querystring: listQuerySchema,
        response: {
          200: {
            type: 'object',
            properties: {
              calls: { type: 'array', items: callRecordSchema },
              nextPageToken: nullable('string'),
              nextPageUri: nullable('string'),
            },
          },
          400: errorSchema,
        },
      },
    },
    async (request) => {
      const account = authenticatedAccount(request);
      const q = request.query;
      const filters: Partial<CallListQuery> = {};
      for (const key of FILTERS) {
        const value = q[key];
        if (value === undefined) continue;
        // Any ISO 8601 offset in, the store's UTC form out, so bounds compare as instants.
        (filters as Record<string, string>)[key] = DATE_FILTERS.has(key) ? new Date(value).toISOString() : value;
      }
      const page = await store.listCalls({ ...filters, accountSid: account.sid, pageSize: q.pageSize, pageToken: q.pageToken });
      let nextPageUri: string | null = null;
      if (page.nextPageToken) {
        // Relative, like Twilio's next_page_uri: the client prepends its own base URL.
        const params = new URLSearchParams();
        for (const key of FILTERS) if (q[key] !== undefined) params.set(key, String(q[key]));
        params.set('pageSize', String(q.pageSize));
        params.set('pageToken', page.nextPageToken);
        nextPageUri = `${pathOf(request)}?${params.toString()}`;
      }
      const fresh = page.calls.map((c) => withLive(c, calls?.live(account.sid, c.sid) ?? null)!);
      return { calls: fresh, nextPageToken: page.nextPageToken, nextPageUri };
    },
  );

  app.get<{ Params: { sid: string } }>(
    '/calls/:sid',
    { schema: { summary: 'One call with its event timeline', tags: TAGS, params: sidParams, response: { 200: callWithEventsSchema, 404: errorSchema } } },
    async (request) => {
      const account = authenticatedAccount(request);
      const call = await store.getCall(account.sid, request.params.sid);
      if (!call) throw notFound(pathOf(request));
      const live = calls?.live(account.sid, call.sid) ?? null;
      return { ...withLive(call, live), events: call.events };
    },
  );

  app.delete<{ Params: { sid: string } }>(
    '/calls/:sid',
    { schema: { summary: "Delete an ended call's record and events", tags: TAGS, params: sidParams, response: { 204: { type: 'null' }, 400: errorSchema, 404: errorSchema } } },
    async (request, reply) => {
      const account = authenticatedAccount(request);
      const sid = request.params.sid;
      await deleteEndedCall(store, calls, account.sid, sid, pathOf(request));
      return reply.code(204).send();
    },
  );

  if (!calls) return;

  app.post<{ Body: CallCreateRequest }>(
    '/calls',
    {
      preValidation: rejectUnknownBodyFields(createBodySchema.properties),
      schema: {
        summary: 'Place an outbound call',
        tags: TAGS,
        body: createBodySchema,
        response: { 201: callRecordSchema, 400: errorSchema },
      },
    },
    async (request, reply) => {
      const account = authenticatedAccount(request);
      checkCreateRequest(request.body, nativeFieldName);
      let created;
      try {
        created = await calls.create(account, request.body);
      } catch (err) {
        throw asApiError(err);
      }
      // The call as it was created (queued); it may be ringing by the time this is sent.
      return reply.code(201).send(withLive(null, created));
    },
  );

  app.patch<{ Params: { sid: string }; Body: CallUpdateRequest }>(
    '/calls/:sid',
    {
      preValidation: rejectUnknownBodyFields(updateBodySchema.properties),
      schema: {
        summary: 'Redirect, hang up or cancel a live call',
        tags: TAGS,
        params: sidParams,
        body: updateBodySchema,
        response: { 200: callRecordSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const account = authenticatedAccount(request);
      const sid = request.params.sid;
      checkUpdateRequest(request.body, nativeFieldName);
      let updated;
      try {
        updated = await calls.update(account, sid, request.body);
      } catch (err) {
        throw asApiError(err);
      }
      if (!updated) {
        // Not live here: an ended call cannot change any more; an unknown one is simply not found.
        if (await store.getCall(account.sid, sid)) throw callNotInProgress();
        throw notFound(pathOf(request));
      }
      return freshCall(store, calls, account.sid, sid, updated);
    },
  );
};
