/**
 * One Media Stream: a WebSocket client to the app's server carrying the call's live audio in a
 * dialect (Twilio's JSON protocol or Patchbay's L16), and, for a bidirectional stream, the app's
 * audio back to the caller through the call's playout queue.
 *
 * Playout follows Twilio's rules (twilio-voice.md §6.2): app audio of any size and cadence is
 * queued and played at real time by the media clock (no pacing of ours on top); a mark is echoed
 * when everything queued before it has been played, or at once when `clear` empties the queue;
 * the queue is bounded (beyond it, audio is dropped with a 31930 warning, never unbounded memory).
 * The session ends exactly once: 'stopped' (by us), 'app-closed' (the app closed the socket) or
 * 'failed' (handshake 31920, broken socket 31921).
 */
import { EventEmitter } from 'node:events';
import type { LookupFunction } from 'node:net';
import WebSocket, { type RawData } from 'ws';
import type { AudioFrame, StreamDialect } from './stream-dialect.js';

/** The call's playout queue (media/AudioOutput). */
export interface StreamPlayout {
  play(samples: Int16Array, signal?: AbortSignal): Promise<'finished' | 'aborted' | 'cleared'>;
  clear(): void;
  readonly queuedSamples: number;
}

/**
 * Where the app's WebSocket may connect (webhooks/EgressPolicy satisfies it): `check` refuses a
 * URL before connecting (blocked IP literals); the socket options apply to the connection itself
 * (a lookup that refuses blocked addresses, extra trusted CAs).
 */
export interface StreamEgress {
  check(url: URL): void;
  socketOptions(): { lookup?: LookupFunction; ca?: string[] };
}

export interface MediaStreamSessionOptions {
  url: string;
  /** Connection policy for the app's URL; default: certificates verified, every address allowed. */
  egress?: StreamEgress;
  /** Handshake headers (X-Twilio-Signature...). */
  headers?: Record<string, string>;
  /** The handshake must complete within this; default 5,000 ms. */
  connectTimeoutMs?: number;
  dialect: StreamDialect;
  /** Bidirectional streams play the app's audio here; null for a listen-only fork. */
  playout: StreamPlayout | null;
  /** App audio queued beyond this is dropped (31930); default 120 s at 8 kHz. */
  maxQueuedSamples?: number;
  /** Largest frame accepted from the app; default 2 MiB (about 3 minutes of base64 µ-law). */
  maxMessageBytes?: number;
  /** Outgoing frames are dropped while this much is unsent (an app that stopped reading); default 1 MiB. */
  maxBufferedBytes?: number;
}

export type StreamEndReason = 'stopped' | 'app-closed' | 'failed';

export interface StreamEnd {
  reason: StreamEndReason;
  /** Twilio's Media Streams error code when it failed (31920 handshake, 31921 socket). */
  code?: number;
  message?: string;
}

export interface StreamWarning {
  code: number;
  message: string;
}

export interface MediaStreamSessionEvents {
  started: [];
  warning: [StreamWarning];
  ended: [StreamEnd];
}

const EMPTY = new Int16Array(0);
const NORMAL_CLOSES = new Set([1000, 1001, 1005]);

export class MediaStreamSession extends EventEmitter<MediaStreamSessionEvents> {
  private ws: WebSocket | null = null;
  private state: 'idle' | 'connecting' | 'open' | 'ended' = 'idle';
  private firstFrame = -1;
  private overflowing = false;
  private congested = false;
  private readonly maxQueued: number;
  private readonly maxBuffered: number;
  /** Statistics: frames sent to and audio samples received from the app. */
  readonly counters = { framesSent: 0, framesDropped: 0, appAudioSamples: 0, appAudioDropped: 0, marksEchoed: 0, invalidMessages: 0 };

