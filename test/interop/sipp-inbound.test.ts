/**
 * SIPp (a real, independent SIP implementation) calls a real Patchbay on loopback; a real HTTP app
 * answers with TwiML. Covers load (200 calls at 20/s), <Reject>, 2xx retransmission, the webhook
 * parameters and signature, status callbacks and the persisted call records.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { validateTwilioSignature } from '../../src/webhooks/signature.js';

describe('SIPp callers against a TwiML app', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    app.route('/voice', twiml('<Response><Say>Hello from Patchbay.</Say><Hangup/></Response>'));
    app.route('/busy', twiml('<Response><Reject reason="busy"/></Response>'));
    app.route('/status', (_req, res) => void res.writeHead(204).end());
    pb = await startPatchbay({
      PATCHBAY_VOICE_URL: app.url('/voice'),
      PATCHBAY_STATUS_CALLBACK: app.url('/status'),
      PATCHBAY_STATUS_CALLBACK_EVENT: 'initiated ringing answered completed',
    });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  it('completes 200 calls at 20 calls/s with <Say> then <Hangup/>', async () => {
    const r = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 200, rate: 20, timeoutSeconds: 120 });
    assert.equal(r.failed, 0, `SIPp failed calls: ${r.errors}`);
    assert.equal(r.successful, 200);
    assert.equal(r.exitCode, 0);
    // Every call is persisted, completed, with its duration and the 200 it was answered with.
    await waitFor(() => pb.registry.size === 0, 10000, 'calls to end');
    const records = await apiGet(pb, '/v1/calls?pageSize=1000&status=completed');
    assert.equal(records.status, 200);
    assert.equal(records.body.calls.length, 200);
    for (const c of records.body.calls) {
      assert.equal(c.direction, 'inbound');
      assert.equal(c.sipResponseCode, 200);
      assert.ok(c.answerTime && c.endTime);
    }
  });

  it('sends the documented webhook parameters, signed with X-Twilio-Signature', () => {
    const reqs = app.requestsTo('/voice');
    assert.ok(reqs.length >= 200);
    const r = reqs[0]!;
    assert.equal(r.method, 'POST');
    assert.match(r.params.CallSid!, /^CA[0-9a-f]{32}$/);
    assert.equal(r.params.AccountSid, TEST_ACCOUNT_SID);
    assert.equal(r.params.From, 'sip:sipp@127.0.0.1');
    assert.equal(r.params.To, 'sip:service@127.0.0.1'); // a non-numeric user part is given as a SIP URI
    assert.equal(r.params.Caller, r.params.From);
    assert.equal(r.params.Called, r.params.To);
    assert.equal(r.params.CallStatus, 'ringing');
    assert.equal(r.params.Direction, 'inbound');
    assert.equal(r.params.ApiVersion, '2010-04-01');
    assert.ok(r.params.SipCallId);
    assert.equal(r.params.SipSourceIp, '127.0.0.1');
    assert.match(r.params['SipHeader_X-Test-Case']!, /^\d+$/);
    const signature = r.headers['x-twilio-signature'];
    assert.equal(typeof signature, 'string');
    assert.ok(validateTwilioSignature(TEST_AUTH_TOKEN, signature as string, r.url, r.params), 'signature verifies');
    assert.ok(!validateTwilioSignature('wrong-token', signature as string, r.url, r.params));
  });

  it('sends status callbacks initiated → ringing → answered → completed, in order per call', async () => {
    const callSid = app.requestsTo('/voice')[0]!.params.CallSid!;
    const events = await waitFor(() => {
      const e = app.requestsTo('/status').filter((r) => r.params.CallSid === callSid);
      return e.length >= 4 ? e : null;
    }, 10000, 'status callbacks');
    assert.deepEqual(events.map((e) => e.params.CallStatus), ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.deepEqual(events.map((e) => e.params.SequenceNumber), ['0', '1', '2', '3']);
    const last = events[3]!.params;
    assert.equal(last.CallbackSource, 'call-progress-events');
    assert.match(last.Timestamp!, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.ok(Number(last.CallDuration) >= 0);
    assert.equal(last.SipResponseCode, '200');
    assert.ok(validateTwilioSignature(TEST_AUTH_TOKEN, events[3]!.headers['x-twilio-signature'] as string, events[3]!.url, last));
  });

  it('answers 486 Busy Here for <Reject reason="busy"/> and records the call as busy', async () => {
    app.route('/voice', twiml('<Response><Reject reason="busy"/></Response>'));
    try {
      const r = await runSipp({ scenario: 'uac-expect-486.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 5, rate: 5 });
      assert.equal(r.failed, 0, r.errors);
      assert.equal(r.successful, 5);
      await waitFor(() => pb.registry.size === 0, 5000, 'calls to end');
      const records = await apiGet(pb, '/v1/calls?status=busy');
      assert.equal(records.body.calls.length, 5);
      assert.equal(records.body.calls[0].sipResponseCode, 486);
      assert.equal(records.body.calls[0].answerTime, null);
    } finally {
      app.route('/voice', twiml('<Response><Say>Hello from Patchbay.</Say><Hangup/></Response>'));
    }
  });

  it('retransmits the 200 OK to a caller that missed it, and the call completes', async () => {
    const r = await runSipp({ scenario: 'uac-ignores-first-200.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, traceMessages: true });
    assert.equal(r.failed, 0, r.errors);
    assert.equal(r.successful, 1);
    // SIPp held its ACK for 2 s: the 200 OK was sent at 0, 0.5 and 1.5 s (T1, then 2*T1).
    const invite200s = r.messages.filter((m) => m.startsWith('SIP/2.0 200') && /CSeq:\s*1 INVITE/i.test(m));
    assert.ok(invite200s.length >= 3, `200 OK sent ${invite200s.length} times`);
    // And Patchbay's BYE came only after SIPp's ACK (RFC 3261 §15).
    const ackAt = r.messages.findIndex((m) => m.startsWith('ACK '));
    const byeAt = r.messages.findIndex((m) => m.startsWith('BYE '));
    assert.ok(ackAt >= 0 && byeAt > ackAt, 'BYE after ACK');
  });
});
