/**
 * The custom recognizer: Patchbay's own small WebSocket protocol, so any speech engine (Vosk,
 * whisper.cpp, a vendor SDK...) can be plugged in by running a server, without Patchbay code.
 *
 *   client → engine   {"type":"start", language, hints, sampleRate, encoding:"pcm_s16le", channels:1,
 *                      interimResults, profanityFilter, model?}, then binary frames of audio, then
 *                      {"type":"stop"}
 *   engine → client   {"type":"partial"|"final", transcript, confidence, startMs, endMs},
 *                      {"type":"speech-started", atMs}, {"type":"error", message, code?}, and
 *                      {"type":"done"} once the last final has been sent.
 *
 * The full specification, with an example exchange, is in docs/speech-recognition.md. This module
 * also exports `connectRecognizerSocket`, the handshake logic shared with the Deepgram adapter
 * (timeouts, abort, HTTP refusals mapped to SttError codes).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { SocketRecognitionStream } from './socket-recognition-stream.js';
import { systemClock, type Clock } from '../sip/clock.js';
import {
  SttError,
  type RecognitionEvents,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
  type SttErrorCode,
} from './speech-recognizer.js';

export interface WebSocketRecognizerOptions {
  /** `ws://` or `wss://` URL of the engine. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` on the handshake. */
  token?: string;
  /** Extra handshake headers (e.g. an API gateway's key header). */
  headers?: Readonly<Record<string, string>>;
  /** Engine name for the recognizer catalog (`speechModel="<name>_<model>"`); default `websocket`. */
  name?: string;
  /** Handshake deadline; default 5,000 ms. */
  connectTimeoutMs?: number;
  /** How long after `stop` the engine has to send `done`; default 10,000 ms. */
  finishTimeoutMs?: number;
  clock?: Clock;
}

export interface RecognizerSocketOptions {
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Engine name used in error messages. */
  engine: string;
  /** Response header that carries the provider's reason for refusing the upgrade (Deepgram: `dg-error`). */
  reasonHeader?: string;
}

export { pcmS16leBytes } from './socket-recognition-stream.js';

/** A refused upgrade: which SttError code the HTTP status means. */
function codeForStatus(status: number): SttErrorCode {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 408 || status === 429 || status >= 500) return 'unavailable';
  if (status >= 400) return 'invalid-request';
  return 'unavailable';
}

/**
 * Opens a WebSocket for a recognizer. Rejects with SttError: 'unavailable' when the server cannot
 * be reached or does not finish the handshake within `timeoutMs`, 'unauthorized' on 401/403,
 * 'invalid-request' on other 4xx, 'aborted' when the signal fires first.
 */
