/**
 * Any supported audio file → 8 kHz mono 16-bit PCM, the form the player sends over G.711.
 *
 * The container is recognised by its magic bytes first (servers often label audio
 * application/octet-stream, or worse), the Content-Type second. Long clips are resampled in slices,
 * yielding to the event loop in between, so decoding a long prompt never stalls RTP pacing.
 */
import { decodeMp3, isMpegAudio } from './mp3.js';
import { Resampler } from './resampler.js';
import { AudioDecodeError, decodeWav, isWav, type DecodedAudio } from './wav.js';
import { mulawToLinear } from './g711.js';

export const TELEPHONY_RATE = 8000;
/** Edge fade: 2 ms at 8 kHz. A clip that starts or stops mid-waveform clicks audibly otherwise. */
const FADE_SAMPLES = 16;
/** Input samples resampled between two yields to the event loop (a few ms of work at 44.1 kHz). */
const SLICE_SAMPLES = 4096;

export type AudioFormat = 'wav' | 'mp3' | 'ulaw';

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']);
const MP3_TYPES = new Set(['audio/mpeg', 'audio/mp3', 'audio/mpeg3', 'audio/x-mpeg', 'audio/x-mpeg-3', 'audio/mpa']);
/** Headerless 8 kHz G.711 µ-law (Twilio accepts audio/ulaw for <Play>). */
const ULAW_TYPES = new Set(['audio/ulaw', 'audio/x-ulaw', 'audio/mulaw', 'audio/x-mulaw', 'audio/pcmu', 'audio/basic']);

/** Which decoder to use: magic bytes win over the declared type; undefined if neither helps. */
export function sniffAudioFormat(bytes: Buffer, contentType?: string): AudioFormat | undefined {
  if (isWav(bytes)) return 'wav';
  if (isMpegAudio(bytes)) return 'mp3';
  const type = mediaType(contentType);
  if (WAV_TYPES.has(type)) return 'wav';
  if (MP3_TYPES.has(type)) return 'mp3';
  // audio/basic may carry a Sun .snd header; only the headerless form is supported.
  if (ULAW_TYPES.has(type) && bytes.toString('latin1', 0, 4) !== '.snd') return 'ulaw';
  return undefined;
}

/** Decodes a file to float channels at its native rate. */
export async function decodeAudio(bytes: Buffer, contentType?: string): Promise<DecodedAudio> {
  const format = sniffAudioFormat(bytes, contentType);
  switch (format) {
    case 'wav':
      return decodeWav(bytes);
    case 'mp3':
      return decodeMp3(bytes);
    case 'ulaw': {
      const samples = new Float32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) samples[i] = mulawToLinear(bytes[i]!) / 32768;
      return { sampleRate: TELEPHONY_RATE, channels: 1, samples: [samples] };
    }
    default:
      throw new AudioDecodeError(
        'unsupported-format',
        `unrecognised audio format${contentType ? ` (Content-Type ${mediaType(contentType)})` : ''}`,
      );
  }
}

function downmix(audio: DecodedAudio): Float32Array {
  const [first, ...rest] = audio.samples;
  if (!first) return new Float32Array(0);
  if (rest.length === 0) return first;
  const out = new Float32Array(first.length);
  const gain = 1 / audio.samples.length;
  for (const ch of audio.samples) for (let i = 0; i < out.length; i++) out[i]! += ch[i]! * gain;
  return out;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function resampleInSlices(input: Float32Array, fromRate: number): Promise<Float32Array> {
  if (fromRate === TELEPHONY_RATE) return input;
  const r = new Resampler(fromRate, TELEPHONY_RATE, { quality: 'high' });
  const out = new Float32Array(Math.ceil((input.length * TELEPHONY_RATE) / fromRate));
  let written = 0;
  for (let offset = 0; offset < input.length; offset += SLICE_SAMPLES) {
    if (offset > 0) await yieldToEventLoop();
    const part = r.process(input.subarray(offset, offset + SLICE_SAMPLES));
    out.set(part, written);
    written += part.length;
  }
  out.set(r.flush(), written);
  return out;
}

/** Float → Int16 with clipping and a raised-cosine fade over the first and last 2 ms. */
export function toTelephonyPcm(samples: Float32Array): Int16Array {
  const n = samples.length;
  const out = new Int16Array(n);
  const fade = Math.min(FADE_SAMPLES, Math.floor(n / 2));
  for (let i = 0; i < n; i++) {
    let v = samples[i]!;
    const edge = Math.min(i, n - 1 - i);
    if (edge < fade) v *= 0.5 - 0.5 * Math.cos((Math.PI * (edge + 0.5)) / fade);
    const s = Math.round(v * 32767);
    out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
  return out;
}

/** Any supported file → 8 kHz mono Int16, ready for the player. */
export async function decodeToTelephony(bytes: Buffer, contentType?: string): Promise<Int16Array> {
  const audio = await decodeAudio(bytes, contentType);
  const mono = downmix(audio);
  return toTelephonyPcm(await resampleInSlices(mono, audio.sampleRate));
}
