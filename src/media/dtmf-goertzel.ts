/**
 * In-band DTMF detection (ITU-T Q.23 frequencies) for 8 kHz 16-bit audio, for peers that send the
 * tones as audio instead of RFC 4733 events.
 *
 * Analysis: the Goertzel algorithm on 10 ms half-blocks (80 samples) at the 8 DTMF frequencies and
 * their second harmonics. Each pair of consecutive half-blocks forms a 20 ms window (hop 10 ms)
 * whose spectrum is the phase-aligned sum of the two halves' Goertzel outputs; 20 ms gives about
 * 13 dB of leakage rejection between adjacent row frequencies and 18 dB between columns.
 *
 * A window "hits" a digit when: each tone is above the level floor; the best row and column each
 * beat the others in their group by `dominanceDb`; the twist is within limits (forward: column
 * louder than row, reverse: row louder); the two tones carry most of the window's energy; neither
 * tone has a strong second harmonic (speech and music do, DTMF does not); and both halves hold the
 * tones at a similar level (the tone fills the whole window, so partial windows at a tone's edges
 * do not count). A digit is reported once, after `minToneMs` of hits, and the same digit again only
 * after `minGapMs` without it.
 *
 * Timing guarantees with the defaults: tones of 40 ms or more are always detected; tones of 20 ms
 * or less never are (two hit windows need at least ~24 ms of tone); gaps of 40 ms separate two
 * presses of the same digit; dropouts of 10 ms inside a tone do not split it.
 */

const SAMPLE_RATE = 8000;
const HALF = 80;
const WINDOW = 2 * HALF;
const ROWS = [697, 770, 852, 941];
const COLS = [1209, 1336, 1477, 1633];
const KEYS = ['123A', '456B', '789C', '*0#D'];

export interface GoertzelDtmfDetectorOptions {
  /** Minimum level of each tone, dBFS (sine peak relative to 32768). Default -36. */
  minToneDbfs?: number;
  /** How much louder the column tone may be than the row tone. Default 8 dB. */
  forwardTwistDb?: number;
  /** How much louder the row tone may be than the column tone. Default 4 dB. */
  reverseTwistDb?: number;
  /** Best tone of a group over each other tone of that group. Default 6 dB. */
  dominanceDb?: number;
  /** Share of the window's energy the two tones must carry. Default 0.7. */
  minToneShare?: number;
  /** Each tone over its second harmonic. Default 10 dB. */
  harmonicRejectionDb?: number;
  /** Tone duration before a digit is reported. Default 40 ms. */
  minToneMs?: number;
  /** Silence (or other audio) needed before the same digit is reported again. Default 40 ms. */
  minGapMs?: number;
}

function dbToPower(db: number): number {
  return 10 ** (db / 10);
}

/** Goertzel state and constants for one frequency. */
interface Bin {
  /** 2·cos(ω), the recurrence coefficient. */
  coeff: number;
  cos: number;
  sin: number;
  /** e^{-jω·HALF}: aligns the second half's output with the first's. */
  shiftRe: number;
  shiftIm: number;
}

function makeBin(freq: number): Bin {
  const w = (2 * Math.PI * freq) / SAMPLE_RATE;
  return { coeff: 2 * Math.cos(w), cos: Math.cos(w), sin: Math.sin(w), shiftRe: Math.cos(w * HALF), shiftIm: -Math.sin(w * HALF) };
}

// Bins 0-3 rows, 4-7 columns, 8-15 their second harmonics in the same order.
const FREQS = [...ROWS, ...COLS, ...ROWS.map((f) => 2 * f), ...COLS.map((f) => 2 * f)];
const BINS = FREQS.map(makeBin);
const NBINS = BINS.length;

/** |Dirichlet kernel| of the 20 ms window: the share of a tone at ω0 that leaks into the bin at ω. */
function leakage(f: number, f0: number): number {
  const d = (2 * Math.PI * (f - f0)) / SAMPLE_RATE;
  return Math.abs(Math.sin((WINDOW * d) / 2) / (WINDOW * Math.sin(d / 2)));
}
/**
 * LEAK[h][k]: bound on how much of tone k (|X_k|) shows up in harmonic bin h, both spectral images
 * counted. Needed because some row harmonics sit near column tones (2 x 770 = 1540 Hz is 63 Hz from
 * 1477 Hz): without it a legitimately twisted digit would look like a tone with a strong harmonic.
 */
const LEAK = FREQS.map((fh) => FREQS.slice(0, 8).map((fk) => leakage(fh, fk) + leakage(fh, -fk)));

export class GoertzelDtmfDetector {
  private readonly minPower: number;
  private readonly forwardTwist: number;
  private readonly reverseTwist: number;
  private readonly dominance: number;
  private readonly minShare: number;
  private readonly harmonicRejection: number;
  private readonly requiredHits: number;
  private readonly endMisses: number;

  /** Samples of the half-block being filled. */
  private readonly buf = new Float64Array(HALF);
  private fill = 0;
  /** Goertzel outputs (complex, relative to the half's start) of the previous and current halves. */
  private prevRe = new Float64Array(NBINS);
  private prevIm = new Float64Array(NBINS);
  private curRe = new Float64Array(NBINS);
  private curIm = new Float64Array(NBINS);
  private readonly power = new Float64Array(8);
  private prevEnergy = 0;
  private havePrev = false;

  private candidate: string | null = null;
  private candidateHits = 0;
  private current: string | null = null;
  private misses = 0;