export function connectRecognizerSocket(url: string, options: RecognizerSocketOptions): Promise<WebSocket> {
  const { clock, signal, engine } = options;
  if (signal?.aborted) return Promise.reject(new SttError('aborted', `${engine}: aborted before connecting`));
  return new Promise<WebSocket>((resolve, reject) => {
    let ws: WebSocket;
    try {
      // Audio barely compresses: permessage-deflate would only cost CPU on both ends.
      ws = new WebSocket(url, { headers: { ...options.headers }, perMessageDeflate: false });
    } catch (err) {
      reject(new SttError('invalid-request', `${engine}: bad URL ${url}`, { cause: err }));
      return;
    }
    let settled = false;
    const timer = clock.setTimeout(
      () => fail(new SttError('unavailable', `${engine}: no WebSocket handshake within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const onAbort = (): void => fail(new SttError('aborted', `${engine}: aborted while connecting`));
    signal?.addEventListener('abort', onAbort, { once: true });

    const cleanup = (): void => {
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ws.off('open', onOpen);
      ws.off('unexpected-response', onRefused);
      ws.off('error', onError);
    };
    function fail(err: SttError): void {
      if (settled) return;
      cleanup();
      // terminate() during the handshake makes ws emit one more 'error' ("closed before the
      // connection was established"): our own doing, already reported as `err`.
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err);
    }
    function onOpen(): void {
      if (settled) return;
      cleanup();
      resolve(ws);
    }
    function onRefused(_req: ClientRequest, res: IncomingMessage): void {
      const status = res.statusCode ?? 0;
      const header = options.reasonHeader ? res.headers[options.reasonHeader.toLowerCase()] : undefined;
      const reason = typeof header === 'string' && header !== '' ? `: ${header}` : '';
      res.resume();
      fail(new SttError(codeForStatus(status), `${engine} refused the connection (HTTP ${status})${reason}`));
    }
    function onError(err: Error): void {
      fail(new SttError('unavailable', `${engine}: cannot connect to ${new URL(url).host} (${err.message})`, { cause: err }));
    }
    ws.on('open', onOpen);
    ws.on('unexpected-response', onRefused);
    ws.on('error', onError);
  });
}

/** The engine's frames, as the protocol defines them. */
type EngineFrame =
  | { type: 'partial' | 'final'; result: RecognitionResult }
  | { type: 'speech-started'; atMs: number }
  | { type: 'error'; error: SttError }
  | { type: 'done' }
  | { type: 'ignored' };

const ENGINE_ERROR_CODES: ReadonlySet<SttErrorCode> = new Set(['invalid-request', 'unauthorized', 'unavailable', 'engine-failed']);

function optionalNumber(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`"${field}" must be a number`);
  return value;
}

/** Parses one text frame from the engine; throws on a frame that breaks the protocol. */
function parseEngineFrame(text: string): EngineFrame {
  const msg: unknown = JSON.parse(text);
  if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string') {
    throw new Error('frame is not a JSON object with a "type"');
  }
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'partial':
    case 'final': {
      if (typeof m.transcript !== 'string') throw new Error(`"${m.type}" without a "transcript" string`);
      const confidence = optionalNumber(m.confidence, 0, 'confidence');
      const startMs = optionalNumber(m.startMs, 0, 'startMs');
      const endMs = optionalNumber(m.endMs, startMs, 'endMs');
      const result = { transcript: m.transcript, confidence: Math.min(1, Math.max(0, confidence)), startMs, endMs };
      return { type: m.type, result };
    }
    case 'speech-started':
      return { type: 'speech-started', atMs: optionalNumber(m.atMs, 0, 'atMs') };
    case 'error': {
      const code = typeof m.code === 'string' && ENGINE_ERROR_CODES.has(m.code as SttErrorCode) ? (m.code as SttErrorCode) : 'engine-failed';
      const message = typeof m.message === 'string' ? m.message : 'unspecified error';
      return { type: 'error', error: new SttError(code, `engine error: ${message}`) };
    }
    case 'done':
      return { type: 'done' };
    default:
      // Unknown types are ignored so engines can add messages without breaking older clients.
      return { type: 'ignored' };
  }
}

/** Patchbay's custom protocol: `stop` ends the audio, `done` follows the last `final`. */
class WebSocketRecognitionStream extends SocketRecognitionStream {
  protected endOfAudioFrame(): string {
    return JSON.stringify({ type: 'stop' });
  }

  protected finishTimeoutMessage(ms: number): string {
    return `${this.engine}: no "done" within ${ms} ms of "stop"`;
  }

  protected override onSocketClosed(code: number, reason: string): void {
    const why = this.socketError ? this.socketError.message : `code ${code}${reason ? ` ${reason}` : ''}`;
    this.fail(new SttError('engine-failed', `${this.engine}: connection closed before "done" (${why})`, { cause: this.socketError }));
  }

  protected onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    // RFC 6455 §7.4.1: 1002 = protocol error, 1000 = normal closure.
    if (isBinary) return this.fail(new SttError('engine-failed', `${this.engine}: protocol error: unexpected binary frame`), 1002);
    let frame: EngineFrame;
    try {
      frame = parseEngineFrame(data.toString());
    } catch (err) {
      return this.fail(new SttError('engine-failed', `${this.engine}: protocol error: ${(err as Error).message}`, { cause: err }), 1002);
    }
    switch (frame.type) {
      case 'partial':
        if (frame.result.transcript.trim() !== '') this.events.partial?.(frame.result);
        break;
      case 'final':
        this.finals.push(frame.result);
        if (frame.result.transcript.trim() !== '') this.events.final?.(frame.result);
        break;
      case 'speech-started':
        this.events.speechStarted?.(frame.atMs);
        break;
      case 'error':
        this.fail(frame.error, 1000);
        break;
      case 'done':
        if (this.state !== 'finishing') {
          return this.fail(new SttError('engine-failed', `${this.engine}: protocol error: "done" before "stop"`), 1002);
        }
        this.complete();
        break;
      case 'ignored':
        break;
    }
  }
}

export class WebSocketRecognizer implements SpeechRecognizer {
  readonly name: string;
  private readonly clock: Clock;

  constructor(private readonly options: WebSocketRecognizerOptions) {
    this.name = options.name ?? 'websocket';
    this.clock = options.clock ?? systemClock;
  }

  async open(options: RecognitionOptions, events: RecognitionEvents, signal?: AbortSignal): Promise<RecognitionStream> {
    if (!Number.isInteger(options.sampleRate) || options.sampleRate <= 0) {
      throw new SttError('invalid-request', `${this.name}: bad sample rate ${options.sampleRate}`);
    }
    const headers: Record<string, string> = { ...this.options.headers };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    const ws = await connectRecognizerSocket(this.options.url, {
      headers,
      timeoutMs: this.options.connectTimeoutMs ?? 5_000,
      clock: this.clock,
      signal,
      engine: this.name,
    });
    if (signal?.aborted) {
      ws.terminate();
      throw new SttError('aborted', `${this.name}: aborted while connecting`);
    }
    const stream = new WebSocketRecognitionStream(ws, events, this.name, this.options.finishTimeoutMs ?? 10_000, this.clock, signal);
    const start: Record<string, unknown> = {
      type: 'start',
      language: options.language,
      hints: options.hints,
      sampleRate: options.sampleRate,
      encoding: 'pcm_s16le',
      channels: 1,
      interimResults: options.interimResults,
      profanityFilter: options.profanityFilter,
    };
    if (options.model !== undefined) start.model = options.model;
    ws.send(JSON.stringify(start));
    return stream;
  }
}
