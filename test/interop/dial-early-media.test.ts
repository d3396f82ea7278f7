/**
 * `<Dial answerOnBridge>` with a callee that sends early media (183 Session Progress with SDP, as
 * carriers do for their ringback and "the number is busy" announcements): the still-unanswered
 * SIPp caller gets a 183 with Patchbay's SDP and hears the callee's audio before any answer; when
 * the callee answers, the caller's 200 OK repeats the 183's description (same RTP port), and when
 * the callee ends busy the caller is never answered at all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { RtpSink } from './harness/rtp-sink.js';
import { callee, energyAt, speak } from './harness/tones.js';

/** The m=audio port of the SDP in the first traced response with this status line. */
function audioPortIn(messages: string[], status: string): number | null {
  const msg = messages.find((m) => new RegExp(`^\\s*SIP/2\\.0 ${status}`, 'm').test(m));
  const port = msg?.match(/^m=audio (\d+)/m)?.[1];
  return port ? Number(port) : null;
}

describe('<Dial answerOnBridge> relays early media', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let dialTwiml = '';

  before(async () => {
    await app.start();
    app.route('/voice', (req, res) => twiml(dialTwiml)(req, res));
    // A busy callee makes the caller busy too, without ever answering it (a classic forwarder).
    app.route('/after', (req, res) => twiml(req.params.DialCallStatus === 'busy' ? '<Response><Reject reason="busy"/></Response>' : '<Response><Hangup/></Response>')(req, res));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  /** The parent call's record once ended, with its events. */
  async function endedRecord(callSid: string): Promise<{ status: string; events: { at: string; type: string; detail: Record<string, unknown> }[] }> {
    return waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${callSid}`);
      return r.status === 200 && r.body.endTime ? r.body : null;
    }, 10000, 'the caller\'s record');
  }

  /** When Patchbay sent this status to the caller, as a performance.now() time (the sinks' clock). */
  function sentAt(rec: { events: { at: string; type: string; detail: Record<string, unknown> }[] }, status: number): number {
    const e = rec.events.find((ev) => ev.type === 'sip.out' && ev.detail.status === status);
    assert.ok(e, `Patchbay sent ${status}`);
    return Date.parse(e.at) - performance.timeOrigin;
  }

  it('the caller hears the callee\'s early media after a 183, and the 200 OK keeps the same media path', async () => {
    app.requests.length = 0;
    const callerSink = await new RtpSink().start();
    const calleeSink = await new RtpSink().start();
    const target = await callee('uas-early-media-answer.xml', calleeSink.port);
    dialTwiml = `<Response><Dial answerOnBridge="true" action="/after" timeout="15"><Sip>${target.uri}</Sip></Dial></Response>`;
    const stopCallee = speak(calleeSink, 1000, 0);
    try {
      const caller = await runSipp({ scenario: 'uac-early-media.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: String(callerSink.port) }, extra: ['-d', '2000'], traceMessages: true });
      assert.equal(caller.successful, 1, `a 183 then a 200: ${caller.errors}`);
      assert.equal((await target.done).successful, 1, 'the callee got our BYE');
      const early = audioPortIn(caller.messages, '183');
      assert.ok(early !== null, 'the 183 carries an SDP');
      assert.equal(audioPortIn(caller.messages, '200'), early, 'the 200 OK repeats the 183\'s media description');

      const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
      assert.equal(action.params.DialCallStatus, 'completed');
      const rec = await endedRecord(action.params.CallSid!);
      const t183 = sentAt(rec, 183);
      const t200 = sentAt(rec, 200);
      // The callee waits 2.5 s after its 183 before answering: the caller heard it in between.
      assert.ok(t200 - t183 > 1500, `early media lasted ${Math.round(t200 - t183)} ms`);
      const duringEarly = callerSink.packets.filter((p) => p.at > t183 && p.at < t200);
      assert.ok(duringEarly.length > 25, `${duringEarly.length} packets reached the caller before the answer`);
      assert.ok(energyAt(duringEarly, 1000) > 20 * energyAt(duringEarly, 440), 'the caller heard the callee\'s tone before the answer');
      const afterAnswer = callerSink.packets.filter((p) => p.at > t200 + 200);
      assert.ok(afterAnswer.length > 25 && energyAt(afterAnswer, 1000) > 20 * energyAt(afterAnswer, 440), 'and after the answer, through the bridge');
    } finally {
      stopCallee();
      await callerSink.close();
      await calleeSink.close();
    }
  });

  it('a callee that ends busy after its early media leaves the caller unanswered: 183, then 486', async () => {
    app.requests.length = 0;
    const callerSink = await new RtpSink().start();
    const calleeSink = await new RtpSink().start();
    const target = await callee('uas-early-media-busy.xml', calleeSink.port);
    dialTwiml = `<Response><Dial answerOnBridge="true" action="/after" timeout="15"><Sip>${target.uri}</Sip></Dial></Response>`;
    const stopCallee = speak(calleeSink, 1000, 0);
    try {
      const caller = await runSipp({ scenario: 'uac-early-media-busy.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: String(callerSink.port) } });
      assert.equal(caller.successful, 1, `a 183 then 486, never a 200: ${caller.errors}`);
      assert.equal((await target.done).successful, 1);
      const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
      assert.equal(action.params.DialCallStatus, 'busy');
      assert.ok(energyAt(callerSink.packets, 1000) > 20 * energyAt(callerSink.packets, 440), 'the caller heard the callee\'s announcement');
      const rec = await endedRecord(action.params.CallSid!);
      assert.equal(rec.status, 'busy', 'never answered: the caller\'s call is busy, not completed');
    } finally {
      stopCallee();
      await callerSink.close();
      await calleeSink.close();
    }
  });
});
