/** The tone played before a recording starts (`<Record playBeep>`): a short 1 kHz sine with soft edges. */
export function beep(durationMs = 400, frequencyHz = 1000, levelDbfs = -12, sampleRate = 8000): Int16Array {
  const n = Math.round((durationMs * sampleRate) / 1000);
  const amplitude = 32767 * 10 ** (levelDbfs / 20);
  const ramp = Math.round(0.005 * sampleRate);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const gain = Math.min(1, i / ramp, (n - 1 - i) / ramp);
    out[i] = Math.round(gain * amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
  }
  return out;
}
