/**
 * A loopback stand-in for Deepgram's live transcription endpoint (`/v1/listen` over WebSocket),
 * following the published wire protocol: `Authorization: Token <key>` checked on the handshake
 * (refusals are plain HTTP responses carrying `dg-error`/`dg-request-id` headers and a JSON body),
 * binary audio frames, `KeepAlive`/`CloseStream` text frames, and after CloseStream the remaining
 * `Results`, a `Metadata` summary and a normal close. It records everything the client sent; the
 * test scripts what it answers with the message builders below (shapes as in Deepgram's docs).
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeDeepgramOptions {
  apiKey: string;
  /** `accept` (default), `hang` (receive the upgrade request and never answer), or an HTTP status to refuse with. */
  handshake?: 'accept' | 'hang' | number;
  /** `finalize` (default): on CloseStream send `finalizeMessages`, Metadata, close 1000. `ignore`: do nothing. */
  onCloseStream?: 'finalize' | 'ignore';
  /** Called as each session is accepted, before any audio: scripts answers for clients that finish at once. */
  onSession?: (session: FakeDeepgramSession) => void;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** Resolves when `pred` holds, re-checked on every `change`; fails (rather than hangs) after 5 s. */
function waitOn(emitter: EventEmitter, pred: () => boolean, what: string): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off('change', check);
      reject(new Error(`fake deepgram: timed out waiting for ${what}`));
    }, 5_000);
    function check(): void {
      if (!pred()) return;
      clearTimeout(timer);
      emitter.off('change', check);
      resolve();
    }
    emitter.on('change', check);
  });
}

export class FakeDeepgramSession extends EventEmitter {
  audioBytes = 0;
  binaryFrames = 0;
  readonly textMessages: Record<string, unknown>[] = [];
  keepAlives = 0;
  closeStreamReceived = false;
  closed = false;
  /** Close code the client sent (or 1006 when it just dropped the connection). */
  closeCode: number | undefined;
  /** What the server sends between CloseStream and Metadata (the finalized tail of the audio). */
  finalizeMessages: object[] = [];
  readonly requestId = randomUUID();

  constructor(
    readonly url: URL,
    readonly headers: IncomingHttpHeaders,
    private readonly ws: WebSocket,
    onCloseStream: 'finalize' | 'ignore',
  ) {
    super();
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        this.binaryFrames++;
        this.audioBytes += data.length;
      } else {
        const msg = JSON.parse(data.toString()) as Record<string, unknown>;
        this.textMessages.push(msg);
        if (msg.type === 'KeepAlive') this.keepAlives++;
        if (msg.type === 'CloseStream') {
          this.closeStreamReceived = true;
          if (onCloseStream === 'finalize') this.finalize();
        }
      }
      this.emit('change');
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.emit('change');
    });
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Ends the stream the way Deepgram reports errors: a close frame naming the error. */
  closeWith(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  waitFor(pred: () => boolean, what: string): Promise<void> {
    return waitOn(this, pred, what);
  }

  private finalize(): void {
    for (const m of this.finalizeMessages) this.send({ ...m, from_finalize: true });
    this.send(metadata(this.requestId, this.audioBytes / 2 / Number(this.url.searchParams.get('sample_rate') ?? 8000)));
    this.ws.close(1000);
  }
}

export class FakeDeepgramServer extends EventEmitter {
  readonly sessions: FakeDeepgramSession[] = [];
  /** Every upgrade request seen, answered or not. */
  readonly handshakes: { url: string; headers: IncomingHttpHeaders }[] = [];
  private readonly sockets = new Set<Socket>();
  private taken = 0;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly options: FakeDeepgramOptions,
  ) {
    super();
  }

  static async start(options: FakeDeepgramOptions): Promise<FakeDeepgramServer> {
    const server = createServer((_req, res) => res.writeHead(426).end());
    const wss = new WebSocketServer({ noServer: true });
    const fake = new FakeDeepgramServer(server, wss, options);
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    server.on('upgrade', (req, socket, head) => {
      fake.handshakes.push({ url: req.url ?? '', headers: req.headers });
      fake.emit('change');
      const url = new URL(req.url ?? '/', 'ws://127.0.0.1');
      const mode = options.handshake ?? 'accept';
      if (mode === 'hang') return;
      if (url.pathname !== '/v1/listen') return refuse(socket as Socket, 404, 'Not Found');
      if (typeof mode === 'number') return refuse(socket as Socket, mode, `fake refusal ${mode}`);
      if (req.headers.authorization !== `Token ${options.apiKey}`) {
        return refuse(socket as Socket, 401, 'Invalid credentials.');
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const session = new FakeDeepgramSession(url, req.headers, ws, options.onCloseStream ?? 'finalize');
        options.onSession?.(session);
        fake.sessions.push(session);
        fake.emit('change');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The sessions in the order they were accepted, one per call. */
  async nextSession(): Promise<FakeDeepgramSession> {
    const index = this.taken++;
    await waitOn(this, () => this.sessions.length > index, 'a WebSocket session');
    return this.sessions[index]!;
  }

  waitForHandshakes(n: number): Promise<void> {
    return waitOn(this, () => this.handshakes.length >= n, `${n} handshake(s)`);
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function refuse(socket: Socket, status: number, error: string): void {
  const body = JSON.stringify({ err_code: status === 401 ? 'INVALID_AUTH' : 'REQUEST_REFUSED', err_msg: error, request_id: randomUUID() });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      `dg-error: ${error}\r\n` +
      `dg-request-id: ${randomUUID()}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}

export interface ResultsSpec {
  transcript: string;
  confidence?: number;
  /** Seconds from the start of the audio. */
  start: number;
  duration: number;
  isFinal: boolean;
  speechFinal?: boolean;
}

/** A `Results` message as Deepgram sends it (words spread evenly over the segment). */
export function results(spec: ResultsSpec): object {
  const words = spec.transcript.split(/\s+/).filter((w) => w !== '');
  const step = words.length ? spec.duration / words.length : 0;
  const confidence = spec.confidence ?? 0.98;
  return {
    type: 'Results',
    channel_index: [0, 1],
    duration: spec.duration,
    start: spec.start,
    is_final: spec.isFinal,
    speech_final: spec.speechFinal ?? false,
    channel: {
      alternatives: [
        {
          transcript: spec.transcript,
          confidence,
          words: words.map((w, i) => ({
            word: w.toLowerCase().replace(/[^a-z0-9']/g, ''),
            start: spec.start + i * step,
            end: spec.start + (i + 1) * step,
            confidence,
            punctuated_word: w,
          })),
        },
      ],
    },
    metadata: {
      request_id: randomUUID(),
      model_info: { name: '2-general-nova', version: '2024-01-18.26916', arch: 'nova-3' },
      model_uuid: randomUUID(),
    },
    from_finalize: false,
  };
}

export function speechStarted(seconds: number): object {
  return { type: 'SpeechStarted', channel: [0], timestamp: seconds };
}

export function utteranceEnd(lastWordEndSeconds: number): object {
  return { type: 'UtteranceEnd', channel: [0, 1], last_word_end: lastWordEndSeconds };
}

export function metadata(requestId: string, durationSeconds: number): object {
  return {
    type: 'Metadata',
    transaction_key: 'deprecated',
    request_id: requestId,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    created: new Date().toISOString(),
    duration: durationSeconds,
    channels: 1,
  };
}
