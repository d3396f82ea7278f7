/**
 * A speech engine served over Patchbay's custom recognizer protocol (docs/speech-recognition.md):
 * the reference server for the protocol, and a template for wrapping any engine. It is backed by
 * any SpeechRecognizer; run directly, it serves the embedded pocketsphinx recognizer:
 *
 *   node --import tsx examples/websocket-recognizer-server.ts [--host 127.0.0.1] [--port 8765] [--token secret]
 *
 * then point Patchbay's `websocket` engine at ws://127.0.0.1:8765/ (with the same token, if any).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { PocketsphinxRecognizer } from '../src/speech/pocketsphinx-recognizer.js';
import {
  SttError,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
} from '../src/speech/speech-recognizer.js';

export interface RecognizerServerOptions {
  recognizer: SpeechRecognizer;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** When set, handshakes must carry `Authorization: Bearer <token>` (else HTTP 401). */
  token?: string;
}

export interface RunningRecognizerServer {
  /** ws:// URL clients connect to. */
  readonly url: string;
  close(): Promise<void>;
}

/** Validates a `start` frame into RecognitionOptions; throws SttError('invalid-request'). */
function readStart(msg: Record<string, unknown>): RecognitionOptions {
  const bad = (why: string): never => {
    throw new SttError('invalid-request', `bad "start": ${why}`);
  };
  if (msg.encoding !== 'pcm_s16le') bad(`encoding must be "pcm_s16le"`);
  if (msg.channels !== undefined && msg.channels !== 1) bad('only mono (channels: 1) is supported');
  const sampleRate = msg.sampleRate;
  if (typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) bad('sampleRate must be an integer 8000..48000');
  const hints = msg.hints ?? [];
  if (!Array.isArray(hints) || !hints.every((h) => typeof h === 'string')) bad('hints must be an array of strings');
  if (msg.model !== undefined && typeof msg.model !== 'string') bad('model must be a string');
  return {
    language: typeof msg.language === 'string' ? msg.language : 'en-US',
    hints: hints as string[],
    sampleRate: sampleRate as number,
    model: msg.model as string | undefined,
    interimResults: msg.interimResults === true,
    profanityFilter: msg.profanityFilter !== false,
  };
}

function resultFrame(type: 'partial' | 'final', r: RecognitionResult): string {
  return JSON.stringify({ type, transcript: r.transcript, confidence: r.confidence, startMs: r.startMs, endMs: r.endMs });
}

/** One client connection: start → audio → stop → finals → done. */
function serveSession(ws: WebSocket, recognizer: SpeechRecognizer): void {
  const abort = new AbortController();
  let opening: Promise<RecognitionStream | undefined> | undefined;
  let stream: RecognitionStream | undefined;
  let finished = false;
  let finalsSent = 0;
  /** An odd byte left over when a frame split a sample. */
  let carry: number | undefined;

  const send = (text: string): void => {
    if (ws.readyState === ws.OPEN) ws.send(text);
  };
  const failWith = (err: unknown): void => {
    if (finished) return;
    finished = true;
    const code = err instanceof SttError ? err.code : 'engine-failed';
    send(JSON.stringify({ type: 'error', code, message: err instanceof Error ? err.message : String(err) }));
    abort.abort();
    stream?.abort();
    ws.close(1000);
  };

  const toSamples = (data: Buffer): Int16Array => {
    const bytes = carry === undefined ? data : Buffer.concat([Buffer.from([carry]), data]);
    const even = bytes.length & ~1;
    carry = even < bytes.length ? bytes[even] : undefined;
    const samples = new Int16Array(even / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
    return samples;
  };

  ws.on('message', (data: RawData, isBinary) => {
    if (finished) return;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      if (!opening) return failWith(new SttError('invalid-request', 'audio before "start"'));
      const samples = toSamples(buf);
      if (stream) stream.write(samples);
      // Frames that arrive while the engine is still opening are written, in order, once it is open.
      else void opening.then((s) => s?.write(samples));
      return;
    }
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(buf.toString()) as Record<string, unknown>;
    } catch {
      return failWith(new SttError('invalid-request', 'text frame is not JSON'));
    }
    if (msg.type === 'start') {
      if (opening) return failWith(new SttError('invalid-request', 'second "start"'));
      let options: RecognitionOptions;
      try {
        options = readStart(msg);
      } catch (err) {
        return failWith(err);
      }
      const events = {
        partial: (r: RecognitionResult) => send(resultFrame('partial', r)),
        final: (r: RecognitionResult) => {
          finalsSent++;
          send(resultFrame('final', r));
        },
        speechStarted: (atMs: number) => send(JSON.stringify({ type: 'speech-started', atMs })),
        error: (err: SttError) => failWith(err),
      };
      opening = recognizer.open(options, events, abort.signal).then(
        (s) => {
          if (finished) s.abort(); // the client left while the engine was opening
          else stream = s;
          return s;
        },
        (err: unknown) => {
          failWith(err);
          return undefined;
        },
      );
    } else if (msg.type === 'stop') {
      if (!opening) return failWith(new SttError('invalid-request', '"stop" before "start"'));
      void opening.then(async (s) => {
        if (!s || finished) return;
        try {
          const result = await s.finish();
          if (finished) return;
          // An engine that only reports through finish() still gets its result across as a final.
          if (result && finalsSent === 0) send(resultFrame('final', result));
          finished = true;
          send(JSON.stringify({ type: 'done' }));
          ws.close(1000);
        } catch (err) {
          failWith(err);
        }
      });
    }
    // Other types are ignored, as the protocol asks of both sides.
  });
  ws.on('error', () => {
    // 'close' follows; the stream is abandoned there.
  });
  ws.on('close', () => {
    if (finished) return;
    finished = true;
    abort.abort(); // cancels an open() still in progress
    stream?.abort();
  });
}

export async function startRecognizerServer(options: RecognizerServerOptions): Promise<RunningRecognizerServer> {
  const http = createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n'));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const sockets = new Set<Socket>();
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSession(ws, options.recognizer));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = http.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `ws://${host}:${port}/`,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8765' }, token: { type: 'string' } },
  });
  const recognizer = new PocketsphinxRecognizer();
  const server = await startRecognizerServer({ recognizer, host: values.host, port: Number(values.port), token: values.token });
  console.log(`custom recognizer protocol (pocketsphinx) on ${server.url}`);
  const stop = (): void => {
    void server.close().then(() => recognizer.close?.());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
