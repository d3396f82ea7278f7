/**
 * Band-limited sample-rate conversion between any two rates (windowed-sinc interpolation,
 * implemented as a polyphase filter bank).
 *
 * Each output sample y(n) sits at input time t = n·from/to and is
 *   y(n) = Σ_k x(k) · g(t − k),   g(τ) = s·c·sinc(s·c·τ) · kaiser(τ / W)
 * where s = min(1, to/from) scales the low-pass cutoff to the *lower* of the two Nyquist
 * frequencies (so downsampling removes what would alias, upsampling removes images), c places the
 * −6 dB point just below that Nyquist, and W is the kernel half-width in input samples.
 *
 * With to/from = L/M in lowest terms, t's fractional part only takes L values, so g is tabulated for
 * those L phases once. Rate pairs with a huge L (e.g. 44100 → 47999) use a 256-phase table with
 * linear interpolation between neighbouring phases instead, which keeps the error below −90 dB.
 */

export type ResamplerQuality = 'fast' | 'high';

interface FilterDesign {
  /** Passband edge as a fraction of the lower Nyquist frequency. */
  passband: number;
  /** Stopband attenuation in dB (sets the Kaiser β and, with the transition width, the length). */
  attenuationDb: number;
}

/**
 * 'high': flat to 85 % of the lower Nyquist (3.4 kHz at 8 kHz), ≥ 90 dB down at Nyquist.
 * 'fast': flat to 80 %, ≥ 60 dB down: about a quarter of the work, for live streams.
 */
const DESIGNS: Record<ResamplerQuality, FilterDesign> = {
  high: { passband: 0.85, attenuationDb: 90 },
  fast: { passband: 0.8, attenuationDb: 60 },
};

const MAX_EXACT_PHASES = 1024;
const INTERPOLATED_PHASES = 256;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (power series; converges fast for β ≤ 10). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

interface Kernel {
  /** Taps per phase (2·H). */
  taps: number;
  /** Left context needed: output at input time i + f uses x(i − H + 1) … x(i + H). */
  half: number;
  phases: number;
  /** phases (+1 when interpolated) rows of `taps` coefficients. */
  table: Float32Array;
}

function designKernel(scale: number, quality: ResamplerQuality, phases: number, rows: number): Kernel {
  const { passband, attenuationDb } = DESIGNS[quality];
  // Kaiser's formulas (Oppenheim & Schafer §7.6): β from the attenuation, length from the transition
  // width Δω, here measured in cycles per *lower-rate* sample and converted to input samples below.
  const beta = attenuationDb > 50 ? 0.1102 * (attenuationDb - 8.7) : 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  const transition = (1 - passband) / 2; // passband edge → lower Nyquist, in cycles/sample
  const lengthLow = (attenuationDb - 8) / (2.285 * 2 * Math.PI * transition);
  const width = lengthLow / 2 / scale; // W, half-width in input samples
  const half = Math.ceil(width);
  const taps = 2 * half;
  const cutoff = scale * (1 + passband) / 2; // −6 dB point, as a fraction of the input Nyquist
  const i0Beta = besselI0(beta);
  const table = new Float32Array(rows * taps);
  for (let p = 0; p < rows; p++) {
    const frac = p / phases;
    for (let j = 0; j < taps; j++) {
      const tau = frac + half - 1 - j;
      const r = tau / width;
      if (r <= -1 || r >= 1) continue;
      const x = cutoff * tau;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      table[p * taps + j] = cutoff * sinc * (besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta);
    }
  }
  return { taps, half, phases, table };
}

/**
 * Streaming resampler: feed any number of input blocks to process(), then call flush() once at the
 * end of the stream. The concatenated output has ceil(inputLength · to / from) samples, time-aligned
 * with the input (no group delay to compensate).
 */
