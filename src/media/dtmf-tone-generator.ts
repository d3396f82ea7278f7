/**
 * In-band DTMF (ITU-T Q.23): the two sine tones of a key, for calls whose far end negotiated no
 * telephone-event and so can only hear digits in the audio itself.
 */

/** Q.23 row (low group) and column (high group) frequencies, by key. */
const TONES: Readonly<Record<string, readonly [number, number]>> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

export interface DtmfToneOptions {
  sampleRate?: number;
  /** Peak level of each of the two tones, dBFS. Default -9 (the pair stays clear of clipping). */
  levelDbfs?: number;
  /** Linear fade in/out, ms, so the tone starts and stops without a click. Default 2. */
  rampMs?: number;
}

/** The two frequencies of a DTMF key, or null when `digit` is not one. */
export function dtmfFrequencies(digit: string): readonly [number, number] | null {
  return TONES[digit.toUpperCase()] ?? null;
}

/** `durationMs` of the key's dual tone as 16-bit PCM. Throws RangeError for a non-DTMF character. */
export function dtmfTone(digit: string, durationMs: number, options: DtmfToneOptions = {}): Int16Array {
  const freqs = dtmfFrequencies(digit);
  if (!freqs) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  const rate = options.sampleRate ?? 8000;
  const amplitude = 32767 * 10 ** ((options.levelDbfs ?? -9) / 20);
  const n = Math.round((durationMs * rate) / 1000);
  const ramp = Math.min(Math.floor(n / 2), Math.round(((options.rampMs ?? 2) * rate) / 1000));
  const [low, high] = freqs;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const gain = ramp > 0 ? Math.min(1, i / ramp, (n - 1 - i) / ramp) : 1;
    out[i] = Math.round(gain * amplitude * (Math.sin(2 * Math.PI * low * t) + Math.sin(2 * Math.PI * high * t)));
  }
  return out;
}
