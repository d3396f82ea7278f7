/**
 * Audio checks for interop tests: normalized cross-correlation with lag search (did the caller hear
 * the right audio?) and a simple energy-based speech-activity measure (did it hear speech, how long?).
 */
export function toFloat(pcm: Int16Array): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i]! / 32768;
  return out;
}

export function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/**
 * Best normalized cross-correlation of `reference` inside `recording`, searching every lag where the
 * reference fits. Returns the peak value (1 = identical shape) and its lag in samples.
 */
export function bestCorrelation(recording: Float32Array, reference: Float32Array): { value: number; lag: number } {
  const n = reference.length;
  let refEnergy = 0;
  for (let i = 0; i < n; i++) refEnergy += reference[i]! * reference[i]!;
  let best = { value: -1, lag: -1 };
  if (recording.length < n || refEnergy === 0) return best;
  // Coarse search every 4 samples, then refine around the best coarse lag.
  const evalAt = (lag: number): number => {
    let dot = 0;
    let e = 0;
    for (let i = 0; i < n; i++) {
      const r = recording[lag + i]!;
      dot += r * reference[i]!;
      e += r * r;
    }
    return e === 0 ? 0 : dot / Math.sqrt(e * refEnergy);
  };
  for (let lag = 0; lag + n <= recording.length; lag += 4) {
    const v = evalAt(lag);
    if (v > best.value) best = { value: v, lag };
  }
  for (let lag = Math.max(0, best.lag - 4); lag <= Math.min(recording.length - n, best.lag + 4); lag++) {
    const v = evalAt(lag);
    if (v > best.value) best = { value: v, lag };
  }
  return best;
}

/**
 * The worst of `segments` equal parts of `reference`, each matched at its own best lag in
 * `recording`. A bridge that trims a few milliseconds of standing delay mid-clip on a loaded
 * machine shifts the rest of the clip: one whole-clip correlation then drops (0.7) although every
 * word arrived; per part, each must still be clearly there.
 */
export function worstPartCorrelation(recording: Float32Array, reference: Float32Array, segments = 4): number {
  const part = Math.floor(reference.length / segments);
  let worst = 1;
  for (let s = 0; s < segments; s++) worst = Math.min(worst, bestCorrelation(recording, reference.subarray(s * part, (s + 1) * part)).value);
  return worst;
}

/** Seconds of the signal whose 20 ms frames are louder than `threshold` RMS, and the first/last active time. */
export function activity(x: Float32Array, sampleRate: number, threshold = 0.01): { activeSeconds: number; firstSeconds: number; lastSeconds: number } {
  const frame = Math.round(sampleRate * 0.02);
  let active = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i + frame <= x.length; i += frame) {
    if (rms(x, i, i + frame) > threshold) {
      active++;
      if (first < 0) first = i;
      last = i + frame;
    }
  }
  return { activeSeconds: (active * frame) / sampleRate, firstSeconds: first < 0 ? 0 : first / sampleRate, lastSeconds: last < 0 ? 0 : last / sampleRate };
}

/** The part of `x` between its first and last active 20 ms frames (leading/trailing silence cut). */
export function activePart(x: Float32Array, sampleRate: number, threshold = 0.01): Float32Array {
  const a = activity(x, sampleRate, threshold);
  return x.subarray(Math.round(a.firstSeconds * sampleRate), Math.round(a.lastSeconds * sampleRate));
}
