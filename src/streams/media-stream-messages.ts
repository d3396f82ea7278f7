/**
 * Twilio Media Streams wire protocol (JSON text frames), byte-faithful.
 *
 * Outbound (Patchbay → app): `connected`, `start`, `media`, `dtmf`, `mark`, `stop`. Key order and
 * value types follow /work/shared/reference/twilio-voice.md §6.1 exactly, because agent frameworks
 * (Pipecat's runner, the OpenAI realtime demo, Deepgram's sample) match on them: counters and
 * timestamps are *strings* of integers, `sampleRate`/`channels` are numbers.
 * Inbound (app → Patchbay, bidirectional streams only, §6.2): `media`, `mark`, `clear`, parsed by
 * `parseAppMessage`, which returns a typed error instead of throwing on bad input.
 *
 * Strings are built by hand (not JSON.stringify of an object) so key order can never depend on
 * object construction, and integer-like customParameters keys keep their given order.
 */

export type MediaStreamTrack = 'inbound' | 'outbound';

export interface MediaStreamStartInfo {
  streamSid: string;
  accountSid: string;
  callSid: string;
  tracks: readonly MediaStreamTrack[];
  /** `<Parameter name value/>` children, in document order. */
  customParameters: ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>;
}

const q = JSON.stringify;

function objectOf(params: MediaStreamStartInfo['customParameters']): string {
  const entries = Array.isArray(params)
    ? (params as ReadonlyArray<readonly [string, string]>)
    : Object.entries(params as Readonly<Record<string, string>>);
  return `{${entries.map(([k, v]) => `${q(k)}:${q(v)}`).join(',')}}`;
}

/** First frame of every stream; carries no streamSid and no sequenceNumber. */
export function connectedMessage(): string {
  return '{"event":"connected","protocol":"Call","version":"1.0.0"}';
}

export function startMessage(sequenceNumber: number, info: MediaStreamStartInfo): string {
  const sid = q(info.streamSid);
  return (
    `{"event":"start","sequenceNumber":"${sequenceNumber}","streamSid":${sid},"start":{` +
    `"streamSid":${sid},"accountSid":${q(info.accountSid)},"callSid":${q(info.callSid)},` +
    `"tracks":${q(info.tracks)},"customParameters":${objectOf(info.customParameters)},` +
    `"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`
  );
}

/** `timestampMs` is milliseconds since the stream started (the OpenAI demo's truncation math uses it). */
export function mediaMessage(
  sequenceNumber: number,
  streamSid: string,
  track: MediaStreamTrack,
  chunk: number,
  timestampMs: number,
  mulaw: Uint8Array,
): string {
  const b64 = Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64');
  return (
    `{"event":"media","sequenceNumber":"${sequenceNumber}","streamSid":${q(streamSid)},"media":{` +
    `"track":"${track}","chunk":"${chunk}","timestamp":"${timestampMs}","payload":"${b64}"}}`
  );
}

/** DTMF is only reported on the caller's track, named `inbound_track` (not `inbound`) by Twilio. */
export function dtmfMessage(sequenceNumber: number, streamSid: string, digit: string): string {
  return (
    `{"event":"dtmf","streamSid":${q(streamSid)},"sequenceNumber":"${sequenceNumber}",` +
    `"dtmf":{"track":"inbound_track","digit":${q(digit)}}}`
  );
}

/** Echo of an app mark. A mark the app sent without a name is echoed with an empty `mark` object. */
export function markMessage(sequenceNumber: number, streamSid: string, name: string | undefined): string {
  const body = name === undefined ? '{}' : `{"name":${q(name)}}`;
  return `{"event":"mark","sequenceNumber":"${sequenceNumber}","streamSid":${q(streamSid)},"mark":${body}}`;
}

export function stopMessage(sequenceNumber: number, streamSid: string, accountSid: string, callSid: string): string {
  return (
    `{"event":"stop","sequenceNumber":"${sequenceNumber}","streamSid":${q(streamSid)},` +
    `"stop":{"accountSid":${q(accountSid)},"callSid":${q(callSid)}}}`
  );
}

export type MediaStreamEncoderErrorCode = 'NOT_STARTED' | 'ALREADY_STARTED' | 'STOPPED' | 'BAD_TRACK' | 'BAD_TIMESTAMP';

export class MediaStreamEncoderError extends Error {
  readonly code: MediaStreamEncoderErrorCode;
  constructor(code: MediaStreamEncoderErrorCode, message: string) {
    super(message);
    this.name = 'MediaStreamEncoderError';
    this.code = code;
  }
}

/**
 * One stream's outbound messages with its counters: `sequenceNumber` is "1" on `start` and grows by one
 * for every later message; `chunk` starts at 1 per track. Misuse (media before start, anything after
 * stop, a track not announced in `start`) throws, because it is a programming error, not bad input.
 */
export class MediaStreamEncoder {
  private sequence = 0;
  private started = false;
  private stopped = false;
  private readonly chunks: Record<MediaStreamTrack, number> = { inbound: 0, outbound: 0 };

  constructor(readonly info: MediaStreamStartInfo) {}

  connected(): string {
    this.assertOpen();
    if (this.started) throw new MediaStreamEncoderError('ALREADY_STARTED', 'connected must precede start');
    return connectedMessage();
  }

  start(): string {
    this.assertOpen();
    if (this.started) throw new MediaStreamEncoderError('ALREADY_STARTED', 'start was already sent');
    this.started = true;
    return startMessage(this.next(), this.info);
  }

