/**
 * The HTTP half shared by the cloud TTS adapters: POST a JSON request, then read the chunked audio
 * body as it arrives. Never hangs: `timeoutMs` bounds the wait for the answer and every gap between
 * two body chunks (an inactivity limit, so a long prompt that streams steadily is never cut), and
 * the caller's AbortSignal aborts the fetch even in the middle of the body. Failures become
 * TtsErrors with codes: HTTP status → code, network → 'unavailable', silence → 'timeout'.
 */
import { MULAW_DECODE_TABLE } from '../media/g711.js';
import { abortedError, TtsError, type TtsErrorCode } from './text-to-speech.js';

export interface AudioPost {
  /** Provider name for messages ("ElevenLabs"). */
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The provider's error message from its error JSON, if it has one. */
  errorMessage(json: unknown): string | undefined;
}

/** HTTP status → error code, the same for every provider. */
export function codeForStatus(status: number): TtsErrorCode {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 429) return 'rate-limited';
  if (status === 400 || status === 404 || status === 413 || status === 422) return 'invalid-request';
  if (status >= 500) return 'unavailable';
  return 'engine-failed';
}

/** The response body's bytes, chunk by chunk, as the network delivers them. */
export async function* postForAudio(req: AudioPost): AsyncGenerator<Uint8Array> {
  if (req.signal?.aborted) throw abortedError(req.signal);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (waitingFor: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new TtsError('timeout', `${req.provider}: no ${waitingFor} within ${req.timeoutMs} ms`)), req.timeoutMs);
  };
  const onAbort = (): void => controller.abort(abortedError(req.signal!));
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const failure = (err: unknown, doing: string): TtsError => {
    if (controller.signal.aborted) return abortedError(controller.signal);
    if (err instanceof TtsError) return err;
    const detail = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
    return new TtsError('unavailable', `${req.provider}: ${doing} failed (${detail})`, { cause: err });
  };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    arm('answer');
    const send = (): Promise<Response> =>
      fetch(req.url, { method: 'POST', headers: req.headers, body: JSON.stringify(req.body), signal: controller.signal });
    let res: Response;
    try {
      res = await send();
    } catch (first) {
      // A pooled keep-alive connection the server has just closed fails before anything was sent
      // back; synthesis is idempotent, so one immediate retry on a fresh connection is safe.
      if (controller.signal.aborted) throw failure(first, 'request');
      try {
        res = await send();
      } catch (err) {
        throw failure(err, 'request');
      }
    }
    if (!res.ok) {
      let text = '';
      try {
        text = await res.text();
      } catch (err) {
        throw failure(err, 'reading the error answer');
      }
      throw new TtsError(codeForStatus(res.status), `${req.provider}: HTTP ${res.status}: ${describeError(text, res.statusText, req.errorMessage)}`, { httpStatus: res.status });
    }
    const type = res.headers.get('content-type') ?? '';
    if (/json|text\//i.test(type)) {
      const text = await res.text().catch(() => '');
      throw new TtsError('engine-failed', `${req.provider}: expected audio, got ${type}: ${describeError(text, '', req.errorMessage)}`, { httpStatus: res.status });
    }
    if (!res.body) throw new TtsError('engine-failed', `${req.provider}: empty answer`, { httpStatus: res.status });
    reader = res.body.getReader();
    for (;;) {
      arm('audio');
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw failure(err, 'reading the audio');
      }
      clearTimeout(timer); // the consumer may take its time with this chunk: not our inactivity
      if (chunk.done) return;
      if (chunk.value.byteLength > 0) yield chunk.value;
    }
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
    // Ends the connection when the consumer stopped early or something failed; no-op after the end.
    if (!controller.signal.aborted) controller.abort(new TtsError('aborted', 'stream closed'));
    reader?.releaseLock();
  }
}

function describeError(body: string, statusText: string, extract: (json: unknown) => string | undefined): string {
  try {
    const message = extract(JSON.parse(body));
    if (message) return message;
  } catch {
    // not JSON: the raw text below is the best description there is
  }
  return body.trim().slice(0, 300) || statusText || 'no details';
}

/**
 * Turns a byte stream of signed 16-bit little-endian PCM into samples. A network chunk can end in
 * the middle of a sample; its odd byte is carried into the next chunk.
 */
export class S16leDecoder {
  private carry = -1;

  push(bytes: Uint8Array): Int16Array {
    if (bytes.length === 0) return new Int16Array(0);
    let src = bytes;
    if (this.carry >= 0) {
      src = new Uint8Array(bytes.length + 1);
      src[0] = this.carry;
      src.set(bytes, 1);
      this.carry = -1;
    }
    const out = new Int16Array(src.length >> 1);
    for (let n = 0, i = 0; n < out.length; n++, i += 2) out[n] = (((src[i + 1]! << 8) | src[i]!) << 16) >> 16;
    if (src.length % 2 === 1) this.carry = src[src.length - 1]!;
    return out;
  }

  /** True when the stream ended on a whole sample. */
  get aligned(): boolean {
    return this.carry < 0;
  }
}

/** G.711 µ-law bytes (one sample each) to linear samples. */
export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = MULAW_DECODE_TABLE[bytes[i]!]!;
  return out;
}

/** `ms` of silence at `sampleRate`. */
export function silence(ms: number, sampleRate: number): Int16Array {
  return new Int16Array(Math.round((ms * sampleRate) / 1000));
}
