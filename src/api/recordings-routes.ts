/**
 * Native recordings API (register with prefix `/v1`):
 *   GET    /recordings                  newest first, keyset paged, optional `callSid` filter
 *   GET    /recordings/:sid             one recording, camelCase, with an absolute `mediaUrl`
 *   GET    /recordings/:sid/media       the WAV (Range supported)
 *   DELETE /recordings/:sid             removes the file, then the record (204)
 *   GET    /calls/:callSid/recordings   one call's recordings, same paging
 * Behind Basic auth; an account only ever sees its own recordings: another account's SID is a
 * 404 (never a 403, never the file), so SIDs cannot be probed.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { nativeRecordingMediaPath, recordingAbsolutePath } from '../store/recording-paths.js';
import { type AccountStore, type CallStore, type RecordingStore, type StoredRecordingRecord } from '../store/store-types.js';
import { ApiError, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';
import { baseUrlOf, sendWavFile, deleteRecordingAndFile } from './recording-media.js';

export interface RecordingsRoutesOptions {
  store: RecordingStore & CallStore & AccountStore;
  /** The data directory the store's relative `filePath`s are resolved against. */
  dataDir: string;
  /** Base URL clients use to reach this API; default: the request's own scheme and Host. */
  publicBaseUrl?: string;
}

const nullable = (type: string) => ({ type: [type, 'null'] });

export const recordingSchema = {
  type: 'object',
  properties: {
    sid: { type: 'string' },
    accountSid: { type: 'string' },
    callSid: { type: 'string' },
    status: { type: 'string' },
    source: { type: 'string' },
    channels: { type: 'integer' },
    sampleRate: { type: 'integer' },
    durationSeconds: nullable('integer'),
    startTime: { type: 'string' },
    bytes: nullable('integer'),
    errorCode: nullable('integer'),
    dateCreated: { type: 'string' },
    dateUpdated: { type: 'string' },
    mediaUrl: { type: 'string' },
  },
} as const;

const pageSchema = {
  type: 'object',
  properties: {
    recordings: { type: 'array', items: recordingSchema },
    nextPageToken: nullable('string'),
    nextPageUri: nullable('string'),
  },
} as const;

const pagingQuery = {
  pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  pageToken: { type: 'string', minLength: 1, maxLength: 200 },
} as const;

const SID_PARAM = (prefix: string) => ({ type: 'string', pattern: `^${prefix}[0-9a-fA-F]{32}$` });

interface PageQuery {
  callSid?: string;
  pageSize: number;
  pageToken?: string;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

export const recordingsRoutes: FastifyPluginAsync<RecordingsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));

  // filePath is internal (a location inside the data directory): clients get mediaUrl instead.
  const toJson = (request: FastifyRequest, rec: StoredRecordingRecord) => {
    const { filePath: _internal, ...visible } = rec;
    return { ...visible, mediaUrl: `${baseUrlOf(request, opts.publicBaseUrl)}${nativeRecordingMediaPath(rec.sid)}` };
  };

  const listPage = async (request: FastifyRequest, q: PageQuery, filterParam: boolean) => {
    const account = authenticatedAccount(request);
    const page = await opts.store.listRecordings({ accountSid: account.sid, callSid: q.callSid, pageSize: q.pageSize, pageToken: q.pageToken });
    let nextPageUri: string | null = null;
    if (page.nextPageToken) {
      // Relative, like the calls list: the client prepends its own base URL.
      const params = new URLSearchParams({ pageSize: String(q.pageSize), pageToken: page.nextPageToken });
      if (filterParam && q.callSid) params.set('callSid', q.callSid);
      nextPageUri = `${pathOf(request)}?${params.toString()}`;
    }
    return { recordings: page.recordings.map((r) => toJson(request, r)), nextPageToken: page.nextPageToken, nextPageUri };
  };

  const ownRecording = async (request: FastifyRequest, sid: string): Promise<StoredRecordingRecord> => {
    const rec = await opts.store.getRecording(authenticatedAccount(request).sid, sid);
    if (!rec) throw notFound(pathOf(request));
    return rec;
  };

  app.get<{ Querystring: PageQuery }>(
    '/recordings',
    {
      schema: {
        querystring: { type: 'object', properties: { callSid: SID_PARAM('CA'), ...pagingQuery } },
        response: { 200: pageSchema },
      },
    },
    (request) => listPage(request, request.query, true),
  );

  app.get<{ Params: { callSid: string }; Querystring: PageQuery }>(
    '/calls/:callSid/recordings',
    { schema: { querystring: { type: 'object', properties: pagingQuery }, response: { 200: pageSchema } } },
    async (request) => {
      // A call that is not the account's is a 404 here too, as on /calls/:sid.
      const call = await opts.store.getCall(authenticatedAccount(request).sid, request.params.callSid);
      if (!call) throw notFound(pathOf(request));
      return listPage(request, { ...request.query, callSid: call.sid }, false);
    },
  );

  app.get<{ Params: { sid: string } }>(
    '/recordings/:sid',
    { schema: { response: { 200: recordingSchema } } },
    async (request) => toJson(request, await ownRecording(request, request.params.sid)),
  );

  app.get<{ Params: { sid: string } }>('/recordings/:sid/media', async (request, reply) => {
    const rec = await ownRecording(request, request.params.sid);
    const sent = rec.status === 'completed'
      ? await sendWavFile(request, reply, recordingAbsolutePath(opts.dataDir, rec.filePath), `${rec.sid}.wav`)
      : false;
    if (!sent) throw new ApiError(404, 20404, `Recording ${rec.sid} has no media (status ${rec.status})`);
    return reply;
  });

  app.delete<{ Params: { sid: string } }>('/recordings/:sid', async (request, reply) => {
    const rec = await ownRecording(request, request.params.sid);
    await deleteRecordingAndFile(opts.store, opts.dataDir, rec);
    return reply.code(204).send();
  });
};

