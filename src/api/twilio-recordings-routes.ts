/**
 * Twilio-shaped recording routes (register with prefix `/2010-04-01/Accounts/:AccountSid`), so the
 * `RecordingUrl` Patchbay gives apps behaves like Twilio's:
 *   GET /Recordings/:sid        audio/wav (Twilio serves WAV when there is no extension)
 *   GET /Recordings/:sid.wav    audio/wav
 *   GET /Recordings/:sid.json   the Recording resource, snake_case, RFC 2822 dates
 *   GET /Recordings.json        the account's recordings, newest first (CallSid filter; paged)
 *   DELETE /Recordings/:sid.json  the file, then the record → 204 (409 while still recording)
 * One call's recordings (`Calls/{CA}/Recordings.json`) are served with the Calls resource. Basic
 * auth as AccountSid:AuthToken; a path account other than the authenticated one, or another
 * account's recording, is a 404.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { recordingAbsolutePath, recordingUrl, twilioRecordingPath } from '../store/recording-paths.js';
import { type AccountStore, type RecordingStore, type StoredRecordingRecord } from '../store/store-types.js';
import { ApiError, badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth } from './basic-auth.js';
import { baseUrlOf, sendWavFile, deleteRecordingAndFile } from './recording-media.js';
import { rfc2822, twilioAccountPath } from './twilio-json.js';
import { queryValue, readTwilioPaging, twilioPage, twilioPageMeta } from './twilio-paging.js';

export interface TwilioRecordingsRoutesOptions {
  store: RecordingStore & AccountStore;
  dataDir: string;
  /** Base URL for `media_url`; default: the request's own scheme and Host. */
  publicBaseUrl?: string;
}

// Moved to twilio-json.ts with the other Twilio JSON conventions; re-exported for existing importers.
export { rfc2822 } from './twilio-json.js';

/** The Recording resource as Twilio's API returns it (oai `api.v2010.account.recording`). */
export function twilioRecordingJson(rec: StoredRecordingRecord, publicBaseUrl: string): Record<string, unknown> {
  return {
    account_sid: rec.accountSid,
    api_version: '2010-04-01',
    call_sid: rec.callSid,
    conference_sid: null,
    date_created: rfc2822(rec.dateCreated),
    date_updated: rfc2822(rec.dateUpdated),
    start_time: rfc2822(rec.startTime),
    duration: rec.durationSeconds === null ? null : String(rec.durationSeconds),
    sid: rec.sid,
    price: null,
    price_unit: 'USD',
    status: rec.status,
    channels: rec.channels,
    source: rec.source,
    error_code: rec.errorCode,
    encryption_details: null,
    uri: `${twilioRecordingPath(rec.accountSid, rec.sid)}.json`,
    // Only subresources this server answers are listed (none yet: no transcriptions, no add-ons).
    subresource_uris: {},
    media_url: recordingUrl(publicBaseUrl, rec.accountSid, rec.sid),
  };
}

const FILE_RE = /^(RE[0-9a-fA-F]{32})(?:\.(wav|json|mp3))?$/;
const LIST_KEYS = new Set(['CallSid', 'PageSize', 'Page', 'PageToken']);
/** Twilio's other list filters: refused by name, since answering without them would list too much. */
const UNSUPPORTED_LIST_KEYS = new Set(['DateCreated', 'DateCreated<', 'DateCreated>', 'ConferenceSid', 'IncludeSoftDeleted']);


export const twilioRecordingsRoutes: FastifyPluginAsync<TwilioRecordingsRoutesOptions> = async (app, opts) => {
  app.addHook('onRequest', basicAuth(opts.store));

  app.get<{ Params: { AccountSid: string; file: string } }>('/Recordings/:file', async (request: FastifyRequest<{ Params: { AccountSid: string; file: string } }>, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const account = authenticatedAccount(request);
    const m = FILE_RE.exec(request.params.file);
    if (!m || request.params.AccountSid !== account.sid) throw notFound(path);
    const [, sid, ext] = m;
    const rec = await opts.store.getRecording(account.sid, sid!);
    if (!rec) throw notFound(path);
    if (ext === 'json') return reply.type('application/json; charset=utf-8').send(twilioRecordingJson(rec, baseUrlOf(request, opts.publicBaseUrl)));
    if (ext === 'mp3') throw new ApiError(404, 20404, `${path}: MP3 is not available, recordings are stored as WAV (request it without an extension or with .wav)`);
    const sent = rec.status === 'completed'
      ? await sendWavFile(request, reply, recordingAbsolutePath(opts.dataDir, rec.filePath), `${rec.sid}.wav`)
      : false;
    if (!sent) throw new ApiError(404, 20404, `Recording ${rec.sid} has no media (status ${rec.status})`);
    return reply;
  });

  app.get('/Recordings.json', async (request) => {
    const account = authenticatedAccount(request);
    for (const key of Object.keys(request.query as object)) {
      if (UNSUPPORTED_LIST_KEYS.has(key)) throw badRequest(`${key} is not supported by Patchbay's Recordings list (CallSid is)`);
      if (!LIST_KEYS.has(key)) throw badRequest(`Unknown parameter "${key}"`);
    }
    const paging = readTwilioPaging(request.query);
    const callSid = queryValue(request.query, 'CallSid');
    const page = await opts.store.listRecordings({ accountSid: account.sid, pageSize: paging.pageSize, pageToken: paging.pageToken, ...(callSid !== undefined ? { callSid } : {}) });
    const base = baseUrlOf(request, opts.publicBaseUrl);
    const meta = twilioPageMeta({
      path: `${twilioAccountPath(account.sid)}/Recordings.json`, filters: { CallSid: callSid }, paging,
      count: page.recordings.length, nextPageToken: page.nextPageToken,
    });
    return twilioPage('recordings', page.recordings.map((r) => twilioRecordingJson(r, base)), meta);
  });

  app.delete<{ Params: { AccountSid: string; file: string } }>('/Recordings/:file', async (request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const account = authenticatedAccount(request);
    const m = FILE_RE.exec(request.params.file);
    if (!m || (m[2] !== undefined && m[2] !== 'json')) throw notFound(path);
    const rec = await opts.store.getRecording(account.sid, m[1]!);
    if (!rec) throw notFound(path);
    await deleteRecordingAndFile(opts.store, opts.dataDir, rec);
    return reply.code(204).send();
  });
};