export class Resampler {
  private readonly up: number; // L
  private readonly down: number; // M
  private readonly kernel: Kernel | undefined;
  private readonly interpolated: boolean;
  /** Input history; buf[0] is input index `base`. */
  private buf: Float32Array;
  private bufLength: number;
  private base: number;
  /** Next output's input time is pos + phase / L. */
  private pos = 0;
  private phase = 0;
  private inputCount = 0;
  private outputCount = 0;
  private flushed = false;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    opts: { quality?: ResamplerQuality } = {},
  ) {
    if (!(Number.isInteger(fromRate) && fromRate > 0 && Number.isInteger(toRate) && toRate > 0)) {
      throw new RangeError(`sample rates must be positive integers (got ${fromRate} → ${toRate})`);
    }
    const g = gcd(fromRate, toRate);
    this.up = toRate / g;
    this.down = fromRate / g;
    this.interpolated = this.up > MAX_EXACT_PHASES;
    if (fromRate !== toRate) {
      const phases = this.interpolated ? INTERPOLATED_PHASES : this.up;
      const rows = this.interpolated ? phases + 1 : phases;
      this.kernel = designKernel(Math.min(1, toRate / fromRate), opts.quality ?? 'high', phases, rows);
    }
    const half = this.kernel?.half ?? 0;
    // Zeros stand in for the signal before the first sample so the first output is computable.
    this.buf = new Float32Array(Math.max(1024, 4 * half));
    this.bufLength = half;
    this.base = -half;
  }

  process(input: Float32Array): Float32Array {
    if (this.flushed) throw new Error('Resampler.process() after flush()');
    this.inputCount += input.length;
    if (!this.kernel) return input.slice();
    this.append(input);
    return this.drain(Number.POSITIVE_INFINITY);
  }

  /** Ends the stream: pads with silence and returns the remaining output. */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (!this.kernel) return new Float32Array(0);
    this.append(new Float32Array(this.kernel.half + 1));
    const total = Math.ceil((this.inputCount * this.up) / this.down);
    return this.drain(total - this.outputCount);
  }

  private append(input: Float32Array): void {
    const needed = this.bufLength + input.length;
    if (needed > this.buf.length) {
      const grown = new Float32Array(Math.max(needed, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.bufLength));
      this.buf = grown;
    }
    this.buf.set(input, this.bufLength);
    this.bufLength = needed;
  }

  private drain(limit: number): Float32Array {
    const k = this.kernel!;
    const { taps, half, table } = k;
    const L = this.up;
    const M = this.down;
    const buf = this.buf;
    const lastIndex = this.base + this.bufLength - 1;
    // Outputs whose right-hand taps are already buffered.
    let available = 0;
    for (let pos = this.pos, phase = this.phase; pos + half <= lastIndex && available < limit; available++) {
      phase += M;
      pos += Math.floor(phase / L);
      phase %= L;
    }
    const out = new Float32Array(available);
    for (let n = 0; n < available; n++) {
      const start = this.pos - half + 1 - this.base;
      let acc = 0;
      if (this.interpolated) {
        const x = (this.phase / L) * k.phases;
        const p0 = Math.floor(x);
        const a = x - p0;
        const r0 = p0 * taps;
        const r1 = r0 + taps;
        for (let j = 0; j < taps; j++) acc += buf[start + j]! * (table[r0 + j]! + a * (table[r1 + j]! - table[r0 + j]!));
      } else {
        const row = this.phase * taps;
        for (let j = 0; j < taps; j++) acc += buf[start + j]! * table[row + j]!;
      }
      out[n] = acc;
      this.phase += M;
      this.pos += Math.floor(this.phase / L);
      this.phase %= L;
    }
    this.outputCount += available;
    // Drop history no future output needs.
    const keepFrom = this.pos - half + 1 - this.base;
    if (keepFrom > 0) {
      const drop = Math.min(keepFrom, this.bufLength);
      buf.copyWithin(0, drop, this.bufLength);
      this.bufLength -= drop;
      this.base += drop;
    }
    return out;
  }
}

/** One-shot conversion of a whole clip. */
export function resample(input: Float32Array, fromRate: number, toRate: number, quality: ResamplerQuality = 'high'): Float32Array {
  if (fromRate === toRate) return input.slice();
  const r = new Resampler(fromRate, toRate, { quality });
  const head = r.process(input);
  const tail = r.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
