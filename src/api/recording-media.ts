/**
 * Serves a recording's WAV file, shared by the native and the Twilio-shaped routes. Streams from
 * one open file handle (a concurrent DELETE cannot cut the response short on POSIX), and honours a
 * single byte range (RFC 9110 §14) so players can seek: `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * Several ranges are answered with the whole file (§14.2 lets a server ignore Range), a range
 * starting past the end is 416 with `Content-Range: bytes *\/size` (§15.5.17), and `If-Range`
 * with a different validator falls back to the whole file (§13.1.5).
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody, styleFor } from './api-errors.js';
import { recordingAbsolutePath } from '../store/recording-paths.js';
import { StoreError, type RecordingStore, type StoredRecordingRecord } from '../store/store-types.js';

export const WAV_CONTENT_TYPE = 'audio/wav';

/** The base URL for links in responses: configured, or how this client reached us. */
export function baseUrlOf(request: FastifyRequest, configured: string | undefined): string {
  return (configured ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
}

export type ByteRange = { start: number; end: number };

/**
 * The range to send for a `Range` header and a file of `size` bytes: null = the whole file
 * (no header, another unit, several ranges or a syntactically invalid one), 'unsatisfiable' = 416.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]); // last n bytes
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return null; // invalid: ignore the header (§14.1.1)
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

/**
 * Sends the file at `path` as audio/wav; resolves to false (nothing sent) when the file does not
 * exist, so the route can answer its own 404. Not to the reply itself: a FastifyReply is a
 * thenable, so awaiting it waits for the response and yields undefined — the route then took a
 * sent download for a missing file and threw after replying.
 */
export async function sendWavFile(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  downloadName: string,
): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let range: ByteRange | 'unsatisfiable' | null;
  let size: number;
  let etag: string;
  try {
    const st = await fh.stat();
    size = st.size;
    // Finished recordings never change in place, so size and mtime identify the bytes.
    etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    reply
      .header('Accept-Ranges', 'bytes')
      .header('ETag', etag)
      .header('Last-Modified', st.mtime.toUTCString())
      .header('Cache-Control', 'private, no-cache') // behind credentials: never in shared caches
      .header('Content-Disposition', `inline; filename="${downloadName}"`);
    const ifRange = request.headers['if-range'];
    range = ifRange === undefined || ifRange === etag ? parseByteRange(request.headers.range, size) : null;
  } catch (err) {
    await fh.close().catch(() => undefined); // the stat failure is the error to report
    throw err;
  }
  if (range === 'unsatisfiable') {
    await fh.close();
    const err = new ApiError(416, 20416, `Range ${request.headers.range ?? ''} is outside the recording (${size} bytes)`);
    reply.code(416).header('Content-Range', `bytes */${size}`).type('application/json; charset=utf-8').send(errorBody(err, styleFor(request)));
    return true;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  if (range) reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
  reply.type(WAV_CONTENT_TYPE).header('Content-Length', String(end - start + 1));
  if (request.method === 'HEAD') {
    await fh.close();
    // Fastify's HEAD handling zeroes Content-Length for an empty payload but keeps it for a
    // stream (which it drains): an empty stream keeps the real length without reading the file.
    reply.send(Readable.from([]));
    return true;
  }
  // The stream owns the handle from here and closes it when done or destroyed.
  reply.send(fh.createReadStream({ start, end }));
  return true;
}

/** 409: Twilio documents no code for this; 20409 follows its "20 + HTTP status" generic codes. */
function recordingInProgress(sid: string): ApiError {
  return new ApiError(409, 20409, `Recording ${sid} is still in progress and cannot be deleted`);
}

/** Deletes a finished recording: its file, then its record (409 while it is still being written). */
export async function deleteRecordingAndFile(store: Pick<RecordingStore, 'deleteRecording'>, dataDir: string, rec: StoredRecordingRecord): Promise<void> {
  if (rec.status === 'in-progress') throw recordingInProgress(rec.sid);
  // File first: if that fails the record stays and the client can retry, rather than leaving
  // audio on disk that no API lists any more.
  try {
    await unlink(recordingAbsolutePath(dataDir, rec.filePath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await store.deleteRecording(rec.accountSid, rec.sid);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'RECORDING_IN_PROGRESS') throw recordingInProgress(rec.sid);
    throw err;
  }
}
