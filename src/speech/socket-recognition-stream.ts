/**
 * The life of a recognition stream over one WebSocket, shared by the Deepgram adapter and the custom
 * protocol client: open → finishing (end-of-audio sent, a deadline armed) → done, or failed/aborted.
 * A failure is reported exactly once: through finish()'s rejection when finish() is pending, through
 * `events.error` otherwise (and to a later finish() call). Subclasses say what to send and how to
 * read the engine's frames; this class owns the states, timers, signal and socket teardown.
 */
import WebSocket from 'ws';
import type { Clock } from '../sip/clock.js';
import { SttError, joinResults, type RecognitionEvents, type RecognitionResult, type RecognitionStream } from './speech-recognizer.js';
import { endianness } from 'node:os';

const IS_BIG_ENDIAN = endianness() === 'BE';

/** Copies samples into a little-endian byte buffer (the caller may reuse its array; ws may queue ours). */
export function pcmS16leBytes(samples: Int16Array): Buffer {
  const bytes = Buffer.from(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
  if (IS_BIG_ENDIAN) bytes.swap16();
  return bytes;
}

type StreamState = 'open' | 'finishing' | 'done' | 'failed' | 'aborted';

export abstract class SocketRecognitionStream implements RecognitionStream {
  protected state: StreamState = 'open';
  /** Final utterances so far; finish() resolves their join. */
  protected readonly finals: RecognitionResult[] = [];
  /** The transport error behind a close, if any ('error' always precedes 'close'). */
  protected socketError: Error | undefined;
  private failure: SttError | undefined;
  private settle: { resolve(r: RecognitionResult | null): void; reject(e: SttError): void } | undefined;
  private finishPromise: Promise<RecognitionResult | null> | undefined;
  private finishTimer: object | undefined;
  private readonly onAbort = (): void => this.abort();

  constructor(
    protected readonly ws: WebSocket,
    protected readonly events: RecognitionEvents,
    /** Engine name for error messages. */
    protected readonly engine: string,
    private readonly finishTimeoutMs: number,
    protected readonly clock: Clock,
    private readonly signal: AbortSignal | undefined,
  ) {
    ws.on('message', (data, isBinary) => {
      if (this.live) this.onFrame(data, isBinary);
    });
    ws.on('error', (err) => {
      this.socketError = err; // 'close' follows and reports it
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** A frame from the engine while the stream is open or finishing. */
  protected abstract onFrame(data: WebSocket.RawData, isBinary: boolean): void;
  /** The control frame that tells the engine no more audio comes. */
  protected abstract endOfAudioFrame(): string;
  /** Why finish() gave up waiting (names the engine's last expected message). */
  protected abstract finishTimeoutMessage(ms: number): string;
  /**
   * The socket closed while the stream was open or finishing. The default: a failure naming the
   * close code and reason. Subclasses may treat a clean close while finishing as completion.
   */
  protected onSocketClosed(code: number, reason: string): void {
    const why = this.socketError ? this.socketError.message : `code ${code}${reason ? ` ${reason}` : ''}`;
    this.fail(new SttError('engine-failed', `${this.engine}: connection closed before the final result (${why})`, { cause: this.socketError }));
  }
  /** Releases subclass timers; called once when the stream ends. */
  protected releaseExtra(): void {}

  protected get live(): boolean {
    return this.state === 'open' || this.state === 'finishing';
  }

  write(samples: Int16Array): void {
    // An empty binary frame means "end of audio" to some engines: never send one.
    if (this.state !== 'open' || samples.length === 0 || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(pcmS16leBytes(samples));
    this.afterAudioSent();
  }

  /** Hook for engines that track sending (keep-alives). */
  protected afterAudioSent(): void {}

  finish(): Promise<RecognitionResult | null> {
    if (this.finishPromise) return this.finishPromise;
    if (this.state === 'aborted') return Promise.reject(new SttError('aborted', `${this.engine}: stream was aborted`));
    if (this.failure) return Promise.reject(this.failure);
    this.state = 'finishing';
    this.finishPromise = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.ws.send(this.endOfAudioFrame());
    this.finishTimer = this.clock.setTimeout(() => this.fail(new SttError('timeout', this.finishTimeoutMessage(this.finishTimeoutMs))), this.finishTimeoutMs);
    return this.finishPromise;
  }

  abort(): void {
    if (!this.live) return;
    this.state = 'aborted';
    this.release();
    this.ws.terminate();
    this.settle?.reject(new SttError('aborted', `${this.engine}: stream was aborted`));
  }

  /** The engine delivered everything: resolve finish() with the joined finals and close cleanly. */
  protected complete(): void {
    this.state = 'done';
    this.release();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    this.settle?.resolve(joinResults(this.finals));
  }

  /** Ends the stream with an error, reported once (see the header). */
  protected fail(err: SttError, closeCode?: number): void {
    if (!this.live) return;
    const finishing = this.state === 'finishing';
    this.state = 'failed';
    this.failure = err;
    this.release();
    // A live engine gets a proper close frame; a silent or dead one is cut off at once.
    if (closeCode !== undefined && this.ws.readyState === WebSocket.OPEN) this.ws.close(closeCode);
    else this.ws.terminate();
    if (finishing) this.settle?.reject(err);
    else this.events.error?.(err);
  }

  private onClose(code: number, reason: string): void {
    if (this.live) this.onSocketClosed(code, reason);
  }

  private release(): void {
    if (this.finishTimer) this.clock.clearTimeout(this.finishTimer);
    this.finishTimer = undefined;
    this.releaseExtra();
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
