/**
 * MPEG audio (MPEG-1, MPEG-2 and MPEG-2.5; Layer III and, because mpg123 handles them, I/II) decoding
 * through the `mpg123-decoder` WebAssembly build.
 *
 * The WASM decoder runs in a worker thread (one per file, freed after it), so a long file (a
 * 10-minute hold-music track) never blocks the event loop that paces RTP.
 */
import { MPEGDecoderWebWorker } from 'mpg123-decoder';
import { AudioDecodeError, type DecodedAudio } from './wav.js';

/** Input posted to the decoder worker per message (~1 s of audio at 128 kbit/s): bounded messages. */
const SLICE_BYTES = 16 * 1024;
/** How far into the file we look for the first frame header when sniffing. */
const SNIFF_WINDOW = 64 * 1024;

export interface MpegFrameHeader {
  /** 1 = MPEG-1, 2 = MPEG-2, 2.5 = MPEG-2.5 (the unofficial low-rate extension). */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  sampleRate: number;
  channels: 1 | 2;
}

const SAMPLE_RATES: Record<1 | 2 | 2.5, readonly number[]> = {
  1: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  2.5: [11025, 12000, 8000],
};

/**
 * Parses the 32-bit MPEG audio frame header at `offset` (ISO/IEC 11172-3 §2.4.2.3): 11-bit frame
 * sync, version, layer, bitrate and sampling-frequency indexes, channel mode. Reserved values (which
 * random bytes often hit) make it return undefined.
 */
export function parseMpegFrameHeader(bytes: Uint8Array, offset: number): MpegFrameHeader | undefined {
  if (offset + 4 > bytes.length) return undefined;
  const b1 = bytes[offset + 1]!;
  const b2 = bytes[offset + 2]!;
  const b3 = bytes[offset + 3]!;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 0x03;
  const layerBits = (b1 >> 1) & 0x03;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 0x03;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0x0f || rateIndex === 3) return undefined;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  return { version, layer, sampleRate: SAMPLE_RATES[version][rateIndex]!, channels: b3 >> 6 === 3 ? 1 : 2 };
}

/** Size of a leading ID3v2 tag (header + syncsafe size + optional footer), or 0. */
export function id3v2Length(bytes: Uint8Array): number {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return 0;
  const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
  const footer = bytes[5]! & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** The first frame header after any ID3v2 tag, searched within a bounded window. */
export function findFirstMpegFrame(bytes: Uint8Array): MpegFrameHeader | undefined {
  const start = id3v2Length(bytes);
  const end = Math.min(bytes.length - 4, start + SNIFF_WINDOW);
  for (let i = start; i <= end; i++) {
    if (bytes[i] !== 0xff) continue;
    const header = parseMpegFrameHeader(bytes, i);
    if (header) return header;
  }
  return undefined;
}

/** True when the file starts like MPEG audio: an ID3v2 tag or a frame header at byte 0. */
export function isMpegAudio(bytes: Uint8Array): boolean {
  return id3v2Length(bytes) > 0 || parseMpegFrameHeader(bytes, 0) !== undefined;
}


function concat(parts: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export async function decodeMp3(bytes: Buffer): Promise<DecodedAudio> {
  const header = findFirstMpegFrame(bytes);
  if (!header) throw new AudioDecodeError('corrupt', 'no MPEG audio frame header found');
  // The large WebAssembly module never lives in the main isolate: Node 20's V8 can deadlock at exit
  // draining background tasks for it after heavy allocation (seen as a hung process in tests).
  const decoder = new MPEGDecoderWebWorker();
  await decoder.ready;
  // mpg123-decoder always returns two channels; a mono stream comes back duplicated.
  const left: Float32Array[] = [];
  const right: Float32Array[] = [];
  const warnings: string[] = [];
  let length = 0;
  let sampleRate = 0;
  try {
    for (let offset = 0; offset < bytes.length; offset += SLICE_BYTES) {
      const out = await decoder.decode(bytes.subarray(offset, offset + SLICE_BYTES));
      for (const e of out.errors) warnings.push(`${e.message} (frame ${e.frameNumber})`);
      if (out.samplesDecoded === 0) continue;
      sampleRate = out.sampleRate;
      left.push(out.channelData[0]!);
      if (header.channels === 2) right.push(out.channelData[1] ?? out.channelData[0]!);
      length += out.samplesDecoded;
    }
  } finally {
    await decoder.free();
  }
  if (length === 0 || sampleRate === 0) {
    throw new AudioDecodeError('corrupt', `MPEG audio decoded to no samples${warnings.length ? `: ${warnings[0]}` : ''}`);
  }
  const samples = header.channels === 2 ? [concat(left, length), concat(right, length)] : [concat(left, length)];
  const decoded: DecodedAudio = { sampleRate, channels: samples.length, samples };
  if (warnings.length) decoded.warnings = warnings;
  return decoded;
}
