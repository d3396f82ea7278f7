/**
 * A fake OpenAI speech endpoint speaking the published wire protocol of "Create speech":
 *   POST /v1/audio/speech   Authorization: Bearer <key>
 *   JSON body { model, input, voice, response_format, instructions?, speed? }
 * 200 with response_format "pcm": chunked raw 24 kHz signed 16-bit little-endian mono.
 * Errors: {"error": {"message", "type", "param", "code"}} (401 invalid_api_key, 400 invalid voice or
 * input over 4,096 characters, 429 rate limit, 500 server error).
 */
import { FakeAudioServer, s16le, toneFor, type RecordedRequest, type Verdict } from './fake-audio-server.js';

const VOICES = new Set(['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar']);

function error(status: number, message: string, type: string, code: string | null, param: string | null = null): Verdict {
  return { status, json: { error: { message, type, param, code } } };
}

export class FakeOpenAiSpeechServer extends FakeAudioServer {
  /** Applies to the next request: answer with this HTTP status and OpenAI's error shape. */
  failNext: { status: number; message: string } | undefined;

  constructor(readonly apiKey: string) {
    super();
  }

  static expectedAudio(input: string): Int16Array {
    return toneFor(input, 24_000);
  }

  protected answer(req: RecordedRequest): Verdict {
    if (req.method !== 'POST' || req.path !== '/v1/audio/speech') return error(404, `Invalid URL (${req.method} ${req.path})`, 'invalid_request_error', null);
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return error(401, 'Incorrect API key provided: sk-wr***ng. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key');
    }
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) return error(failure.status, failure.message, failure.status === 429 ? 'requests' : 'server_error', null);
    const body = req.body as { model?: unknown; input?: unknown; voice?: unknown; response_format?: unknown } | undefined;
    if (typeof body?.input !== 'string') return error(400, "Missing required parameter: 'input'.", 'invalid_request_error', null, 'input');
    if (body.input.length > 4096) return error(400, `'input' is too long: ${body.input.length} characters (maximum 4096).`, 'invalid_request_error', 'string_above_max_length', 'input');
    const voice = body.voice;
    if (!(typeof voice === 'string' && VOICES.has(voice)) && !(typeof voice === 'object' && voice !== null)) {
      return error(400, `Invalid value for 'voice': ${JSON.stringify(voice)}.`, 'invalid_request_error', null, 'voice');
    }
    if (body.response_format !== 'pcm') return error(400, 'this fake only speaks pcm', 'invalid_request_error', null, 'response_format');
    return { contentType: 'application/octet-stream', bytes: s16le(toneFor(body.input, 24_000)) };
  }
}