  media(track: MediaStreamTrack, timestampMs: number, mulaw: Uint8Array): string {
    this.assertStarted();
    if (!this.info.tracks.includes(track)) {
      throw new MediaStreamEncoderError('BAD_TRACK', `track ${track} was not announced in start`);
    }
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
      throw new MediaStreamEncoderError('BAD_TIMESTAMP', `timestamp must be a non-negative integer, got ${timestampMs}`);
    }
    const chunk = ++this.chunks[track];
    return mediaMessage(this.next(), this.info.streamSid, track, chunk, timestampMs, mulaw);
  }

  dtmf(digit: string): string {
    this.assertStarted();
    return dtmfMessage(this.next(), this.info.streamSid, digit);
  }

  mark(name: string | undefined): string {
    this.assertStarted();
    return markMessage(this.next(), this.info.streamSid, name);
  }

  /** The last message of the stream; the encoder refuses everything afterwards. */
  stop(): string {
    this.assertStarted();
    this.stopped = true;
    return stopMessage(this.next(), this.info.streamSid, this.info.accountSid, this.info.callSid);
  }

  /** Takes the next sequence number for a message built outside this encoder (Patchbay's extensions). */
  nextSequenceNumber(): number {
    this.assertStarted();
    return this.next();
  }

  /** Sequence number of the last message sent (0 before start). */
  get sequenceNumber(): number {
    return this.sequence;
  }

  private next(): number {
    return ++this.sequence;
  }

  private assertOpen(): void {
    if (this.stopped) throw new MediaStreamEncoderError('STOPPED', 'stream already stopped');
  }

  private assertStarted(): void {
    this.assertOpen();
    if (!this.started) throw new MediaStreamEncoderError('NOT_STARTED', 'start must be sent first');
  }
}

// ---------------------------------------------------------------------------------------------
// App → Patchbay

export type AppMessage =
  | { event: 'media'; streamSid: string | undefined; payload: Buffer }
  | { event: 'mark'; streamSid: string | undefined; name: string | undefined }
  | { event: 'clear'; streamSid: string | undefined };

export type MediaStreamParseErrorCode =
  | 'TOO_LARGE'
  | 'BAD_JSON'
  | 'NOT_OBJECT'
  | 'UNKNOWN_EVENT'
  | 'MISSING_FIELD'
  | 'BAD_FIELD_TYPE'
  | 'WRONG_STREAM_SID'
  | 'INVALID_BASE64';

export class MediaStreamParseError extends Error {
  readonly code: MediaStreamParseErrorCode;
  /** Twilio's debugger code for an invalid message from the app's server. */
  readonly twilioCode = 31951;
  constructor(code: MediaStreamParseErrorCode, message: string) {
    super(message);
    this.name = 'MediaStreamParseError';
    this.code = code;
  }
}

export type AppMessageResult = { ok: true; message: AppMessage } | { ok: false; error: MediaStreamParseError };

export interface ParseAppMessageOptions {
  /** When set, a message carrying a different streamSid is rejected; a missing streamSid is accepted. */
  expectedStreamSid?: string;
  /** Largest accepted frame in bytes (UTF-8). Default 1 MiB (≈ 98 s of µ-law in one message). */
  maxBytes?: number;
}

export const DEFAULT_MAX_APP_MESSAGE_BYTES = 1024 * 1024;

// Standard alphabet (RFC 4648 §4); padding optional but, if present, correct. No whitespace.
const BASE64 = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fail(code: MediaStreamParseErrorCode, message: string): AppMessageResult {
  return { ok: false, error: new MediaStreamParseError(code, message) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse one text frame from the app. Never throws. */
export function parseAppMessage(raw: string | Buffer, options: ParseAppMessageOptions = {}): AppMessageResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_APP_MESSAGE_BYTES;
  const size = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.length;
  if (size > maxBytes) return fail('TOO_LARGE', `message of ${size} bytes exceeds ${maxBytes}`);
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return fail('BAD_JSON', `not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(data)) return fail('NOT_OBJECT', 'message is not a JSON object');
  const { event, streamSid } = data;
  if (typeof event !== 'string') return fail('MISSING_FIELD', 'event is missing or not a string');
  if (streamSid !== undefined && typeof streamSid !== 'string') {
    return fail('BAD_FIELD_TYPE', 'streamSid is not a string');
  }
  if (options.expectedStreamSid !== undefined && streamSid !== undefined && streamSid !== options.expectedStreamSid) {
    return fail('WRONG_STREAM_SID', `streamSid ${streamSid} is not ${options.expectedStreamSid}`);
  }
  switch (event) {
    case 'media': {
      const media = data.media;
      if (!isRecord(media)) return fail('MISSING_FIELD', 'media object is missing');
      const payload = media.payload;
      if (typeof payload !== 'string') return fail('MISSING_FIELD', 'media.payload is missing or not a string');
      const padded = payload.endsWith('=');
      if (payload.length % 4 === 1 || (padded && payload.length % 4 !== 0) || !BASE64.test(payload)) {
        return fail('INVALID_BASE64', 'media.payload is not valid base64');
      }
      return { ok: true, message: { event: 'media', streamSid, payload: Buffer.from(payload, 'base64') } };
    }
    case 'mark': {
      const mark = data.mark;
      // The OpenAI realtime demo sends marks without a name (and sometimes without a mark object).
      if (mark !== undefined && !isRecord(mark)) return fail('BAD_FIELD_TYPE', 'mark is not an object');
      const name = mark?.name;
      if (name !== undefined && typeof name !== 'string') return fail('BAD_FIELD_TYPE', 'mark.name is not a string');
      return { ok: true, message: { event: 'mark', streamSid, name } };
    }
    case 'clear':
      return { ok: true, message: { event: 'clear', streamSid } };
    default:
      return fail('UNKNOWN_EVENT', `unknown event ${JSON.stringify(event).slice(0, 64)}`);
  }
}
