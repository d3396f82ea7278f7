/**
 * G.711 (ITU-T Recommendation G.711, 1988) µ-law and A-law companding for 8 kHz telephone audio.
 *
 * The per-sample functions implement the segment/quantisation rules of G.711 Tables 1a/2a
 * directly on 16-bit linear samples (the 14-bit µ-law / 13-bit A-law input ranges are the top
 * bits of the 16-bit sample). Frame coding is table-driven: the encoders are precomputed for all
 * 65,536 inputs and the decoders for all 256 code words, so a 160-sample frame costs 160 array
 * lookups and no allocation — this runs for every call, 50 times a second.
 */

export type G711Codec = 'PCMU' | 'PCMA';

/** µ-law bias (33 in 14-bit units, i.e. 0x84 in 16-bit units) lets every segment start at a power of two. */
const MULAW_BIAS = 0x84;
/** Largest magnitude µ-law can represent before adding the bias (8158 in 14-bit units, scaled). */
const MULAW_CLIP = 32635;

/** Segment number (0..7) of a biased µ-law magnitude: the position of its highest set bit above bit 7. */
function mulawSegment(biased: number): number {
  let seg = 0;
  for (let v = biased >> 8; v > 0 && seg < 7; v >>= 1) seg++;
  return seg;
}

/** Encode one 16-bit linear sample to a µ-law code word (G.711 §3, Table 2a; bits inverted on the wire). */
export function linearToMulaw(sample: number): number {
  let s = sample | 0;
  let sign = 0;
  if (s < 0) {
    sign = 0x80;
    s = -s;
  }
  if (s > MULAW_CLIP) s = MULAW_CLIP;
  const biased = s + MULAW_BIAS;
  const seg = mulawSegment(biased);
  const mantissa = (biased >> (seg + 3)) & 0x0f;
  return ~(sign | (seg << 4) | mantissa) & 0xff;
}

/** Decode a µ-law code word to a 16-bit linear sample (the segment midpoint, per G.711 Table 2a). */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const seg = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + MULAW_BIAS) << seg) - MULAW_BIAS;
  // `| 0` turns the -0 of code 0x7F (µ-law's negative zero) into a plain 0.
  return (u & 0x80 ? -magnitude : magnitude) | 0;
}

/** Encode one 16-bit linear sample to an A-law code word (G.711 §2, Table 1a; even bits inverted: XOR 0x55). */
export function linearToAlaw(sample: number): number {
  // A-law quantises 13-bit samples; negative values are coded as one's complement magnitudes.
  let v = (sample | 0) >> 3;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5; // sign bit 1 for positive, plus the even-bit inversion
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  if (v > 0xfff) return 0x7f ^ mask; // clip to the largest code word
  let seg = 0;
  for (let t = v >> 5; t > 0; t >>= 1) seg++;
  const mantissa = seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
  return ((seg << 4) | mantissa) ^ mask;
}

/** Decode an A-law code word to a 16-bit linear sample (decision-interval midpoint, G.711 Table 1a). */
export function alawToLinear(byte: number): number {
  const a = (byte & 0xff) ^ 0x55;
  const seg = (a >> 4) & 0x07;
  let magnitude = ((a & 0x0f) << 4) + 8;
  if (seg > 0) magnitude = (magnitude + 0x100) << (seg - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

function buildEncodeTable(encode: (sample: number) => number): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encode((i << 16) >> 16); // index = sample & 0xffff
  return table;
}

function buildDecodeTable(decode: (byte: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) table[i] = decode(i);
  return table;
}

/** Lookup tables, exported so other hot paths (mixers, recorders) can inline them. */
export const MULAW_ENCODE_TABLE: Uint8Array = buildEncodeTable(linearToMulaw);
export const ALAW_ENCODE_TABLE: Uint8Array = buildEncodeTable(linearToAlaw);
export const MULAW_DECODE_TABLE: Int16Array = buildDecodeTable(mulawToLinear);
export const ALAW_DECODE_TABLE: Int16Array = buildDecodeTable(alawToLinear);

/** Code word for digital silence (linear 0): 0xFF in µ-law, 0xD5 in A-law. */
export function silenceByte(codec: G711Codec): number {
  return codec === 'PCMU' ? 0xff : 0xd5;
}

/** Encode `pcm` into the first `pcm.length` bytes of `out` (which must be at least that long). */
export function encodeFrame(pcm: Int16Array, codec: G711Codec, out: Buffer): void {
  if (out.length < pcm.length) throw new RangeError(`output buffer too small: ${out.length} < ${pcm.length}`);
  const table = codec === 'PCMU' ? MULAW_ENCODE_TABLE : ALAW_ENCODE_TABLE;
  for (let i = 0; i < pcm.length; i++) out[i] = table[pcm[i] & 0xffff];
}

/** Decode `payload` into the first `payload.length` samples of `out` (which must be at least that long). */
export function decodeFrame(payload: Buffer, codec: G711Codec, out: Int16Array): void {
  if (out.length < payload.length) throw new RangeError(`output array too small: ${out.length} < ${payload.length}`);
  const table = codec === 'PCMU' ? MULAW_DECODE_TABLE : ALAW_DECODE_TABLE;
  for (let i = 0; i < payload.length; i++) out[i] = table[payload[i]];
}