  constructor(options: GoertzelDtmfDetectorOptions = {}) {
    const minAmp = 32768 * 10 ** ((options.minToneDbfs ?? -36) / 20);
    // |X(ω)| of a sine of amplitude A over N samples is A·N/2.
    this.minPower = ((minAmp * WINDOW) / 2) ** 2;
    this.forwardTwist = dbToPower(options.forwardTwistDb ?? 8);
    this.reverseTwist = dbToPower(options.reverseTwistDb ?? 4);
    this.dominance = dbToPower(options.dominanceDb ?? 6);
    this.minShare = options.minToneShare ?? 0.7;
    this.harmonicRejection = dbToPower(options.harmonicRejectionDb ?? 10);
    // n consecutive hit windows (10 ms apart, 20 ms long) need at least (n + 1) · 10 ms of tone.
    this.requiredHits = Math.max(1, Math.round((options.minToneMs ?? 40) / 10) - 2);
    // A gap of g ms spoils at least floor(g / 10) consecutive windows.
    this.endMisses = Math.max(1, Math.floor((options.minGapMs ?? 40) / 10));
  }

  /** Feed 8 kHz samples (any frame length). Returns the digits detected during this frame. */
  push(frame: Int16Array): string[] {
    const out: string[] = [];
    for (let i = 0; i < frame.length; i++) {
      this.buf[this.fill++] = frame[i];
      if (this.fill === HALF) {
        this.fill = 0;
        const digit = this.analyseHalf();
        if (digit !== undefined) this.track(digit, out);
      }
    }
    return out;
  }

  /** Goertzel over the buffered half; returns the window's digit (null: none) once two halves exist. */
  private analyseHalf(): string | null | undefined {
    const x = this.buf;
    let energy = 0;
    for (let n = 0; n < HALF; n++) energy += x[n] * x[n];
    for (let k = 0; k < NBINS; k++) {
      const bin = BINS[k];
      let s1 = 0;
      let s2 = 0;
      for (let n = 0; n < HALF; n++) {
        const s0 = x[n] + bin.coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      // y = s[N-1] - e^{-jω} s[N-2] = e^{jω(N-1)} X(ω); the common phase factor cancels in |X|.
      this.curRe[k] = s1 - bin.cos * s2;
      this.curIm[k] = bin.sin * s2;
    }
    let digit: string | null | undefined;
    if (this.havePrev) digit = this.classifyWindow(this.prevEnergy + energy);
    [this.prevRe, this.curRe] = [this.curRe, this.prevRe];
    [this.prevIm, this.curIm] = [this.curIm, this.prevIm];
    this.prevEnergy = energy;
    this.havePrev = true;
    return digit;
  }

  /** |X|² over the 20 ms window (prev half then current half) for bin k. */
  private windowPower(k: number): number {
    const b = BINS[k];
    const re = this.prevRe[k] + b.shiftRe * this.curRe[k] - b.shiftIm * this.curIm[k];
    const im = this.prevIm[k] + b.shiftRe * this.curIm[k] + b.shiftIm * this.curRe[k];
    return re * re + im * im;
  }

  private classifyWindow(totalEnergy: number): string | null {
    const p = this.power;
    for (let k = 0; k < 8; k++) p[k] = this.windowPower(k);
    let r = 0;
    let c = 4;
    for (let k = 1; k < 4; k++) if (p[k] > p[r]) r = k;
    for (let k = 5; k < 8; k++) if (p[k] > p[c]) c = k;
    const pr = p[r];
    const pc = p[c];
    if (pr < this.minPower || pc < this.minPower) return null;
    if (pc > pr * this.forwardTwist || pr > pc * this.reverseTwist) return null;
    for (let k = 0; k < 4; k++) if (k !== r && p[k] * this.dominance > pr) return null;
    for (let k = 4; k < 8; k++) if (k !== c && p[k] * this.dominance > pc) return null;
    // A sine's energy over N samples is 2|X|²/N.
    if ((2 * (pr + pc)) / WINDOW < this.minShare * totalEnergy) return null;
    if (this.harmonicTooStrong(r + 8, r, c, pr, pc) || this.harmonicTooStrong(c + 8, r, c, pr, pc)) return null;
    // Both halves must hold the tones at a similar level (within 3 dB).
    const half = (re: Float64Array, im: Float64Array): number => re[r] ** 2 + im[r] ** 2 + re[c] ** 2 + im[c] ** 2;
    const a = half(this.prevRe, this.prevIm);
    const b = half(this.curRe, this.curIm);
    if (a > 2 * b || b > 2 * a) return null;
    return KEYS[r][c - 4];
  }

  /** Second harmonic of the tone in bin h - 8, minus what the two tones leak into it, vs that tone. */
  private harmonicTooStrong(h: number, r: number, c: number, pr: number, pc: number): boolean {
    const leak = Math.sqrt(pr) * LEAK[h][r] + Math.sqrt(pc) * LEAK[h][c];
    const excess = Math.max(0, Math.sqrt(this.windowPower(h)) - leak);
    return excess * excess * this.harmonicRejection > (h - 8 === r ? pr : pc);
  }

  private track(digit: string | null, out: string[]): void {
    if (this.current !== null) {
      if (digit === this.current) {
        this.misses = 0;
        this.candidate = null;
        return;
      }
      if (++this.misses >= this.endMisses) this.current = null;
    }
    if (digit === null) {
      this.candidate = null;
      return;
    }
    if (digit === this.candidate) this.candidateHits++;
    else {
      this.candidate = digit;
      this.candidateHits = 1;
    }
    if (this.candidateHits >= this.requiredHits) {
      out.push(digit);
      this.current = digit;
      this.misses = 0;
      this.candidate = null;
    }
  }
}
