/**
 * The machinery both fake TTS providers share: a loopback HTTP server that records each request
 * (method, path, query, headers, JSON body) and answers with a chunked audio body, an error JSON,
 * or a misbehaviour (stall, cut connection) a test asks for. `gate` holds the body after its first
 * chunk until the test opens it: a client that does not stream never sees a chunk, so it deadlocks
 * and the test times out instead of passing.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

export type Misbehaviour =
  /** Accept the request and never answer. */
  | 'stall-before-answer'
  /** Send the first chunk, then nothing, keeping the connection open. */
  | 'stall-mid-stream'
  /** Send the first chunk, then destroy the socket. */
  | 'cut-mid-stream';

export interface AudioAnswer {
  contentType: string;
  bytes: Uint8Array;
}

export type Verdict = { status: number; json: unknown } | AudioAnswer;

export abstract class FakeAudioServer {
  readonly requests: RecordedRequest[] = [];
  /** Bytes per body chunk (odd by default, so 16-bit samples straddle chunk edges). */
  chunkBytes = 301;
  /** When set, the body pauses after its first chunk until this promise settles. */
  gate: Promise<void> | undefined;
  /** Applies to the next request only. */
  misbehave: Misbehaviour | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  private readonly stalled: ServerResponse[] = [];
  private goneWaiters: (() => void)[] = [];
  /** Responses whose client went away before the body ended. */
  clientsGone = 0;

  /** Resolves when a client next hangs up in the middle of an answer. */
  clientGone(): Promise<void> {
    return new Promise((resolve) => this.goneWaiters.push(resolve));
  }

  get baseUrl(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The provider's answer to one recorded request. */
  protected abstract answer(req: RecordedRequest): Verdict;

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientsGone++;
      for (const w of this.goneWaiters.splice(0)) w();
    });
    const url = new URL(req.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body };
    this.requests.push(recorded);
    const misbehave = this.misbehave;
    this.misbehave = undefined;
    if (misbehave === 'stall-before-answer') {
      this.stalled.push(res);
      return;
    }
    const verdict = this.answer(recorded);
    if ('status' in verdict) {
      res.writeHead(verdict.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(verdict.json));
      return;
    }
    // No content-length: Node sends the body chunked, as the real services do.
    res.writeHead(200, { 'content-type': verdict.contentType });
    const { bytes } = verdict;
    for (let offset = 0, n = 0; offset < bytes.length; offset += this.chunkBytes, n++) {
      if (n === 1) {
        if (misbehave === 'stall-mid-stream') {
          this.stalled.push(res);
          return;
        }
        if (misbehave === 'cut-mid-stream') {
          res.socket?.destroy();
          return;
        }
        if (this.gate) await this.gate;
      }
      await new Promise<void>((resolve) => res.write(bytes.subarray(offset, offset + this.chunkBytes), () => resolve()));
    }
    res.end();
  }
}

/** A deterministic test signal: a 440 Hz tone whose length follows the text (10 ms per character). */
export function toneFor(text: string, sampleRate: number): Int16Array {
  const out = new Int16Array(Math.round((text.length * sampleRate) / 100));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / sampleRate));
  return out;
}

/** Int16 samples as signed 16-bit little-endian bytes. */
export function s16le(samples: Int16Array): Uint8Array {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, i * 2);
  return out;
}
