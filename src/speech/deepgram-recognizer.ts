/**
 * Deepgram streaming recognition (the "Live audio" API, `wss://api.deepgram.com/v1/listen`).
 *
 * The caller's audio goes up as binary frames of raw linear16 (described by query parameters, no
 * container); Deepgram answers with JSON messages: `Results` (interim when `is_final` is false;
 * `speech_final` marks the end of an utterance detected by endpointing), `SpeechStarted` (with
 * `vad_events=true`), `UtteranceEnd` (with `utterance_end_ms`), and `Metadata`, its summary, sent
 * after `{"type":"CloseStream"}` just before it closes the socket. Errors mid-stream arrive as a
 * close frame whose reason names them (`NET-0001`: no audio for 10 s, hence `KeepAlive`).
 *
 * Deepgram splits one utterance into several `is_final` segments; this adapter joins them until
 * `speech_final`/`UtteranceEnd`/the end of the stream, so `final` means a whole utterance here too.
 */
import WebSocket from 'ws';
import { systemClock, type Clock } from '../sip/clock.js';
import {
  SttError,
  joinResults,
  type RecognitionEvents,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
} from './speech-recognizer.js';
import { connectRecognizerSocket } from './websocket-recognizer.js';
import { SocketRecognitionStream } from './socket-recognition-stream.js';

export interface DeepgramRecognizerOptions {
  apiKey: string;
  /** Default `wss://api.deepgram.com` (`https:`/`http:` are accepted and mapped to `wss:`/`ws:`). */
  baseUrl?: string;
  /** Default `nova-3`; a request's own model (speechModel `deepgram_nova-2`) wins. */
  model?: string;
  /** Handshake deadline; default 5,000 ms. */
  connectTimeoutMs?: number;
  /** How long after CloseStream Deepgram has to send its last results; default 10,000 ms. */
  finishTimeoutMs?: number;
  /** A KeepAlive is sent when no audio has been sent for this long (Deepgram closes after 10 s); default 4,000 ms. */
  keepAliveMs?: number;
  /** Silence (ms) that ends an utterance (`speech_final`), or false to disable; default 300. */
  endpointingMs?: number | false;
  /** Deepgram's smart formatting (numbers, dates...); default true. */
  smartFormat?: boolean;
  clock?: Clock;
}

/** Deepgram accepts at most 100 keywords; keyterms are limited by tokens (500), which 100 short hints respect. */
const MAX_HINTS = 100;

/** The `/v1/listen` URL for one stream. */
function listenUrl(base: string, model: string, options: RecognitionOptions, config: DeepgramRecognizerOptions): string {
  const q = new URLSearchParams({
    encoding: 'linear16',
    sample_rate: String(options.sampleRate),
    channels: '1',
    model,
    interim_results: String(options.interimResults),
    punctuate: 'true',
    smart_format: String(config.smartFormat ?? true),
    profanity_filter: String(options.profanityFilter),
    vad_events: 'true',
    endpointing: config.endpointingMs === false ? 'false' : String(config.endpointingMs ?? 300),
  });
  if (options.language) q.set('language', options.language);
  // UtteranceEnd needs interim results (Deepgram measures the gap after the last finalized word).
  if (options.interimResults) q.set('utterance_end_ms', '1000');
  const hints = options.hints.map((h) => h.trim()).filter((h) => h !== '');
  if (model.startsWith('nova-3')) {
    // Keyterm prompting (Nova-3 only) takes phrases as they are.
    for (const h of hints.slice(0, MAX_HINTS)) q.append('keyterm', h);
  } else {
    // Keywords (Nova-2 and older) are single words, optionally `word:intensifier`.
    const words = new Set(hints.flatMap((h) => h.split(/\s+/)));
    for (const w of [...words].slice(0, MAX_HINTS)) q.append('keywords', w);
  }
  const root = base.replace(/^http(s?):/i, 'ws$1:').replace(/\/+$/, '');
  return `${root}/v1/listen?${q.toString()}`;
}

/** The fields of a `Results` message this adapter reads. */
interface DeepgramResults {
  type: 'Results';
  start?: number;
  duration?: number;
  is_final?: boolean;
  speech_final?: boolean;
  channel?: { alternatives?: { transcript?: string; confidence?: number }[] };
}

/** Deepgram's live stream: CloseStream ends the audio; Metadata (or a clean close) follows the last results. */
class DeepgramStream extends SocketRecognitionStream {
  /** `is_final` segments of the utterance in progress. */
  private segments: RecognitionResult[] = [];
  private keepAliveTimer: object | undefined;
  private lastSentAt: number;

  constructor(
    ws: WebSocket,
    events: RecognitionEvents,
    finishTimeoutMs: number,
    private readonly keepAliveMs: number,
    clock: Clock,
    signal: AbortSignal | undefined,
  ) {
    super(ws, events, 'deepgram', finishTimeoutMs, clock, signal);
    this.lastSentAt = clock.now();
    this.scheduleKeepAlive();
  }

  protected endOfAudioFrame(): string {
    return JSON.stringify({ type: 'CloseStream' });
  }

