/**
 * Speech chosen per account, end to end: an account that sets its own recognizer, language and
 * Deepgram key through /v1/account/speech gets them on its calls (a loopback server speaking
 * Deepgram's live protocol checks the key), with nothing configured on the server. Through that
 * engine: partial results of a speech Gather reach partialResultCallback in order before the action,
 * a `<Record transcribe>` recording is transcribed and reaches transcribeCallback, and a key the
 * provider refuses gives the call a clear error while the document goes on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { writeDtmfScenario, type DtmfStep } from './harness/dtmf-scenario.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { decodeWav } from '../../src/media/wav.js';
import { FakeDeepgramServer, results, type FakeDeepgramSession } from '../speech/fakes/fake-deepgram-server.js';

const ACCOUNT_KEY = 'account-own-deepgram-key-42';
const BYTES_PER_SECOND = 16000; // linear16 at 8 kHz

function spoken(file: string): Int16Array {
  const d = decodeWav(readFileSync(file));
  return Int16Array.from(d.samples[0]!, (v) => Math.round(v * 32767));
}
const SALES = spoken(fileURLToPath(new URL('../fixtures/speech/sales-us.wav', import.meta.url)));
const KNOWN_SPEECH = spoken(join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'known-8k-reference.wav'));

function capture(samples: Int16Array, leadMs: number, tailMs: number): DtmfStep {
  const { path, durationMs } = writeAudioPcap(samples, leadMs, tailMs);
  return { pcap: path, durationMs };
}

describe('speech engines chosen per account', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let deepgram: FakeDeepgramServer;
  /** What the fake engine answers when a stream is closed (the finalized tail), per session. */
  let finalizeWith: object[] = [];

  async function setSpeech(body: unknown): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${pb.httpPort}/v1/account/speech`, {
      method: 'PATCH',
      headers: { authorization: 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }

  async function sippCall(steps: DtmfStep[]): Promise<{ events: { type: string; detail: Record<string, unknown> }[] }> {
    const scenario = writeDtmfScenario({ telephoneEvent: true, steps });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 60 });
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const list = await apiGet(pb, '/v1/calls?pageSize=1');
    return (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
  }

  before(async () => {
    deepgram = await FakeDeepgramServer.start({ apiKey: ACCOUNT_KEY, onSession: (s) => (s.finalizeMessages = finalizeWith) });
    app = await new AppServer().start();
    app.route('/speech', twiml('<Response><Hangup/></Response>'));
    app.route('/recorded', twiml('<Response><Hangup/></Response>'));
    app.route('/partial', twiml(''));
    app.route('/transcribed', twiml(''));
    // The server has no Deepgram key: only the account's own settings make Deepgram available.
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
    await setSpeech({ recognizer: 'deepgram', language: 'en-GB', deepgram: { apiKey: ACCOUNT_KEY, url: deepgram.baseUrl } });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
    await deepgram?.close();
  });

  it("a Gather that names no engine uses the account's engine, key and language; partial results reach partialResultCallback in order, then the action", async () => {
    app.route('/voice', twiml('<Response><Gather input="speech" speechTimeout="auto" partialResultCallback="/partial" action="/speech"><Say>Which department?</Say></Gather></Response>'));
    finalizeWith = [results({ transcript: 'Sales.', confidence: 0.91, start: 0, duration: 1, isFinal: true, speechFinal: true })];
    const call = sippCall([{ pauseMs: 1500 }, capture(SALES, 300, 4000)]);
    const session: FakeDeepgramSession = await deepgram.nextSession();
    assert.equal(session.headers.authorization, `Token ${ACCOUNT_KEY}`);
    assert.equal(session.url.searchParams.get('language'), 'en-GB');
    assert.equal(session.url.searchParams.get('interim_results'), 'true');
    // Interim hypotheses while the caller is still talking, as Deepgram sends them.
    await session.waitFor(() => session.audioBytes >= BYTES_PER_SECOND, '1 s of audio');
    session.send(results({ transcript: 'sale', confidence: 0.6, start: 0, duration: 0.5, isFinal: false }));
    session.send(results({ transcript: 'sales', confidence: 0.8, start: 0, duration: 0.8, isFinal: false }));
    const record = await call;

    const partials = app.requestsTo('/partial');
    assert.deepEqual(partials.map((p) => [p.params.SequenceNumber, p.params.UnstableSpeechResult]), [['1', 'sale'], ['2', 'sales']]);
    assert.equal(partials[0]!.params.AccountSid, TEST_ACCOUNT_SID);
    assert.match(partials[0]!.params.CallSid!, /^CA[0-9a-f]{32}$/);
    assert.equal(partials[1]!.params.Stability, '0.8');
    const action = app.requestsTo('/speech').at(-1);
    assert.ok(action, `no action request: ${JSON.stringify(record.events.filter((e) => e.type.startsWith('gather') || e.type === 'error'))}`);
    assert.equal(action.params.SpeechResult, 'Sales.');
    assert.equal(action.params.Confidence, '0.91');
    assert.ok(Math.min(...partials.map((p) => p.at)) <= action.at, 'partials come before the action');
  });

  it('<Record transcribe> sends the recording through the account\'s engine and the text to transcribeCallback', async () => {
    app.route('/voice', twiml('<Response><Record timeout="2" transcribe="true" transcribeCallback="/transcribed" action="/recorded"/></Response>'));
    finalizeWith = [results({ transcript: 'Please call me back about my order.', confidence: 0.88, start: 0, duration: 3, isFinal: true, speechFinal: true })];
    const sessionsBefore = deepgram.sessions.length;
    await sippCall([{ pauseMs: 600 }, capture(KNOWN_SPEECH, 500, 5000)]);
    const recorded = app.requestsTo('/recorded').at(-1)!;
    const transcribed = await waitFor(() => app.requestsTo('/transcribed').at(-1), 10000, 'transcribeCallback');
    assert.equal(transcribed.params.TranscriptionStatus, 'completed');
    assert.equal(transcribed.params.TranscriptionText, 'Please call me back about my order.');
    assert.equal(transcribed.params.RecordingSid, recorded.params.RecordingSid);
    assert.equal(transcribed.params.RecordingUrl, recorded.params.RecordingUrl);
    assert.match(transcribed.params.TranscriptionSid!, /^TR[0-9a-f]{32}$/);
    // The engine heard the recording itself: as long as the recorded audio, with the account's key.
    const session = deepgram.sessions[sessionsBefore]!;
    assert.equal(session.headers.authorization, `Token ${ACCOUNT_KEY}`);
    const heard = session.audioBytes / BYTES_PER_SECOND;
    assert.ok(Math.abs(heard - Number(recorded.params.RecordingDuration)) <= 1, `engine heard ${heard.toFixed(2)} s of a ${recorded.params.RecordingDuration} s recording`);
  });

  it('a key the provider refuses gives the call error 82001 and the document goes on', async () => {
    await setSpeech({ deepgram: { apiKey: 'revoked-key-0000', url: deepgram.baseUrl } });
    try {
      app.route('/voice', twiml('<Response><Gather input="speech" action="/speech"><Say>Which department?</Say></Gather><Say>We did not get that.</Say></Response>'));
      const speechBefore = app.requestsTo('/speech').length;
      const record = await sippCall([{ pauseMs: 1000 }, capture(SALES, 300, 3000)]);
      const error = record.events.find((e) => e.type === 'error' && e.detail.code === 82001);
      assert.ok(error, `no 82001: ${JSON.stringify(record.events.map((e) => e.type))}`);
      assert.match(String(error.detail.message), /unauthori|401|credentials/i);
      assert.equal(app.requestsTo('/speech').length, speechBefore, 'no action for a gather that heard nothing');
      const says = record.events.filter((e) => e.type === 'verb.start' && e.detail.verb === 'say');
      assert.equal(says.length, 1, 'the <Say> after the gather ran');
      assert.ok(record.events.indexOf(says[0]!) > record.events.indexOf(error), 'after the failure');
    } finally {
      await setSpeech({ deepgram: { apiKey: ACCOUNT_KEY, url: deepgram.baseUrl } });
    }
  });
});
