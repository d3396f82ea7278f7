/**
 * A loopback stand-in for OpenAI's `POST /v1/audio/transcriptions`: checks `Authorization: Bearer
 * <key>` (401 with OpenAI's error envelope otherwise), parses the multipart form the way the real
 * endpoint reads it, records every request (headers, fields, the uploaded file) and answers with a
 * scripted reply: a JSON transcription (`{"text", "logprobs"?, "usage"}`), an error status with the
 * `{"error":{message,type,param,code}}` body, or nothing at all (`hang`).
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedTranscriptionRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Text fields, in order; repeated names (`include[]`) appear once per value. */
  fields: [string, string][];
  file: { name: string; type: string; bytes: Buffer } | undefined;
}

export type FakeReply =
  | { kind: 'transcription'; text: string; logprobs?: number[] }
  | { kind: 'error'; status: number; message: string; type?: string; code?: string | null }
  | { kind: 'hang' };

export class FakeOpenAiTranscriptionServer extends EventEmitter {
  readonly requests: RecordedTranscriptionRequest[] = [];
  /** The reply to the next requests (the test changes it between calls). */
  reply: FakeReply = { kind: 'transcription', text: '' };
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private readonly apiKey: string,
  ) {
    super();
  }

  static async start(apiKey: string): Promise<FakeOpenAiTranscriptionServer> {
    let fake!: FakeOpenAiTranscriptionServer;
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        fake.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(parts), res).catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      });
    });
    fake = new FakeOpenAiTranscriptionServer(server, apiKey);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` requests have arrived (fails instead of hanging after 5 s). */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake openai: timed out waiting for ${n} request(s)`)), 5_000);
      const check = (): void => {
        if (this.requests.length < n) return;
        clearTimeout(timer);
        this.off('request', check);
        resolve();
      };
      this.on('request', check);
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse): Promise<void> {
    const recorded: RecordedTranscriptionRequest = { method, path, headers, fields: [], file: undefined };
    if (method === 'POST' && /^multipart\/form-data/.test(headers['content-type'] ?? '')) {
      // The platform's own multipart parser (undici), so the form is read as a real server would.
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': headers['content-type']! }, body: new Uint8Array(body) }).formData();
      for (const [name, value] of form) {
        if (typeof value === 'string') recorded.fields.push([name, value]);
        else recorded.file = { name: value.name, type: value.type, bytes: Buffer.from(await value.arrayBuffer()) };
      }
    }
    this.requests.push(recorded);
    this.emit('request');

    if (method !== 'POST' || path !== '/v1/audio/transcriptions') {
      return sendError(res, 404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null);
    }
    if (headers.authorization !== `Bearer ${this.apiKey}`) {
      return sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    }
    if (!recorded.file) return sendError(res, 400, "Missing required parameter: 'file'.", 'invalid_request_error', null);
    const reply = this.reply;
    switch (reply.kind) {
      case 'hang':
        this.hanging.add(res);
        return;
      case 'error':
        return sendError(res, reply.status, reply.message, reply.type ?? 'server_error', reply.code ?? null);
      case 'transcription': {
        const out: Record<string, unknown> = { text: reply.text };
        if (reply.logprobs && recorded.fields.some(([k, v]) => k === 'include[]' && v === 'logprobs')) {
          out.logprobs = reply.logprobs.map((logprob, i) => ({ token: `t${i}`, logprob, bytes: [116, 48 + (i % 10)] }));
        }
        out.usage = { type: 'tokens', input_tokens: 50, output_tokens: reply.logprobs?.length ?? 1, total_tokens: 51 };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
        return;
      }
    }
  }
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type, param: null, code } }));
}
