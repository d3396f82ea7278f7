/**
 * <Gather input="speech"> with the embedded recognizer (pocketsphinx from Debian): a caller says a
 * menu word (a recorded spoken word replayed by SIPp, and played by baresip) and the app receives
 * the right SpeechResult with a Confidence. A recognizer that is down gives the call's record a clear
 * error and the document goes on with the next verb.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { baresipCall } from './harness/baresip.js';
import { writeDtmfScenario } from './harness/dtmf-scenario.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { decodeWav, encodeWav } from '../../src/media/wav.js';
import { freePort } from './harness/child-patchbay.js';

const SPOKEN = fileURLToPath(new URL('../fixtures/speech/', import.meta.url));
const MENU = '<Gather input="speech" speechTimeout="auto" hints="sales, support, billing, operator, customer service" action="/speech"><Say>Which department?</Say></Gather><Say>Sorry, I did not catch that.</Say>';

function word(name: string): Int16Array {
  const d = decodeWav(readFileSync(join(SPOKEN, `${name}.wav`)));
  return Int16Array.from(d.samples[0]!, (v) => Math.round(v * 32767));
}

describe('<Gather input="speech"> with the embedded recognizer', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let deadRecognizer: string;

  before(async () => {
    app = await new AppServer().start();
    app.route('/speech', twiml('<Response><Hangup/></Response>'));
    // Nothing listens there: the custom recognizer is "down".
    deadRecognizer = `ws://127.0.0.1:${await freePort()}/asr`;
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_RECOGNIZER_URL: deadRecognizer });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  async function sippSays(name: string): Promise<{ params: Record<string, string> | null; rec: any }> {
    const before = app.requestsTo('/speech').length;
    const clip = writeAudioPcap(word(name), 300, 1500);
    const scenario = writeDtmfScenario({ telephoneEvent: true, steps: [{ pauseMs: 1500 }, { pcap: clip.path, durationMs: clip.durationMs + 5000 }] });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 60 });
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const list = await apiGet(pb, '/v1/calls?pageSize=1');
    const rec = (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
    const requests = app.requestsTo('/speech').slice(before);
    return { params: requests[0]?.params ?? null, rec };
  }

  for (const name of ['support-us', 'billing-gb', 'customer-service-us']) {
    it(`hears "${name.replace(/-(us|gb)$/, '').replace('-', ' ')}" (SIPp replaying a spoken word)`, async () => {
      app.route('/voice', twiml(`<Response>${MENU}</Response>`));
      const { params, rec } = await sippSays(name);
      assert.ok(params, `no action request; gather: ${JSON.stringify(rec.events.find((e: any) => e.type === 'gather.result'))}`);
      assert.equal(params.SpeechResult, name.replace(/-(us|gb)$/, '').replace('-', ' '));
      // The grammar search gives no confidence; Patchbay then leaves the parameter out rather than send 0.
      assert.equal(params.Confidence, undefined);
      assert.equal(params.Digits, undefined);
    });
  }

  it('hears "sales" from baresip playing the recorded word', async () => {
    app.route('/voice', twiml(`<Response>${MENU}</Response>`));
    const dir = mkdtempSync(join(tmpdir(), 'mic-'));
    const mic = join(dir, 'mic.wav');
    const said = word('sales-us');
    const pcm = new Int16Array(8000 * 6 + said.length);
    pcm.set(said, 8000 * 2);
    writeFileSync(mic, encodeWav(pcm, 8000));
    const before = app.requestsTo('/speech').length;
    const r = await baresipCall({ target: `sip:menu@127.0.0.1:${pb.sipPort}`, micWav: mic, seconds: 20 });
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const requests = app.requestsTo('/speech').slice(before);
    assert.equal(requests.length, 1, r.log.slice(-1500));
    assert.equal(requests[0]!.params.SpeechResult, 'sales');
  });

  it('a recognizer that is down: a coded error on the call, and the next verb runs', async () => {
    app.route('/voice', twiml('<Response><Gather input="speech" speechModel="websocket" action="/speech"><Say>Say something.</Say></Gather><Say>Goodbye.</Say></Response>'));
    const { params, rec } = await sippSays('sales-us');
    assert.equal(params, null);
    const error = rec.events.find((e: any) => e.type === 'error');
    assert.equal(error.detail.code, 82001);
    assert.match(error.detail.message, /speech recognition failed/);
    assert.equal(error.detail.reason, 'unavailable');
    const verbs = rec.events.filter((e: any) => e.type === 'verb.start').map((e: any) => e.detail.verb);
    assert.deepEqual(verbs, ['gather', 'say']);
    assert.equal(rec.status, 'completed');
  });
});
