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
import { runSipp, type SippResult } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';
import { RtpSink, type ReceivedRtp } from './harness/rtp-sink.js';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE, encodeFrame } from '../../src/media/g711.js';

/** Energy of `hz` per sample in the received G.711 packets (Goertzel), decoding each by its payload type. */
function energyAt(packets: ReceivedRtp[], hz: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  let n = 0;
  for (const p of packets) {
    const table = p.payloadType === 0 ? MULAW_DECODE_TABLE : p.payloadType === 8 ? ALAW_DECODE_TABLE : null;
    if (!table) continue;
    for (const b of p.payload) {
      const s0 = table[b]! / 32768 + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
      n++;
    }
  }
  return n === 0 ? 0 : (s1 * s1 + s2 * s2 - coeff * s1 * s2) / n;
}

/** Sends a tone from `sink` into the call (20 ms frames) until stopped, once it knows where to send. */
function speak(sink: RtpSink, hz: number, payloadType: 0 | 8): () => void {
  let ts = 0;
  let phase = 0;
  const pcm = new Int16Array(160);
  const payload = Buffer.alloc(160);
  const timer = setInterval(() => {
    if (!sink.connected) return;
    for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * phase++) / 8000));
    encodeFrame(pcm, payloadType === 0 ? 'PCMU' : 'PCMA', payload);
    sink.send(payloadType, ts === 0, ts, payload);
    ts += 160;
  }, 20);
  return () => clearInterval(timer);
}

/** A SIPp callee on its own port. */
async function callee(scenario: string, sinkPort = 9): Promise<{ uri: string; done: Promise<SippResult> }> {
  const port = await freePort();
  const done = runSipp({ scenario, target: '127.0.0.1:9', calls: 1, localPort: port, keys: { sink_port: String(sinkPort) }, timeoutSeconds: 60 });
  await new Promise((r) => setTimeout(r, 300)); // let SIPp bind before our INVITE
  return { uri: `sip:callee@127.0.0.1:${port}`, done };
}

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
