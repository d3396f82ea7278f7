/**
 * Native call-record API (register with prefix `/v1`): `GET /calls` (newest first, keyset paged)
 * and `GET /calls/:sid` (record plus its event timeline). camelCase JSON; every route is behind
 * Basic auth and an account only ever sees its own calls (another account's SID is a 404, not a
 * 403, so SIDs cannot be probed). JSON schemas are the contract: query validation failures become
 * 400/20001 through api-errors.ts, and responses are serialised from the same schemas.
 */
import type { FastifyPluginAsync } from 'fastify';
import { CALL_STATUSES, type AccountStore, type CallStatus, type CallStore } from '../store/store-types.js';
import { notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';

export interface CallsRoutesOptions {
  store: CallStore & AccountStore;
}

const nullable = (type: string) => ({ type: [type, 'null'] });

export const callRecordSchema = {
  type: 'object',
  properties: {
    sid: { type: 'string' },
    accountSid: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    direction: { type: 'string' },
    status: { type: 'string' },
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

interface ListQuery {
  status?: CallStatus;
  pageSize: number;
  pageToken?: string;
}

export const callsRoutes: FastifyPluginAsync<CallsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));

  app.get<{ Querystring: ListQuery }>(
    '/calls',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...CALL_STATUSES] },
            pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            pageToken: { type: 'string', minLength: 1, maxLength: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              calls: { type: 'array', items: callRecordSchema },
              nextPageToken: nullable('string'),
              nextPageUri: nullable('string'),
            },
          },
        },
      },
    },
    async (request) => {
      const account = authenticatedAccount(request);
      const { status, pageSize, pageToken } = request.query;
      const page = await opts.store.listCalls({ accountSid: account.sid, status, pageSize, pageToken });
      let nextPageUri: string | null = null;
      if (page.nextPageToken) {
        // Relative, like Twilio's next_page_uri: the client prepends its own base URL.
        const params = new URLSearchParams({ pageSize: String(pageSize), pageToken: page.nextPageToken });
        if (status) params.set('status', status);
        nextPageUri = `${request.url.split('?')[0]}?${params.toString()}`;
      }
      return { calls: page.calls, nextPageToken: page.nextPageToken, nextPageUri };
    },
  );

  app.get<{ Params: { sid: string } }>(
    '/calls/:sid',
    { schema: { response: { 200: callWithEventsSchema } } },
    async (request) => {
      const account = authenticatedAccount(request);
      const call = await opts.store.getCall(account.sid, request.params.sid);
      if (!call) throw notFound(request.url.split('?')[0] ?? request.url);
      return call;
    },
  );
};
