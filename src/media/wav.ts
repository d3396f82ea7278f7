/**
 * RIFF/WAVE reading and writing.
 *
 * decodeWav accepts what real-world prompt files contain: integer PCM (8-bit unsigned, 16/24/32-bit
 * signed), IEEE float (32/64-bit), G.711 µ-law and A-law, and WAVE_FORMAT_EXTENSIBLE wrapping any of
 * those. It walks the chunk list instead of assuming a 44-byte header, because editors add LIST,
 * fact, bext, cue... chunks, and streaming writers (ffmpeg to a pipe, RF64 writers) leave the data
 * size as 0 or 0xFFFFFFFF: then the rest of the file is the audio.
 */
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE } from './g711.js';

/** PCM audio as float samples in -1..1, one array per channel. */
export interface DecodedAudio {
  sampleRate: number;
  channels: number;
  samples: Float32Array[];
  /** Non-fatal problems met while decoding (e.g. a damaged frame that was skipped). */
  warnings?: string[];
}

export type AudioDecodeErrorCode = 'unsupported-format' | 'corrupt';

export class AudioDecodeError extends Error {
  override readonly name = 'AudioDecodeError';
  constructor(
    readonly code: AudioDecodeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** wFormatTag values (mmreg.h). */
const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID derived from a wFormatTag. */
const SUBFORMAT_GUID_TAIL = Buffer.from('000000001000800000aa00389b71', 'hex');

const MAX_CHANNELS = 8;
const MIN_RATE = 1000;
const MAX_RATE = 384000;

interface WaveFormat {
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** Container size of one sample, in bits. */
  bitsPerSample: number;
}

function parseFmt(chunk: Buffer): WaveFormat {
  if (chunk.length < 16) throw new AudioDecodeError('corrupt', `fmt chunk too short (${chunk.length} bytes)`);
  let formatTag = chunk.readUInt16LE(0);
  const channels = chunk.readUInt16LE(2);
  const sampleRate = chunk.readUInt32LE(4);
  const bitsPerSample = chunk.readUInt16LE(14);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    // WAVEFORMATEXTENSIBLE: cbSize(2) wValidBitsPerSample(2) dwChannelMask(4) SubFormat(16).
    if (chunk.length < 40) throw new AudioDecodeError('corrupt', 'WAVE_FORMAT_EXTENSIBLE fmt chunk too short');
    if (!chunk.subarray(26, 40).equals(SUBFORMAT_GUID_TAIL)) {
      throw new AudioDecodeError('unsupported-format', 'WAVE_FORMAT_EXTENSIBLE with a non-standard SubFormat GUID');
    }
    formatTag = chunk.readUInt16LE(24);
  }
  if (channels < 1 || channels > MAX_CHANNELS) throw new AudioDecodeError('corrupt', `bad channel count ${channels}`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw new AudioDecodeError('corrupt', `bad sample rate ${sampleRate}`);
  checkSupported(formatTag, bitsPerSample);
  return { formatTag, channels, sampleRate, bitsPerSample };
}

function checkSupported(formatTag: number, bits: number): void {
  const ok =
    (formatTag === WAVE_FORMAT_PCM && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) ||
    (formatTag === WAVE_FORMAT_IEEE_FLOAT && (bits === 32 || bits === 64)) ||
    ((formatTag === WAVE_FORMAT_ALAW || formatTag === WAVE_FORMAT_MULAW) && bits === 8);
  if (!ok) {
    throw new AudioDecodeError(
      'unsupported-format',
      `unsupported WAVE encoding: format tag 0x${formatTag.toString(16).padStart(4, '0')}, ${bits} bits per sample`,
    );
  }
}

/**
 * Splits interleaved frames into one float array per channel. One tight loop per encoding (rather
 * than a per-sample reader callback) keeps a minute of 44.1 kHz audio to a few milliseconds.
 */
function deinterleave(fmt: WaveFormat, data: Buffer): Float32Array[] {
  const bytesPerSample = fmt.bitsPerSample / 8;
  const frameBytes = bytesPerSample * fmt.channels;
  // A truncated final frame (cut-off download, streamed writer) is dropped rather than rejected.
  const frames = Math.floor(data.length / frameBytes);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Float32Array[] = [];
  for (let c = 0; c < fmt.channels; c++) {
    const ch = new Float32Array(frames);
    let o = c * bytesPerSample;
    switch (fmt.formatTag === WAVE_FORMAT_PCM ? fmt.bitsPerSample : -fmt.formatTag) {
      case 8: // 8-bit WAV PCM is unsigned, centred on 128
        for (let i = 0; i < frames; i++, o += frameBytes) ch[i] = (data[o]! - 128) / 128;
        break;
      case 16:
        for (let i = 0; i < frames; i++, o += frameBytes) ch[i] = view.getInt16(o, true) / 32768;
        break;
      case 24:
        for (let i = 0; i < frames; i++, o += frameBytes) {
          ch[i] = ((data[o]! | (data[o + 1]! << 8) | (data[o + 2]! << 16)) << 8 >> 8) / 8388608;
        }
        break;
      case 32:
        for (let i = 0; i < frames; i++, o += frameBytes) ch[i] = view.getInt32(o, true) / 2147483648;
        break;
      case -WAVE_FORMAT_MULAW:
        for (let i = 0; i < frames; i++, o += frameBytes) ch[i] = MULAW_DECODE_TABLE[data[o]!]! / 32768;
        break;
      case -WAVE_FORMAT_ALAW:
        for (let i = 0; i < frames; i++, o += frameBytes) ch[i] = ALAW_DECODE_TABLE[data[o]!]! / 32768;
        break;
      default: {
        // IEEE float may exceed full scale, and a NaN would poison every later stage.
        const wide = fmt.bitsPerSample === 64;
        for (let i = 0; i < frames; i++, o += frameBytes) {
          const v = wide ? view.getFloat64(o, true) : view.getFloat32(o, true);
          ch[i] = v > 1 ? 1 : v < -1 ? -1 : v === v ? v : 0;
        }
      }
    }
    out.push(ch);
  }
  return out;
}

/** True when `bytes` starts like a RIFF/WAVE (or RF64/WAVE) file. */
export function isWav(bytes: Buffer): boolean {
  if (bytes.length < 12) return false;
  const riff = bytes.toString('latin1', 0, 4);
  return (riff === 'RIFF' || riff === 'RF64') && bytes.toString('latin1', 8, 12) === 'WAVE';
}

export function decodeWav(bytes: Buffer): DecodedAudio {
  if (!isWav(bytes)) {
    const riff = bytes.length >= 4 ? bytes.toString('latin1', 0, 4) : '';
    if (riff === 'RIFX') throw new AudioDecodeError('unsupported-format', 'big-endian RIFX files are not supported');
    throw new AudioDecodeError('corrupt', 'not a RIFF/WAVE file');
  }
  let fmt: WaveFormat | undefined;
  let data: Buffer | undefined;
  let offset = 12;
  // Chunks: 4-byte id, 4-byte little-endian size, payload padded to an even length.
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('latin1', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    const rest = bytes.length - body;
    if (id === 'data') {
      // 0 and 0xFFFFFFFF mean "unknown length" (streaming writers, RF64); an oversize value means
      // the file was cut short. In all three cases the audio is whatever remains.
      const unbounded = size === 0 || size === 0xffffffff || size > rest;
      data = bytes.subarray(body, unbounded ? bytes.length : body + size);
      // A few writers put fmt after data; keep looking only when data's end is known.
      if (fmt || unbounded) break;
    } else if (size > rest) {
      throw new AudioDecodeError('corrupt', `chunk '${id}' claims ${size} bytes past the end of the file`);
    } else if (id === 'fmt ') {
      fmt = parseFmt(bytes.subarray(body, body + size));
      if (data) break;
    }
    offset = body + size + (size & 1);
  }
  if (!fmt) throw new AudioDecodeError('corrupt', 'no fmt chunk');
  if (!data) throw new AudioDecodeError('corrupt', 'no data chunk');
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples: deinterleave(fmt, data) };
}

/** A canonical 44-byte-header WAV holding 16-bit mono PCM. */
export function encodeWav(pcm: Int16Array, sampleRate: number): Buffer {
  const dataBytes = pcm.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(1, 22); // channels
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i]!, 44 + i * 2);
  return out;
}
