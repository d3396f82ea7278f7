/**
 * The known test clip (fixtures/known-8k-reference.wav, what `<Play>` of known-16k-stereo.wav
 * sends at 8 kHz) and the check that a phone heard it complete: cross-correlation with its
 * sounding part, and the heard speech spanning as long as the source's (±100 ms).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWav } from '../../../src/media/wav.js';
import { activePart, activity, bestCorrelation } from './audio-analysis.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures');

function mono(path: string): { samples: Float32Array; rate: number } {
  const d = decodeWav(readFileSync(path));
  return { samples: d.samples[0]!, rate: d.sampleRate };
}

/** Asserts `heardWav` (a phone's speaker dump, 8 kHz) holds the known clip, whole. `log` explains a missing dump. */
export function assertHeardKnownClip(heardWav: string | null, log: string): void {
  assert.ok(heardWav, `the phone recorded nothing:\n${log.slice(-3000)}`);
  const heard = mono(heardWav);
  const ref = mono(join(FIXTURES, 'known-8k-reference.wav'));
  assert.equal(heard.rate, 8000);
  // The call may end right after the clip, so compare with the clip's sounding part (silence trimmed).
  const corr = bestCorrelation(heard.samples, activePart(ref.samples, 8000));
  assert.ok(corr.value > 0.8, `cross-correlation ${corr.value.toFixed(3)}`);
  const a = activity(heard.samples, 8000);
  const b = activity(ref.samples, 8000);
  const heardSpan = a.lastSeconds - a.firstSeconds;
  const refSpan = b.lastSeconds - b.firstSeconds;
  assert.ok(Math.abs(heardSpan - refSpan) < 0.1, `heard ${heardSpan.toFixed(3)} s vs source ${refSpan.toFixed(3)} s`);
}