  protected finishTimeoutMessage(ms: number): string {
    return `deepgram: no final results within ${ms} ms of CloseStream`;
  }

  protected override afterAudioSent(): void {
    this.lastSentAt = this.clock.now();
  }

  protected override releaseExtra(): void {
    if (this.keepAliveTimer) this.clock.clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  protected onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    if (!isBinary) this.onMessage(data.toString());
  }

  private scheduleKeepAlive(): void {
    this.keepAliveTimer = this.clock.setTimeout(() => {
      if (this.state !== 'open') return;
      const idle = this.clock.now() - this.lastSentAt;
      if (idle >= this.keepAliveMs && this.ws.readyState === WebSocket.OPEN) {
        // A text frame: Deepgram misreads a binary KeepAlive as audio.
        this.ws.send(JSON.stringify({ type: 'KeepAlive' }));
        this.lastSentAt = this.clock.now();
      }
      this.scheduleKeepAlive();
    }, Math.max(1, this.keepAliveMs - (this.clock.now() - this.lastSentAt)));
  }

  private onMessage(text: string): void {
    let msg: { type?: unknown } & Record<string, unknown>;
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch (err) {
      return this.fail(new SttError('engine-failed', 'deepgram: unparseable message', { cause: err }), 1002);
    }
    switch (msg.type) {
      case 'Results':
        this.onResults(msg as unknown as DeepgramResults);
        break;
      case 'SpeechStarted':
        if (typeof msg.timestamp === 'number') this.events.speechStarted?.(Math.round(msg.timestamp * 1000));
        break;
      case 'UtteranceEnd':
        this.endUtterance();
        break;
      case 'Metadata':
        // The summary comes after the last results of a CloseStream: the stream is complete.
        if (this.state === 'finishing') this.complete();
        break;
      case 'Error': {
        const detail = [msg.description, msg.message, msg.variant].find((v) => typeof v === 'string');
        this.fail(new SttError('engine-failed', `deepgram error: ${String(detail ?? 'unspecified')}`), 1000);
        break;
      }
      default:
        break; // newer message types are not ours to fail on
    }
  }

  private onResults(msg: DeepgramResults): void {
    const alt = msg.channel?.alternatives?.[0];
    const start = msg.start ?? 0;
    const segment: RecognitionResult = {
      transcript: (alt?.transcript ?? '').trim(),
      confidence: alt?.confidence ?? 0,
      startMs: Math.round(start * 1000),
      endMs: Math.round((start + (msg.duration ?? 0)) * 1000),
    };
    if (!msg.is_final) {
      // Interim: the utterance so far is the finalized segments plus this guess.
      const sofar = joinResults([...this.segments, segment]);
      if (segment.transcript !== '' && sofar) this.events.partial?.(sofar);
      return;
    }
    if (segment.transcript !== '') this.segments.push(segment);
    if (msg.speech_final) this.endUtterance();
  }

  private endUtterance(): void {
    const utterance = joinResults(this.segments);
    this.segments = [];
    if (!utterance) return;
    this.finals.push(utterance);
    this.events.final?.(utterance);
  }

  protected override complete(): void {
    this.endUtterance();
    super.complete();
  }

  protected override onSocketClosed(code: number, reason: string): void {
    if (this.state === 'finishing' && (code === 1000 || code === 1005) && !this.socketError) return this.complete();
    // Deepgram names its errors in the close reason (NET-0001, DATA-0000...).
    const why = this.socketError ? this.socketError.message : `code ${code}${reason ? ` ${reason}` : ''}`;
    this.fail(new SttError('engine-failed', `deepgram closed the stream (${why})`, { cause: this.socketError }));
  }
}

export class DeepgramRecognizer implements SpeechRecognizer {
  readonly name = 'deepgram';
  private readonly clock: Clock;

  constructor(private readonly options: DeepgramRecognizerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  async open(options: RecognitionOptions, events: RecognitionEvents, signal?: AbortSignal): Promise<RecognitionStream> {
    if (!this.options.apiKey) throw new SttError('unauthorized', 'deepgram: no API key configured');
    if (!Number.isInteger(options.sampleRate) || options.sampleRate <= 0) {
      throw new SttError('invalid-request', `deepgram: bad sample rate ${options.sampleRate}`);
    }
    const model = options.model ?? this.options.model ?? 'nova-3';
    const url = listenUrl(this.options.baseUrl ?? 'wss://api.deepgram.com', model, options, this.options);
    const ws = await connectRecognizerSocket(url, {
      headers: { Authorization: `Token ${this.options.apiKey}` },
      timeoutMs: this.options.connectTimeoutMs ?? 5_000,
      clock: this.clock,
      signal,
      engine: 'deepgram',
      reasonHeader: 'dg-error',
    });
    if (signal?.aborted) {
      ws.terminate();
      throw new SttError('aborted', 'deepgram: aborted while connecting');
    }
    const { finishTimeoutMs = 10_000, keepAliveMs = 4_000 } = this.options;
    return new DeepgramStream(ws, events, finishTimeoutMs, keepAliveMs, this.clock, signal);
  }
}
