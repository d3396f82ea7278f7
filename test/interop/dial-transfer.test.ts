/**
 * Transfers on loopback with SIPp: an agent the caller was `<Dial>`ed to sends REFER (as LiveKit
 * and OpenAI's SIP connector do) and Patchbay calls the Refer-To target, reports NOTIFY 100 then
 * 200, and bridges the caller to the target (whose RTP endpoint then hears the caller); with
 * `<Dial referUrl>` the app gets ReferTransferTarget instead. `<Refer>` sends REFER to the caller.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp, type SippResult } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';
import { RtpSink } from './harness/rtp-sink.js';

async function peer(scenario: string, keys: Record<string, string> = {}): Promise<{ uri: string; done: Promise<SippResult> }> {
  const port = await freePort();
  const done = runSipp({ scenario, target: '127.0.0.1:9', calls: 1, localPort: port, keys: { sink_port: '9', ...keys }, timeoutSeconds: 60, traceMessages: true });
  await new Promise((r) => setTimeout(r, 300));
  return { uri: `sip:peer@127.0.0.1:${port}`, done };
}

describe('transfers (REFER) with SIPp peers', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let voice = '';

  before(async () => {
    await app.start();
    app.route('/voice', (req, res) => twiml(voice)(req, res));
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    app.route('/refer', twiml('<Response><Say>Transfer noted.</Say><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  it('an agent REFERs the caller to a human: Patchbay calls the target, NOTIFYs 100 then 200, and bridges the caller to it', async () => {
    app.requests.length = 0;
    const humanSink = await new RtpSink().start();
    const port = await freePort();
    const human = runSipp({ scenario: 'uas-answer.xml', target: '127.0.0.1:9', calls: 1, localPort: port, keys: { sink_port: String(humanSink.port) }, timeoutSeconds: 60 });
    await new Promise((r) => setTimeout(r, 300));
    const agent = await peer('uas-agent-refers.xml', { refer_to: `sip:human@127.0.0.1:${port}` });
    voice = `<Response><Dial action="/after"><Sip>${agent.uri}</Sip></Dial></Response>`;
    const callerSink = await new RtpSink().start();
    // The caller keeps talking (a tone) so the human's endpoint can show it is bridged to the caller.
    const payload = Buffer.alloc(160, 0x2a);
    let ts = 0;
    const talk = setInterval(() => {
      if (callerSink.connected) callerSink.send(0, ts === 0, (ts += 160), payload);
    }, 20);
    try {
      const caller = await runSipp({ scenario: 'uac-media-hold.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: String(callerSink.port) }, extra: ['-d', '5000'] });
      assert.equal(caller.successful, 1, caller.errors);
    } finally {
      clearInterval(talk);
    }
    const agentResult = await agent.done;
    assert.equal(agentResult.successful, 1, `agent: 202, NOTIFY 100, NOTIFY 200 (terminated), BYE: ${agentResult.errors}`);
    const humanResult = await human;
    assert.equal(humanResult.successful, 1, `the human was called, answered, and got our BYE when the caller hung up: ${humanResult.errors}`);
    // The human's endpoint received the caller's audio (0x2a bytes), relayed by the bridge.
    const fromCaller = humanSink.packets.filter((p) => p.payloadType === 0 && p.payload.every((b) => b === 0x2a));
    assert.ok(fromCaller.length > 25, `the human heard the caller: ${fromCaller.length} packets`);
    await humanSink.close();
    await callerSink.close();

    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    const legs = await apiGet(pb, `/v1/calls?parentCallSid=${action.params.CallSid}`);
    assert.equal(legs.body.calls.length, 2, 'two legs: the agent and the human');
    const parent = await waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${action.params.CallSid}`);
      return r.status === 200 && r.body.status === 'completed' ? r.body : null;
    }, 10000, 'the caller record');
    const ends = (parent.events as { type: string; detail: Record<string, unknown> }[]).filter((e) => e.type === 'dial.end');
    assert.ok(ends.some((e) => typeof e.detail.transferredTo === 'string'), 'the timeline shows the transfer');
  });

  it('with <Dial referUrl>, the app gets ReferTransferTarget and decides', async () => {
    app.requests.length = 0;
    const agent = await peer('uas-agent-refers.xml', { refer_to: 'sip:someone@example.invalid' });
    voice = `<Response><Dial action="/after" referUrl="/refer"><Sip>${agent.uri}</Sip></Dial></Response>`;
    const caller = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
    assert.equal(caller.successful, 1, caller.errors);
    assert.equal((await agent.done).successful, 1);
    const refer = await waitFor(() => app.requestsTo('/refer')[0], 10000, 'the referUrl request');
    assert.equal(refer.params.ReferTransferTarget, 'sip:someone@example.invalid');
    assert.equal(refer.params.DialCallStatus, 'completed');
  });
});