  constructor(private readonly options: MediaStreamSessionOptions) {
    super();
    this.maxQueued = options.maxQueuedSamples ?? 8000 * 120;
    this.maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get bidirectional(): boolean {
    return this.options.playout !== null;
  }

  /** Connects and sends the opening frames; resolves when started, or after 'ended' (failed). */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.resolve();
    this.state = 'connecting';
    return new Promise<void>((resolve) => {
      let ws: WebSocket;
      try {
        this.options.egress?.check(new URL(this.options.url));
        ws = new WebSocket(this.options.url, {
          ...this.options.egress?.socketOptions(),
          handshakeTimeout: this.options.connectTimeoutMs ?? 5000,
          headers: this.options.headers ?? {},
          maxPayload: this.options.maxMessageBytes ?? 2 * 1024 * 1024,
          perMessageDeflate: false,
        });
      } catch (err) {
        this.end({ reason: 'failed', code: 31920, message: `cannot connect to ${this.options.url}: ${(err as Error).message}` });
        resolve();
        return;
      }
      this.ws = ws;
      ws.binaryType = 'nodebuffer';
      ws.on('unexpected-response', (_req, res) => {
        this.end({ reason: 'failed', code: 31920, message: `handshake refused: HTTP ${res.statusCode ?? '?'}` });
        ws.terminate();
        resolve();
      });
      ws.on('open', () => {
        if (this.state !== 'connecting') return;
        this.state = 'open';
        for (const f of this.options.dialect.opening()) ws.send(f);
        this.emit('started');
        resolve();
      });
      ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data as Buffer, isBinary));
      ws.on('error', (err: Error) => {
        const handshake = this.state === 'connecting';
        this.end({ reason: 'failed', code: handshake ? 31920 : 31921, message: handshake ? `handshake failed: ${err.message}` : `socket error: ${err.message}` });
        resolve();
      });
      ws.on('close', (code: number, reason: Buffer) => {
        if (this.state === 'connecting') this.end({ reason: 'failed', code: 31920, message: `closed during the handshake (${code})` });
        else if (NORMAL_CLOSES.has(code)) this.end({ reason: 'app-closed' });
        else this.end({ reason: 'failed', code: 31921, message: `socket closed abnormally (${code}${reason.length ? ` ${reason.toString('utf8').slice(0, 100)}` : ''})` });
        resolve();
      });
    });
  }

  /**
   * One 20 ms frame of the call's audio (the tracks this stream does not carry are ignored by its
   * dialect). `frame` counts the call's frames: timestamps are 20 ms per frame since the first one sent.
   */
  sendAudio(frame: number, inbound: AudioFrame | null, outbound: AudioFrame | null): void {
    const ws = this.ws;
    if (this.state !== 'open' || !ws) return;
    if (this.firstFrame < 0) this.firstFrame = frame;
    if (ws.bufferedAmount > this.maxBuffered) {
      // Twilio drops audio for a congested socket (31930) rather than buffer without end.
      this.counters.framesDropped++;
      if (!this.congested) this.emit('warning', { code: 31930, message: 'the app is not reading: audio frames are being dropped' });
      this.congested = true;
      return;
    }
    this.congested = false;
    for (const f of this.options.dialect.audio((frame - this.firstFrame) * 20, inbound, outbound)) ws.send(f);
    this.counters.framesSent++;
  }

  /** Stream time (ms) of one of the call's frames. */
  timeOf(frame: number): number {
    return this.firstFrame < 0 ? 0 : Math.max(0, (frame - this.firstFrame) * 20);
  }

  dtmf(digit: string): void {
    if (this.state === 'open') this.ws?.send(this.options.dialect.dtmf(digit));
  }

  speech(type: 'speech-started' | 'speech-stopped', atMs: number): void {
    if (this.state === 'open') this.ws?.send(this.options.dialect.speech(type, atMs));
  }

  /** Empties the queued audio at once; pending marks are echoed (as for the app's `clear`). */
  clearPlayout(): void {
    this.options.playout?.clear();
  }

  /** Sends `stop` and closes the socket (also the way a call's end closes its streams). */
  stop(): void {
    const ws = this.ws;
    if (this.state === 'open' && ws) {
      ws.send(this.options.dialect.stop());
      ws.close(1000);
    } else {
      ws?.terminate();
    }
    this.end({ reason: 'stopped' });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state !== 'open') return;
    const frame = this.options.dialect.parse(data, isBinary);
    const playout = this.options.playout;
    switch (frame.kind) {
      case 'invalid':
        // Reported once (the count goes with the stream's end): a broken app must not flood callbacks.
        if (this.counters.invalidMessages++ === 0) this.emit('warning', { code: 31951, message: `invalid message from the app: ${frame.message}` });
        return;
      case 'audio':
        if (!playout) return; // a fork is listen-only: Twilio ignores audio sent on it
        if (playout.queuedSamples + frame.pcm.length > this.maxQueued) {
          this.counters.appAudioDropped += frame.pcm.length;
          if (!this.overflowing) this.emit('warning', { code: 31930, message: `the app queued more than ${this.maxQueued / 8000} s of audio: audio dropped` });
          this.overflowing = true;
          return;
        }
        this.overflowing = false;
        this.counters.appAudioSamples += frame.pcm.length;
        void playout.play(frame.pcm);
        return;
      case 'mark':
        if (!playout) return;
        // An empty clip settles when everything queued before it has been played out, or on clear.
        void playout.play(EMPTY).then(() => {
          if (this.state !== 'open') return;
          this.counters.marksEchoed++;
          this.ws?.send(this.options.dialect.mark(frame.name));
        });
        return;
      case 'clear':
        playout?.clear();
        return;
    }
  }

  private end(end: StreamEnd): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    // The app's audio still queued goes with the stream, unless the app itself closed after sending it.
    // (While a bidirectional stream runs, its audio is all the call plays. One clear instead of an
    // abort listener per queued message, which an app sending 20 ms chunks would pile up by the hundred.)
    if (end.reason !== 'app-closed') this.options.playout?.clear();
    this.emit('ended', end);
  }
}
