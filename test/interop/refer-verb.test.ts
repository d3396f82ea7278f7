/**
 * `<Refer>` end to end: a SIPp caller calls Patchbay, the app answers with `<Refer>`, and Patchbay
 * sends REFER (RFC 3515) on the call's own dialog asking the caller's UA to transfer itself. The
 * SIPp scenarios check the REFER (Refer-To, Referred-By) and play the transferee: accept it and
 * report the referred call with message/sipfrag NOTIFYs (§2.4.4), or refuse it. These tests check
 * what the app is told (ReferCallStatus, ReferSipResponseCode, NotifySipResponseCode), what the
 * call does next (ends, or goes on with the next verb or the action document) and the call record.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, json, twiml, waitFor, type RouteHandler } from './harness/app-server.js';
import { apiGet, startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp, type SippResult } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';

interface CallEvent {
  type: string;
  detail: Record<string, unknown>;
}

interface CallRecord {
  sid: string;
  status: string;
  endReason: string | null;
  events: CallEvent[];
}

describe('<Refer> sent by Patchbay, with a SIPp caller', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let voice: RouteHandler = twiml('<Response/>');

  before(async () => {
    await app.start();
    app.route('/voice', (req, res) => voice(req, res));
    app.route('/refer-done', twiml('<Response/>'));
    app.route('/hold', twiml('<Response><Pause length="10"/></Response>'));
    app.route('/sorry', twiml('<Response><Say>The transfer did not go through.</Say></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  beforeEach(() => {
    app.requests.length = 0;
  });

  async function caller(scenario: string, keys: Record<string, string>): Promise<SippResult> {
    // A port of our own: SIPp's default (5060 and up) may be taken by another test's SIPp.
    const localPort = await freePort();
    return runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, localPort, keys, timeoutSeconds: 20, traceMessages: true });
  }

  /** The call's record once it is completed (the call of the one /voice request of the test). */
  async function record(): Promise<CallRecord> {
    const sid = app.requestsTo('/voice')[0]?.params.CallSid;
    assert.ok(sid, 'the app was asked for the voice document');
    return waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${sid}`);
      return r.status === 200 && r.body.status === 'completed' ? (r.body as CallRecord) : null;
    }, 10000, 'the completed call record');
  }

  const verbsRun = (rec: CallRecord): unknown[] => rec.events.filter((e) => e.type === 'verb.start').map((e) => e.detail.verb);
  const referResult = (rec: CallRecord): Record<string, unknown> | undefined => rec.events.find((e) => e.type === 'refer.result')?.detail;

  /** The REFER Patchbay sent, as SIPp received it. */
  function referMessage(result: SippResult): string {
    const refer = result.messages.find((m) => m.startsWith('REFER '));
    assert.ok(refer, `SIPp received a REFER: ${result.messages.map((m) => m.split('\n')[0]).join(' | ')}`);
    return refer;
  }
  const header = (msg: string, name: string): string | undefined =>
    new RegExp(`^${name}:[ \\t]*(.*?)\\r?$`, 'im').exec(msg)?.[1];

  it('accepted and succeeded: 202, NOTIFY 100 then 200; the action gets completed/202/200 and its (empty) document ends the call', async () => {
    voice = twiml('<Response><Refer action="/refer-done"><Sip>sip:agent@example.com?X-Foo=bar%20baz&amp;X-Ticket=42</Sip></Refer><Say>Never reached.</Say></Response>');
    const result = await caller('uac-accepts-refer.xml', { final: '200 OK' });
    assert.equal(result.successful, 1, `REFER checked, 202, NOTIFY 100/200 answered 200, our BYE answered: ${result.errors}`);

    const refer = referMessage(result);
    // The <Sip> URI's headers travel in Refer-To's URI (RFC 3261 §19.1.1), re-escaped.
    assert.equal(header(refer, 'Refer-To'), '<sip:agent@example.com?X-Foo=bar%20baz&X-Ticket=42>');
    assert.match(header(refer, 'Referred-By') ?? '', /^<sip:[^>]+>$/);
    // The transferee's NOTIFYs were accepted (two 200s to NOTIFY).
    assert.equal(result.messages.filter((m) => m.startsWith('SIP/2.0 200') && /^CSeq:\s*\d+ NOTIFY/im.test(m)).length, 2);

    const action = await waitFor(() => app.requestsTo('/refer-done')[0], 10000, 'the Refer action');
    assert.equal(action.params.ReferCallStatus, 'completed');
    assert.equal(action.params.ReferSipResponseCode, '202');
    assert.equal(action.params.NotifySipResponseCode, '200');

    const rec = await record();
    assert.equal(rec.status, 'completed');
    assert.deepEqual(verbsRun(rec), ['refer'], 'the <Say> after <Refer> is not run: the action document replaced it');
    assert.deepEqual(referResult(rec), { target: 'sip:agent@example.com', status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 });
  });

  it('accepted and succeeded without an action: Patchbay hangs up at once (the verbs after <Refer> are skipped)', async () => {
    voice = twiml('<Response><Refer><Sip>sip:agent@example.com</Sip></Refer><Say>Never reached.</Say></Response>');
    const result = await caller('uac-accepts-refer.xml', { final: '200 OK' });
    assert.equal(result.successful, 1, result.errors);
    assert.equal(header(referMessage(result), 'Refer-To'), '<sip:agent@example.com>');
    const rec = await record();
    assert.deepEqual(verbsRun(rec), ['refer']);
    assert.equal(referResult(rec)?.status, 'completed');
    assert.equal(app.requests.length, 1, 'only the voice document was requested');
  });

  it('the transferee hangs up itself after NOTIFY 200: the action is still requested with completed/202/200', async () => {
    // The action document pauses, so Patchbay's own BYE cannot race the transferee's.
    voice = twiml('<Response><Refer action="/hold"><Sip>sip:agent@example.com</Sip></Refer></Response>');
    const result = await caller('uac-accepts-refer-then-bye.xml', { final: '200 OK' });
    assert.equal(result.successful, 1, `REFER checked, NOTIFY 100/200 answered, its BYE answered 200: ${result.errors}`);
    const action = await waitFor(() => app.requestsTo('/hold')[0], 10000, 'the Refer action');
    assert.deepEqual(
      [action.params.ReferCallStatus, action.params.ReferSipResponseCode, action.params.NotifySipResponseCode],
      ['completed', '202', '200'],
    );
    const rec = await record();
    assert.equal(rec.endReason, 'caller-hangup');
    assert.equal(referResult(rec)?.status, 'completed');
  });

  it('transfer failed (NOTIFY 486): the action gets failed/202/486 and its document goes on with the call', async () => {
    voice = twiml('<Response><Refer action="/sorry"><Sip>sip:agent@example.com</Sip></Refer></Response>');
    const result = await caller('uac-accepts-refer.xml', { final: '486 Busy Here' });
    assert.equal(result.successful, 1, result.errors);
    const action = await waitFor(() => app.requestsTo('/sorry')[0], 10000, 'the Refer action');
    assert.equal(action.params.ReferCallStatus, 'failed');
    assert.equal(action.params.ReferSipResponseCode, '202');
    assert.equal(action.params.NotifySipResponseCode, '486');
    const rec = await record();
    assert.deepEqual(verbsRun(rec), ['refer', 'say'], 'the action document ran on the same call');
    assert.equal(rec.endReason, 'end-of-document');
  });

  it('transfer failed without an action: the next verb runs', async () => {
    voice = twiml('<Response><Refer><Sip>sip:agent@example.com</Sip></Refer><Say>Still here.</Say></Response>');
    const result = await caller('uac-accepts-refer.xml', { final: '486 Busy Here' });
    assert.equal(result.successful, 1, result.errors);
    const rec = await record();
    assert.deepEqual(verbsRun(rec), ['refer', 'say']);
    assert.deepEqual(referResult(rec), { target: 'sip:agent@example.com', status: 'failed', referSipResponseCode: 202, notifySipResponseCode: 486 });
  });

  it('REFER refused (603): the action gets failed/603 and no NotifySipResponseCode; the call goes on', async () => {
    voice = twiml('<Response><Refer action="/sorry"><Sip>sip:agent@example.com</Sip></Refer></Response>');
    const result = await caller('uac-rejects-refer.xml', {});
    assert.equal(result.successful, 1, `REFER refused, our BYE answered: ${result.errors}`);
    const action = await waitFor(() => app.requestsTo('/sorry')[0], 10000, 'the Refer action');
    assert.equal(action.params.ReferCallStatus, 'failed');
    assert.equal(action.params.ReferSipResponseCode, '603');
    assert.equal(action.params.NotifySipResponseCode, undefined, 'no NOTIFY came');
    const rec = await record();
    assert.deepEqual(verbsRun(rec), ['refer', 'say']);
  });

  it('REFER refused (603) without an action: the next verb runs', async () => {
    voice = twiml('<Response><Refer><Sip>sip:agent@example.com</Sip></Refer><Say>Still here.</Say></Response>');
    const result = await caller('uac-rejects-refer.xml', {});
    assert.equal(result.successful, 1, result.errors);
    const rec = await record();
    assert.deepEqual(verbsRun(rec), ['refer', 'say']);
    assert.deepEqual(referResult(rec), { target: 'sip:agent@example.com', status: 'failed', referSipResponseCode: 603, notifySipResponseCode: null });
  });

  it('JSON: {"verb":"refer"} with headers sends the same REFER and reports to its action', async () => {
    voice = json([{ verb: 'refer', target: 'sip:agent@example.com', headers: { 'X-Ticket': '4242' }, action: '/refer-done' }]);
    const result = await caller('uac-accepts-refer.xml', { final: '200 OK' });
    assert.equal(result.successful, 1, result.errors);
    assert.equal(header(referMessage(result), 'Refer-To'), '<sip:agent@example.com?X-Ticket=4242>');
    const action = await waitFor(() => app.requestsTo('/refer-done')[0], 10000, 'the Refer action');
    assert.deepEqual(
      [action.params.ReferCallStatus, action.params.ReferSipResponseCode, action.params.NotifySipResponseCode],
      ['completed', '202', '200'],
    );
  });
});
