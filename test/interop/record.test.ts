/**
 * <Record> end to end: a caller (SIPp replaying a capture of known speech, and baresip playing a WAV)
 * is recorded; the recording downloaded from RecordingUrl with the account's credentials matches the
 * speech (cross-correlation) with the right duration, and recording stops on silence, on
 * finishOnKey, on maxLength and on hang-up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor, type RecordedRequest } from './harness/app-server.js';
import { startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { baresipCall } from './harness/baresip.js';
import { writeDtmfScenario, type DtmfStep } from './harness/dtmf-scenario.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { activePart, bestCorrelation } from './harness/audio-analysis.js';
import { decodeWav, encodeWav } from '../../src/media/wav.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const DTMF_CAPTURES = fileURLToPath(new URL('../fixtures/dtmf/', import.meta.url));

/** The known speech as 8 kHz 16-bit samples (what the caller says). */
function speech(): Int16Array {
  const d = decodeWav(readFileSync(join(FIXTURES, 'known-8k-reference.wav')));
  const x = d.samples[0]!;
  return Int16Array.from(x, (v) => Math.round(v * 32767));
}

/** A capture of µ-law RTP: `leadMs` of silence, the known speech, then `tailMs` of silence. */
function speechCapture(leadMs: number, tailMs: number): DtmfStep {
  const { path, durationMs } = writeAudioPcap(speech(), leadMs, tailMs);
  return { pcap: path, durationMs };
}

const SPEECH_SECONDS = speech().length / 8000;

async function download(url: string): Promise<{ samples: Float32Array; seconds: number }> {
  const auth = Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
  assert.equal((await fetch(url)).status, 401, 'a recording must not be served without credentials');
  const res = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/wav');
  const wav = decodeWav(Buffer.from(await res.arrayBuffer()));
  assert.equal(wav.sampleRate, 8000);
  return { samples: wav.samples[0]!, seconds: wav.samples[0]!.length / 8000 };
}

function reference(): Float32Array {
  return activePart(decodeWav(readFileSync(join(FIXTURES, 'known-8k-reference.wav'))).samples[0]!, 8000);
}

describe('<Record>', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    app.route('/recorded', twiml('<Response><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  async function sippCall(steps: DtmfStep[]): Promise<RecordedRequest> {
    const before = app.requestsTo('/recorded').length;
    const scenario = writeDtmfScenario({ telephoneEvent: true, steps });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 60 });
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const requests = app.requestsTo('/recorded').slice(before);
    assert.equal(requests.length, 1);
    return requests[0]!;
  }

  it('stops after `timeout` seconds of silence; the recording is the speech, trimmed', async () => {
    app.route('/voice', twiml('<Response><Record timeout="2" action="/recorded"/><Say>Not reached.</Say></Response>'));
    const req = await sippCall([{ pauseMs: 600 }, speechCapture(1000, 6000)]);
    assert.equal(req.params.Digits, '');
    const rec = await download(req.params.RecordingUrl!);
    const corr = bestCorrelation(rec.samples, reference());
    assert.ok(corr.value > 0.9, `recording does not match the caller's speech: ${corr.value.toFixed(3)}`);
    // Trimmed: about the speech itself, not the 1 s before nor the 2 s of silence that ended it.
    assert.ok(rec.seconds < SPEECH_SECONDS + 1.2, `recording is ${rec.seconds.toFixed(2)} s for ${SPEECH_SECONDS.toFixed(2)} s of speech`);
    assert.equal(Number(req.params.RecordingDuration), Math.round(rec.seconds));
    assert.match(req.params.RecordingSid!, /^RE[0-9a-f]{32}$/);
  });

  it('stops on a finishOnKey key and reports it in Digits', async () => {
    app.route('/voice', twiml('<Response><Record timeout="0" finishOnKey="#" action="/recorded"/></Response>'));
    const req = await sippCall([{ pauseMs: 600 }, speechCapture(200, 200), { pcap: join(DTMF_CAPTURES, 'dtmf_2833_pound.pcap'), durationMs: 3000 }]);
    assert.equal(req.params.Digits, '#');
    const rec = await download(req.params.RecordingUrl!);
    assert.ok(bestCorrelation(rec.samples, reference()).value > 0.9);
  });

  it('stops at maxLength', async () => {
    app.route('/voice', twiml('<Response><Record maxLength="2" timeout="0" trim="do-not-trim" playBeep="false" action="/recorded"/></Response>'));
    const req = await sippCall([{ pauseMs: 300 }, speechCapture(0, 4000)]);
    const rec = await download(req.params.RecordingUrl!);
    assert.equal(req.params.RecordingDuration, '2');
    assert.ok(Math.abs(rec.seconds - 2) < 0.25, `maxLength 2 s recorded ${rec.seconds.toFixed(2)} s`);
  });

  it('a caller hanging up mid-recording (baresip) still yields a complete, playable file and the action hears "hangup"', async () => {
    app.route('/voice', twiml('<Response><Record timeout="0" action="/recorded"/></Response>'));
    const dir = mkdtempSync(join(tmpdir(), 'mic-'));
    const mic = join(dir, 'mic.wav');
    const said = speech();
    const pcm = new Int16Array(8000 * 2 + said.length);
    pcm.set(said, 8000 * 2);
    writeFileSync(mic, encodeWav(pcm, 8000));
    const before = app.requestsTo('/recorded').length;
    const r = await baresipCall({ target: `sip:record@127.0.0.1:${pb.sipPort}`, micWav: mic, seconds: 20 });
    await waitFor(() => app.requestsTo('/recorded').length > before, 15000, 'action request after hang-up');
    const req = app.requestsTo('/recorded').at(-1)!;
    assert.equal(req.params.Digits, 'hangup', r.log.slice(-1500));
    assert.equal(req.params.CallStatus, 'completed');
    const rec = await download(req.params.RecordingUrl!);
    const corr = bestCorrelation(rec.samples, reference());
    assert.ok(corr.value > 0.9, `recording does not match the caller's speech: ${corr.value.toFixed(3)}`);
  });
});
