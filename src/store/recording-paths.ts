/**
 * Where recordings live and how apps address them, in one place so the Record verb, the API and
 * start-up recovery agree.
 *
 * Files: `<dataDir>/recordings/<AccountSid>/<RecordingSid>.wav` (`.wav.part` while being written).
 * Records store the path relative to the data directory, so a data directory can be moved or
 * restored elsewhere. Paths are built only from validated SIDs, and every stored path is checked
 * again before use, so nothing in the database can point outside the data directory.
 *
 * URLs: the `RecordingUrl` given to apps is Twilio's shape,
 * `<base>/2010-04-01/Accounts/<AccountSid>/Recordings/<RecordingSid>` (no extension: WAV, as
 * Twilio serves it), so code that appends `.wav`/`.json` to it keeps working.
 */
import { isAbsolute, resolve, sep } from 'node:path';
import { isSid } from '../ids.js';

export const RECORDINGS_DIR = 'recordings';

export class RecordingPathError extends Error {
  override readonly name = 'RecordingPathError';
  readonly code = 'INVALID_RECORDING_PATH';
}

/** `recordings/<AccountSid>/<RecordingSid>.wav`; throws RecordingPathError unless both are SIDs. */
export function recordingRelativePath(accountSid: string, recordingSid: string): string {
  if (!isSid('AC', accountSid)) throw new RecordingPathError(`not an account SID: "${accountSid}"`);
  if (!isSid('RE', recordingSid)) throw new RecordingPathError(`not a recording SID: "${recordingSid}"`);
  return `${RECORDINGS_DIR}/${accountSid}/${recordingSid}.wav`;
}

/** True for a relative, forward-slash path of plain segments (no `..`, no empty or dot segments). */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 512 || isAbsolute(path) || path.includes('\\')) return false;
  return path.split('/').every((seg) => /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(seg) && seg !== '..' && !/^\.+$/.test(seg));
}

/** The absolute file path of a stored relative path; throws RecordingPathError if it could escape `dataDir`. */
export function recordingAbsolutePath(dataDir: string, relativePath: string): string {
  if (!isSafeRelativePath(relativePath)) throw new RecordingPathError(`unsafe recording path "${relativePath}"`);
  const root = resolve(dataDir);
  const abs = resolve(root, ...relativePath.split('/'));
  if (!abs.startsWith(root + sep)) throw new RecordingPathError(`recording path "${relativePath}" leaves the data directory`);
  return abs;
}

/** Relative Twilio resource path without extension: `/2010-04-01/Accounts/AC…/Recordings/RE…`. */
export function twilioRecordingPath(accountSid: string, recordingSid: string): string {
  return `/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}`;
}

/**
 * The public `RecordingUrl` for apps (and Twilio JSON `media_url`). `publicBaseUrl` is how apps
 * reach this server's HTTP API, e.g. `https://voice.example.com` or `http://10.0.0.5:8080/pb`.
 */
export function recordingUrl(publicBaseUrl: string, accountSid: string, recordingSid: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${twilioRecordingPath(accountSid, recordingSid)}`;
}

/** Relative native media path: `/v1/recordings/RE…/media`. */
export function nativeRecordingMediaPath(recordingSid: string): string {
  return `/v1/recordings/${recordingSid}/media`;
}
