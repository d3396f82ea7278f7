/**
 * A fake ElevenLabs speaking the published wire protocol of "Stream speech":
 *   POST /v1/text-to-speech/{voice_id}/stream?output_format=...   xi-api-key: <key>
 *   JSON body { text, model_id, language_code?, voice_settings? }
 * 200: chunked raw audio (ulaw_8000: 8-bit µ-law at 8 kHz; pcm_16000: s16le at 16 kHz).
 * Errors: {"detail": {"status": "...", "message": "..."}} (401 invalid_api_key, 400 voice_not_found),
 * and FastAPI-style validation lists on 422 ({"detail": [{"loc": [...], "msg": "..."}]}).
 */
import { linearToMulaw, mulawToLinear } from '../../../src/media/g711.js';
import { FakeAudioServer, s16le, toneFor, type RecordedRequest, type Verdict } from './fake-audio-server.js';

const FORMATS: Record<string, number> = { ulaw_8000: 8000, pcm_16000: 16000 };

export class FakeElevenLabsServer extends FakeAudioServer {
  constructor(
    readonly apiKey: string,
    readonly voices: ReadonlySet<string> = new Set(['JBFqnCBsd6RMkjVDRZzb']),
  ) {
    super();
  }

  /** What the fake says for `text` at `format`, as linear samples (µ-law already applied). */
  static expectedAudio(text: string, format: 'ulaw_8000' | 'pcm_16000'): Int16Array {
    const tone = toneFor(text, FORMATS[format]!);
    if (format === 'pcm_16000') return tone;
    return tone.map((s) => mulawToLinear(linearToMulaw(s)));
  }

  protected answer(req: RecordedRequest): Verdict {
    const route = /^\/v1\/text-to-speech\/([^/]+)\/stream$/.exec(req.path);
    if (req.method !== 'POST' || !route) return { status: 404, json: { detail: 'Not Found' } };
    if (req.headers['xi-api-key'] !== this.apiKey) {
      return { status: 401, json: { detail: { status: 'invalid_api_key', message: 'Invalid API key' } } };
    }
    const voiceId = decodeURIComponent(route[1]!);
    if (!this.voices.has(voiceId)) {
      return { status: 400, json: { detail: { status: 'voice_not_found', message: `A voice with voice_id ${voiceId} does not exist.` } } };
    }
    const format = req.query.get('output_format') ?? 'mp3_44100_128';
    const body = req.body as { text?: unknown } | undefined;
    if (typeof body?.text !== 'string') {
      return { status: 422, json: { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] } };
    }
    const rate = FORMATS[format];
    if (!rate) return { status: 422, json: { detail: [{ loc: ['query', 'output_format'], msg: `unsupported by this fake: ${format}`, type: 'value_error' }] } };
    const tone = toneFor(body.text, rate);
    if (format === 'ulaw_8000') return { contentType: 'audio/basic', bytes: Uint8Array.from(tone, (s) => linearToMulaw(s)) };
    return { contentType: 'audio/pcm', bytes: s16le(tone) };
  }
}
