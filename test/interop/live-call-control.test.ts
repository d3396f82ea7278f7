/**
 * Live call control through the REST API on real calls, in every state: an inbound SIPp call
 * redirected while its first document is still being fetched (the redirect wins), cancelled while
 * ringing (487), hung up while in progress (BYE); outbound calls over the account's concurrency
 * limit waiting `queued` and cancelled there without a status callback; an Application reached
 * through a number's VoiceApplicationSid; API keys as credentials for the twilio library.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';
import { runCli } from '../../src/cli/run-cli.js';

function clientFor(pb: TestPatchbay, user = TEST_ACCOUNT_SID, secret = TEST_AUTH_TOKEN): twilio.Twilio {
  const client = twilio(user, secret, { accountSid: TEST_ACCOUNT_SID });
  client.api.baseUrl = `http://127.0.0.1:${pb.httpPort}`;
  return client;
}

describe('live call control on inbound calls', () => {
  let pb: TestPatchbay;
  let app: AppServer;
  let client: twilio.Twilio;
  let release: () => void = () => undefined;

  before(async () => {
    app = await new AppServer().start();
    // The first document takes until the test releases it: the call stays ringing meanwhile.
    app.route('/slow', async (_req, res) => {
      await new Promise<void>((r) => (release = r));
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<Response><Reject reason="busy"/></Response>');
    });
    app.route('/long', twiml('<Response><Say>Hello.</Say><Pause length="30"/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/slow') });
    client = clientFor(pb);
  });

  after(async () => {
    release();
    await pb?.dispose();
    await app?.stop();
  });

  const liveInbound = () => waitFor(async () => (await client.calls.list({ status: 'ringing' }))[0], 10000, 'the ringing inbound call');

  it('a redirect while the first document is being fetched wins: the late <Reject> never applies', async () => {
    const requestsBefore = app.requestsTo('/slow').length;
    const sipp = runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
    await waitFor(() => app.requestsTo('/slow').length > requestsBefore, 10000, 'the first fetch');
    const call = await liveInbound();
    assert.equal(call.direction, 'inbound');
    const updated = await client.calls(call.sid).update({ twiml: '<Response><Say>Redirected.</Say><Hangup/></Response>' });
    assert.equal(updated.sid, call.sid);
    release();
    const result = await sipp;
    assert.equal(result.successful, 1, `the caller was answered and hung up by the redirect's document: ${result.errors}`);
    const record = await waitFor(async () => {
      const c = await client.calls(call.sid).fetch();
      return c.endTime ? c : null;
    }, 5000, 'the final record');
    assert.equal(record.status, 'completed', 'not busy: the slow <Reject> lost');
  });

  it('Status=canceled while ringing answers the caller 487 and ends the call canceled', async () => {
    const sipp = runSipp({ scenario: 'uac-expect-487.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
    const call = await liveInbound();
    const canceled = await client.calls(call.sid).update({ status: 'canceled' });
    assert.equal(canceled.status, 'canceled');
    release();
    const result = await sipp;
    assert.equal(result.successful, 1, `SIPp got 487: ${result.errors}`);
    const repeat = await client.calls(call.sid).update({ status: 'completed' }).then(() => null, (e: { status: number; code: number }) => e);
    assert.equal(repeat?.status, 400);
    assert.equal(repeat?.code, 21220, 'an ended call cannot be changed');
  });

  it('Status=completed on an answered call sends BYE; Status=canceled on it changes nothing', async () => {
    const number = await client.incomingPhoneNumbers.create({ phoneNumber: '2000', voiceUrl: app.url('/long') });
    const started = Date.now();
    const sipp = runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-s', '2000'] });
    const call = await waitFor(async () => (await client.calls.list({ status: 'in-progress' }))[0], 10000, 'the answered call');
    assert.equal((await client.calls(call.sid).update({ status: 'canceled' })).status, 'in-progress');
    const done = await client.calls(call.sid).update({ status: 'completed' });
    assert.equal(done.status, 'completed');
    const result = await sipp;
    assert.equal(result.successful, 1, `SIPp got our BYE: ${result.errors}`);
    assert.ok(Date.now() - started < 20000, 'long before the 30 s pause ended');
    await client.incomingPhoneNumbers(number.sid).remove();
  });

  it('a number pointing at an Application runs the application\'s VoiceUrl; API keys work as credentials', async () => {
    app.route('/app-voice', twiml('<Response><Say>Application.</Say><Hangup/></Response>'));
    app.route('/number-own', twiml('<Response><Say>Number.</Say><Hangup/></Response>'));
    const created = await client.newKeys.create({ friendlyName: 'ci' });
    assert.match(created.sid, /^SK[0-9a-f]{32}$/);
    const keyClient = clientFor(pb, created.sid, created.secret);

    const application = await keyClient.applications.create({ friendlyName: 'ivr', voiceUrl: app.url('/app-voice') });
    assert.match(application.sid, /^AP[0-9a-f]{32}$/);
    const number = await keyClient.incomingPhoneNumbers.create({ phoneNumber: '3000', voiceUrl: app.url('/number-own'), voiceApplicationSid: application.sid });
    const result = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-s', '3000'] });
    assert.equal(result.successful, 1, result.errors);
    assert.equal(app.requestsTo('/app-voice').length, 1, 'the application\'s VoiceUrl ran');
    assert.equal(app.requestsTo('/number-own').length, 0);
    await keyClient.incomingPhoneNumbers(number.sid).remove();
    await keyClient.applications(application.sid).remove();
    const wrongSecret = await clientFor(pb, created.sid, 'not-the-secret').calls.list().then(() => null, (e: { status: number }) => e);
    assert.equal(wrongSecret?.status, 401);
  });

  it('the patchbay CLI adds a number a SIPp caller then reaches, lists calls and removes the number', async () => {
    const env = { PATCHBAY_API_URL: `http://127.0.0.1:${pb.httpPort}`, PATCHBAY_ACCOUNT_SID: TEST_ACCOUNT_SID, PATCHBAY_AUTH_TOKEN: TEST_AUTH_TOKEN };
    const cli = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env });
      return { code, out, err };
    };
    app.route('/cli-voice', twiml('<Response><Say>From the command line.</Say><Hangup/></Response>'));
    const added = await cli('numbers', 'add', '4000', '--voice-url', app.url('/cli-voice'), '--json');
    assert.equal(added.code, 0, added.err);
    const number = JSON.parse(added.out) as { sid: string; phoneNumber: string };
    assert.equal(number.phoneNumber, '4000');
    const table = await cli('numbers', 'list');
    assert.match(table.out, /4000/);
    const result = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-s', '4000'] });
    assert.equal(result.successful, 1, result.errors);
    assert.equal(app.requestsTo('/cli-voice').length, 1);
    const calls = await waitFor(async () => {
      const r = await cli('calls', 'list', '--json');
      const list = (JSON.parse(r.out) as { calls: { to: string; status: string }[] }).calls;
      return list.find((c) => c.to === '4000' && c.status === 'completed') ? list : null;
    }, 5000, 'the CLI to list the finished call');
    assert.ok(calls.length >= 1);
    const removed = await cli('numbers', 'remove', '4000');
    assert.equal(removed.code, 0, removed.err);
    assert.doesNotMatch((await cli('numbers', 'list')).out, /4000/);
    const missing = await cli('calls', 'get', 'CA' + '1'.repeat(32));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /20404/);
  });
});

describe('outbound calls over the account\'s concurrency limit', () => {
  let pb: TestPatchbay;
  let app: AppServer;
  let client: twilio.Twilio;

  before(async () => {
    app = await new AppServer().start();
    app.route('/status', twiml('<Response/>'));
    pb = await startPatchbay({ PATCHBAY_ACCOUNT_MAX_CALLS: '1' });
    client = clientFor(pb);
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  it('wait queued, start when a slot frees, and a queued call cancelled reports no status callback', async () => {
    const port = await freePort();
    const uas = runSipp({ scenario: 'uas-answer.xml', target: '127.0.0.1:9', calls: 2, localPort: port, keys: { sink_port: '9' }, timeoutSeconds: 60 });
    await new Promise((r) => setTimeout(r, 300));
    const to = `sip:callee@127.0.0.1:${port}`;
    const doc = '<Response><Say>Hold on.</Say><Pause length="30"/></Response>';
    const events = ['initiated', 'ringing', 'answered', 'completed'];
    const first = await client.calls.create({ to, from: 'alice', twiml: doc, statusCallback: app.url('/status'), statusCallbackEvent: events });
    const second = await client.calls.create({ to, from: 'alice', twiml: doc, statusCallback: app.url('/status'), statusCallbackEvent: events });
    const third = await client.calls.create({ to, from: 'alice', twiml: doc, statusCallback: app.url('/status'), statusCallbackEvent: events });
    const callbacks = (sid: string) => app.requestsTo('/status').filter((r) => r.params.CallSid === sid).map((r) => r.params.CallStatus);
    await waitFor(() => callbacks(first.sid).includes('in-progress'), 10000, 'the first call answered');
    assert.equal((await client.calls(second.sid).fetch()).status, 'queued');
    assert.equal((await client.calls(third.sid).fetch()).status, 'queued');

    assert.equal((await client.calls(third.sid).update({ status: 'canceled' })).status, 'canceled');
    await client.calls(first.sid).update({ status: 'completed' });
    await waitFor(() => callbacks(second.sid).includes('in-progress'), 10000, 'the second call answered once the first ended');
    await client.calls(second.sid).update({ status: 'completed' });
    const result = await uas;
    assert.equal(result.successful, 2, result.errors);
    await waitFor(() => callbacks(second.sid).includes('completed'), 5000, 'the second call completed');
    assert.deepEqual(callbacks(first.sid), ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.deepEqual(callbacks(second.sid), ['initiated', 'ringing', 'in-progress', 'completed']);
    assert.deepEqual(callbacks(third.sid), [], 'a call cancelled while queued called nobody and reports nothing');
    assert.equal((await client.calls(third.sid).fetch()).status, 'canceled');
  });
});
