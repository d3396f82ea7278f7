/**
 * `<Dial>` against real SIPp peers on loopback: a SIPp caller is dialled to a SIPp callee and the two
 * RTP endpoints they advertise hear each other through Patchbay's bridge (PCMU caller, PCMA callee:
 * transcoded); a busy callee, a callee that never answers (CANCEL after the timeout), and a parallel
 * dial to three callees where the second answers and the other two get CANCEL. The action request
 * carries DialCallStatus, DialCallSid, DialCallDuration, and the child leg's record names its parent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { RtpSink } from './harness/rtp-sink.js';
import { callee, energyAt, speak } from './harness/tones.js';

describe('<Dial> with SIPp peers', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let dialTwiml = '';

  before(async () => {
    await app.start();
    app.route('/voice', (req, res) => twiml(dialTwiml)(req, res));
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  it('bridges a PCMU caller to a PCMA callee: each hears the other, the caller hangs up, the action gets completed with the duration', async () => {
    app.requests.length = 0;
    const callerSink = await new RtpSink().start();
    const calleeSink = await new RtpSink().start();
    const target = await callee('uas-answer-pcma.xml', calleeSink.port);
    dialTwiml = `<Response><Dial action="/after" timeout="10"><Sip>${target.uri}</Sip></Dial></Response>`;
    const stopCaller = speak(callerSink, 440, 0);
    const stopCallee = speak(calleeSink, 1000, 8);
    try {
      const caller = await runSipp({ scenario: 'uac-media-hold.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: String(callerSink.port) }, extra: ['-d', '3000'] });
      assert.equal(caller.successful, 1, caller.errors);
      const calleeResult = await target.done;
      assert.equal(calleeResult.successful, 1, `the callee got our BYE: ${calleeResult.errors}`);
    } finally {
      stopCaller();
      stopCallee();
    }
    // The callee (PCMA) heard the caller's 440 Hz, the caller (PCMU) the callee's 1 kHz.
    const atCallee = calleeSink.packets.filter((p) => p.payloadType === 8);
    const atCaller = callerSink.packets.filter((p) => p.payloadType === 0);
    assert.ok(atCallee.length > 50, `callee got ${atCallee.length} PCMA packets`);
    assert.ok(energyAt(atCallee, 440) > 20 * energyAt(atCallee, 1000), 'the callee hears the caller');
    assert.ok(energyAt(atCaller, 1000) > 20 * energyAt(atCaller, 440), 'the caller hears the callee');
    await callerSink.close();
    await calleeSink.close();

    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    assert.equal(action.params.DialBridged, 'true');
    assert.match(action.params.DialCallSid ?? '', /^CA[0-9a-f]{32}$/);
    const duration = Number(action.params.DialCallDuration);
    assert.ok(duration >= 2 && duration <= 4, `DialCallDuration ${duration}`);
    assert.equal(action.params.DialSipResponseCode, '200');
    const child = await waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${action.params.DialCallSid}`);
      return r.status === 200 && r.body.status === 'completed' ? r.body : null;
    }, 10000, 'the child call record');
    assert.equal(child.direction, 'outbound-dial');
    assert.equal(child.parentCallSid, action.params.CallSid);
  });

  it('reports busy for a callee that answers 486', async () => {
    app.requests.length = 0;
    const target = await callee('uas-busy.xml');
    dialTwiml = `<Response><Dial action="/after"><Sip>${target.uri}</Sip></Dial></Response>`;
    const caller = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
    assert.equal(caller.successful, 1, caller.errors);
    assert.equal((await target.done).successful, 1);
    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'busy');
    assert.equal(action.params.DialSipResponseCode, '486');
    assert.equal(action.params.DialBridged, 'false');
  });

  it('gives up on a callee that never answers after the timeout, with a CANCEL', async () => {
    app.requests.length = 0;
    const target = await callee('uas-never-answers.xml');
    dialTwiml = `<Response><Dial action="/after" timeout="5"><Sip>${target.uri}</Sip></Dial></Response>`;
    const started = Date.now();
    const caller = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
    assert.equal(caller.successful, 1, caller.errors);
    assert.equal((await target.done).successful, 1, 'the callee got CANCEL');
    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'no-answer');
    assert.ok(Date.now() - started >= 5000, 'not before the timeout');
  });

  it('rings three callees at once: the second answers, the other two are cancelled', async () => {
    app.requests.length = 0;
    const first = await callee('uas-never-answers.xml');
    const second = await callee('uas-answer.xml');
    const third = await callee('uas-never-answers.xml');
    dialTwiml = `<Response><Dial action="/after" timeout="20"><Sip>${first.uri}</Sip><Sip>${second.uri}</Sip><Sip>${third.uri}</Sip></Dial></Response>`;
    const caller = await runSipp({ scenario: 'uac-media-hold.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: '9' }, extra: ['-d', '1500'] });
    assert.equal(caller.successful, 1, caller.errors);
    const [r1, r2, r3] = await Promise.all([first.done, second.done, third.done]);
    assert.equal(r1.successful, 1, `first got CANCEL: ${r1.errors}`);
    assert.equal(r2.successful, 1, `second answered and got BYE: ${r2.errors}`);
    assert.equal(r3.successful, 1, `third got CANCEL: ${r3.errors}`);
    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    const legs = await apiGet(pb, `/v1/calls?parentCallSid=${action.params.CallSid}`);
    assert.equal(legs.status, 200);
    const statuses = (legs.body.calls as { status: string }[]).map((c) => c.status).sort();
    assert.deepEqual(statuses, ['canceled', 'canceled', 'completed']);
  });
});
