/**
 * baresip (a real softphone) calls Patchbay; its "speaker" is recorded to a WAV. The test checks that
 * what the caller heard is the audio the app asked for: <Play> of a known WAV (cross-correlation and
 * duration) and <Say> (speech of the expected length).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { baresipCall } from './harness/baresip.js';
import { assertHeardKnownClip } from './harness/known-clip.js';
import { activePart, activity, bestCorrelation, toFloat } from './harness/audio-analysis.js';
import { decodeWav } from '../../src/media/wav.js';
import { EspeakTts } from '../../src/speech/espeak-tts.js';
import { resample } from '../../src/media/resampler.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const SAY_TEXT = 'Thank you for calling. This is a test of the Patchbay speech path.';

function mono(path: string): { samples: Float32Array; rate: number } {
  const d = decodeWav(readFileSync(path));
  return { samples: d.samples[0]!, rate: d.sampleRate };
}

describe('baresip hears the application', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    app.route('/known.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav' }).end(readFileSync(join(FIXTURES, 'known-16k-stereo.wav'))));
    // Relative media URL: resolved against the document's URL.
    app.route('/known.mp3', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/mpeg' }).end(readFileSync(join(FIXTURES, 'known-16k-stereo.mp3'))));
    app.route('/play', twiml('<Response><Play>known.wav</Play><Hangup/></Response>'));
    app.route('/play-mp3', twiml('<Response><Play>known.mp3</Play><Hangup/></Response>'));
    app.route('/say', twiml(`<Response><Say voice="woman">${SAY_TEXT}</Say><Hangup/></Response>`));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/play') });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  it('<Play> of a known WAV: the caller hears that audio, complete', async () => {
    pb.config.voiceUrl = app.url('/play');
    const r = await baresipCall({ target: `sip:play@127.0.0.1:${pb.sipPort}`, micWav: join(FIXTURES, 'silence-10s.wav'), seconds: 12 });
    try {
      assertHeardKnownClip(r.heardWav, r.log);
      // The call ended by Patchbay's BYE after the clip, and is on record.
      await waitFor(() => pb.registry.size === 0, 5000, 'call end');
      const list = await apiGet(pb, '/v1/calls?pageSize=1');
      assert.equal(list.body.calls[0].status, 'completed');
      assert.equal(list.body.calls[0].endReason, 'hangup-verb');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('<Play> of the same speech as MP3: the caller hears it', async () => {
    pb.config.voiceUrl = app.url('/play-mp3');
    const r = await baresipCall({ target: `sip:mp3@127.0.0.1:${pb.sipPort}`, micWav: join(FIXTURES, 'silence-10s.wav'), seconds: 12 });
    try {
      assert.ok(r.heardWav, `baresip recorded nothing:\n${r.log.slice(-2000)}`);
      const heard = mono(r.heardWav);
      const ref = mono(join(FIXTURES, 'known-8k-reference.wav'));
      // Lossy at 64 kbit/s, so a lower bar than the WAV: still far above any unrelated audio (< 0.1).
      const corr = bestCorrelation(heard.samples, activePart(ref.samples, 8000));
      assert.ok(corr.value > 0.6, `cross-correlation ${corr.value.toFixed(3)}`);
      const a = activity(heard.samples, 8000);
      const b = activity(ref.samples, 8000);
      assert.ok(Math.abs(a.lastSeconds - a.firstSeconds - (b.lastSeconds - b.firstSeconds)) < 0.1, 'same duration (±100 ms)');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('<Say>: the caller hears speech of the expected length', async () => {
    pb.config.voiceUrl = app.url('/say');
    const tts = new EspeakTts();
    const expected = await tts.synthesize({ text: SAY_TEXT, voice: 'woman', language: 'en-US' });
    await tts.close?.();
    const expected8k = resample(toFloat(expected.samples), expected.sampleRate, 8000);
    const e = activity(expected8k, 8000);
    const r = await baresipCall({ target: `sip:say@127.0.0.1:${pb.sipPort}`, micWav: join(FIXTURES, 'silence-10s.wav'), seconds: 12 });
    try {
      assert.ok(r.heardWav, `baresip recorded nothing:\n${r.log.slice(-2000)}`);
      const heard = mono(r.heardWav);
      const a = activity(heard.samples, 8000);
      const heardSpan = a.lastSeconds - a.firstSeconds;
      const expectedSpan = e.lastSeconds - e.firstSeconds;
      assert.ok(expectedSpan > 2, `expected speech span ${expectedSpan}`);
      assert.ok(Math.abs(heardSpan - expectedSpan) < 0.25, `heard ${heardSpan.toFixed(2)} s of speech, expected ${expectedSpan.toFixed(2)} s`);
      assert.ok(a.activeSeconds > expectedSpan * 0.5, 'mostly voiced');
      // And it is that speech, not noise of the same length.
      const corr = bestCorrelation(heard.samples, activePart(expected8k, 8000));
      assert.ok(corr.value > 0.8, `cross-correlation with the synthesized speech ${corr.value.toFixed(3)}`);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});
