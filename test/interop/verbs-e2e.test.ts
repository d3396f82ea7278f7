/**
 * Each first verb end to end, SIPp calling a real Patchbay: JSON documents, Redirect (method and
 * relative URL), Reject rejected (603), Pause before the answer, GET voice URLs, an empty document,
 * Say loop, and re-INVITE hold/resume during a call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, json, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { EspeakTts } from '../../src/speech/espeak-tts.js';

describe('verbs end to end', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  async function call(scenario = 'uac-app-hangs-up.xml'): Promise<any> {
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1 });
    assert.equal(r.failed, 0, r.errors);
    assert.equal(r.successful, 1);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const list = await apiGet(pb, '/v1/calls?pageSize=1');
    return (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
  }

  const verbsRun = (rec: any): string[] => rec.events.filter((e: any) => e.type === 'verb.start').map((e: any) => e.detail.verb);

  it('runs a JSON verb document like its TwiML twin', async () => {
    app.route('/voice', json([{ verb: 'say', text: 'Hello from JSON.' }, { verb: 'pause', length: 1 }, { verb: 'hangup' }]));
    const rec = await call();
    assert.deepEqual(verbsRun(rec), ['say', 'pause', 'hangup']);
    assert.equal(rec.status, 'completed');
    assert.equal(rec.errorCode, null);
    assert.equal(rec.endReason, 'hangup-verb');
  });

  it('records document warnings (an unknown attribute) and still runs the verb', async () => {
    app.route('/voice', twiml('<Response><Say colour="blue">Warned but spoken.</Say><Hangup/></Response>'));
    const rec = await call();
    const warnings = rec.events.filter((e: any) => e.type === 'warning');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].detail.code, 12200);
    assert.match(warnings[0].detail.message, /colour/);
    assert.deepEqual(verbsRun(rec), ['say', 'hangup']);
    assert.equal(rec.errorCode, null);
  });

  it('follows <Redirect method="GET"> with a relative URL, before answering', async () => {
    app.route('/voice', twiml('<Response><Redirect method="GET">next?step=2</Redirect><Say>Never reached.</Say></Response>'));
    app.route('/next', twiml('<Response><Say>Redirected.</Say><Hangup/></Response>'));
    const rec = await call();
    const hop = app.requestsTo('/next').at(-1)!;
    assert.equal(hop.method, 'GET');
    assert.equal(new URL(hop.url).searchParams.get('step'), '2', 'query of the relative URL kept');
    assert.equal(hop.params.CallSid, rec.sid, 'call parameters in the query string');
    assert.deepEqual(verbsRun(rec), ['redirect', 'say', 'hangup']);
    // Redirect does not answer: the answer comes with the Say of the second document.
    const webhooks = rec.events.filter((e: any) => e.type === 'webhook');
    assert.equal(webhooks.length, 2);
    assert.ok(new Date(rec.answerTime) >= new Date(webhooks[1].at));
  });

  it('answers 603 Decline for <Reject/> and records no-answer', async () => {
    app.route('/voice', twiml('<Response><Reject/></Response>'));
    const rec = await call('uac-expect-603.xml');
    assert.equal(rec.status, 'no-answer');
    assert.equal(rec.sipResponseCode, 603);
    assert.equal(rec.answerTime, null);
  });

  it('an empty document ends the unanswered call (603)', async () => {
    app.route('/voice', twiml('<Response/>'));
    const rec = await call('uac-expect-603.xml');
    assert.equal(rec.status, 'completed');
    assert.equal(rec.endReason, 'end-of-document');
    assert.equal(rec.answerTime, null);
  });

  it('<Pause> first keeps the caller ringing, then <Say> answers', async () => {
    app.route('/voice', twiml('<Response><Pause length="1"/><Say>Answered after a pause.</Say><Hangup/></Response>'));
    const rec = await call();
    const waited = new Date(rec.answerTime).getTime() - new Date(rec.startTime).getTime();
    assert.ok(waited >= 1000, `answered after ${waited} ms`);
  });

  it('<Say loop="2"> plays the speech twice', async () => {
    // Playback is paced in real time, so these lower bounds hold on any machine, however slow.
    const text = 'One two three four.';
    const tts = new EspeakTts();
    const audio = await tts.synthesize({ text, voice: 'man', language: 'en-US' });
    await tts.close?.();
    const clipMs = (audio.samples.length / audio.sampleRate) * 1000;
    const sayMs = (rec: any): number => rec.events.find((e: any) => e.type === 'verb.end' && e.detail.verb === 'say').detail.ms;
    app.route('/voice', twiml(`<Response><Say>${text}</Say><Hangup/></Response>`));
    await call(); // warms Patchbay's speech cache: the measured calls then only play
    const once = sayMs(await call());
    app.route('/voice', twiml(`<Response><Say loop="2">${text}</Say><Hangup/></Response>`));
    const twice = sayMs(await call());
    assert.ok(once >= clipMs - 50, `loop=1 took ${once} ms for a ${clipMs.toFixed(0)} ms clip`);
    assert.ok(twice >= 2 * clipMs - 50, `loop=2 took ${twice} ms for a ${clipMs.toFixed(0)} ms clip`);
    assert.ok(twice - once >= clipMs - 100, `the second loop added ${twice - once} ms`);
  });

  it('asks a GET voice URL with the parameters in the query string', async () => {
    pb.config.voiceMethod = 'GET';
    try {
      app.route('/voice', twiml('<Response><Say>Hello.</Say><Hangup/></Response>'));
      const rec = await call();
      const req = app.requestsTo('/voice').at(-1)!;
      assert.equal(req.method, 'GET');
      assert.equal(req.params.CallSid, rec.sid);
      assert.equal(req.params.Direction, 'inbound');
    } finally {
      pb.config.voiceMethod = 'POST';
    }
  });

  it('answers re-INVITE hold (sendonly → recvonly) and resume, and the call goes on', async () => {
    app.route('/voice', twiml('<Response><Say loop="0">Please hold the line.</Say></Response>'));
    const rec = await call('uac-reinvite-hold.xml');
    const reinvites = rec.events.filter((e: any) => e.type === 'sip.in' && e.detail.reinvite);
    assert.deepEqual(reinvites.map((e: any) => e.detail.direction), ['recvonly', 'sendrecv']);
    assert.equal(rec.status, 'completed');
    assert.equal(rec.endReason, 'caller-hangup');
  });
});
