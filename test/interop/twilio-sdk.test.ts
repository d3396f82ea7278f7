/**
 * The official `twilio` npm library, unmodified, pointed at a real Patchbay with
 * `client.api.baseUrl`: outbound calls to a SIPp callee (status callbacks in order, list and fetch,
 * a live redirect the callee hears, hang-up), IncomingPhoneNumbers that route SIPp callers to
 * their VoiceUrl, and the errors a script sees for bad requests and other accounts' resources.
 * The callee's audio goes to a test RTP endpoint so what it hears is measured, not assumed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp, type SippResult } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';
import { RtpSink, type ReceivedRtp } from './harness/rtp-sink.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { MULAW_DECODE_TABLE } from '../../src/media/g711.js';
import { encodeWav } from '../../src/media/wav.js';

const OTHER_ACCOUNT_SID = 'AC' + 'fedcba9876543210'.repeat(2);
const OTHER_AUTH_TOKEN = 'other-account-token-0123456789';

function tone(hz: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(seconds * 8000));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  return out;
}

/** Energy of `hz` in µ-law packets (Goertzel), per sample. */
function energyAt(packets: ReceivedRtp[], hz: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let s1 = 0;
  let s2 = 0;
  let n = 0;
  for (const p of packets) {
    if (p.payloadType !== 0) continue;
    for (const b of p.payload) {
      const s0 = MULAW_DECODE_TABLE[b]! / 32768 + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
      n++;
    }
  }
  return n === 0 ? 0 : (s1 * s1 + s2 * s2 - coeff * s1 * s2) / n;
}

function clientFor(pb: TestPatchbay, sid = TEST_ACCOUNT_SID, token = TEST_AUTH_TOKEN): twilio.Twilio {
  const client = twilio(sid, token);
  client.api.baseUrl = `http://127.0.0.1:${pb.httpPort}`;
  return client;
}

/** A SIPp callee on its own port, answering one call with its audio going to `sink`. */
async function callee(scenario: string, sink: RtpSink | null, extra: string[] = []): Promise<{ uri: string; done: Promise<SippResult> }> {
  const port = await freePort();
  const done = runSipp({ scenario, target: '127.0.0.1:9', calls: 1, localPort: port, keys: { sink_port: String(sink?.port ?? 9) }, timeoutSeconds: 60, extra });
  // SIPp needs a moment to bind before the INVITE arrives (it would otherwise get ICMP unreachable and retransmit).
  await new Promise((r) => setTimeout(r, 300));
  return { uri: `sip:callee@127.0.0.1:${port}`, done };
}

interface RestError {
  status: number;
  code: number;
  message: string;
  moreInfo: string;
}

async function restError(p: Promise<unknown>): Promise<RestError> {
  try {
    await p;
  } catch (err) {
    return err as RestError;
  }
  throw new Error('expected the request to fail');
}

describe('the official twilio npm library against Patchbay', () => {
  let pb: TestPatchbay;
  let app: AppServer;
  let client: twilio.Twilio;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'patchbay-sdk-'));
    // A second tenant, to prove isolation: created in the store before the server starts.
    const store = await PgliteStore.open(join(dataDir, 'db'));
    await store.ensureAccount({ sid: OTHER_ACCOUNT_SID, authToken: OTHER_AUTH_TOKEN });
    await store.close();
    app = await new AppServer().start();
    const wav = (hz: number) => (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.end(encodeWav(tone(hz, 2), 8000));
    };
    app.route('/tone440.wav', wav(440)).route('/tone1000.wav', wav(1000)).route('/status', twiml('<Response/>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/catch-all') }, dataDir);
    client = clientFor(pb);
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a call to a SIPp callee: status callbacks in order, list and fetch, a redirect the callee hears, hang-up', async () => {
    const sink = await new RtpSink().start();
    const uas = await callee('uas-answer.xml', sink);
    try {
      const created = await client.calls.create({
        to: uas.uri,
        from: '+15550001111',
        twiml: `<Response><Play loop="0">${app.url('/tone440.wav')}</Play></Response>`,
        statusCallback: app.url('/status'),
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      });
      assert.match(created.sid, /^CA[0-9a-f]{32}$/);
      assert.equal(created.status, 'queued');
      assert.equal(created.direction, 'outbound-api');
      assert.equal(created.to, uas.uri);
      assert.equal(created.from, '+15550001111');
      assert.equal(created.accountSid, TEST_ACCOUNT_SID);

      await waitFor(() => app.requestsTo('/status').some((r) => r.params.CallStatus === 'in-progress'), 10000, 'answered callback');
      await waitFor(() => sink.packets.length > 60, 5000, 'the callee to hear audio');
      const fetched = await client.calls(created.sid).fetch();
      assert.equal(fetched.status, 'in-progress');
      assert.equal(fetched.direction, 'outbound-api');
      assert.ok(fetched.startTime instanceof Date && !Number.isNaN(fetched.startTime.getTime()), 'start_time is an RFC 2822 date');
      const listed = await client.calls.list({ to: uas.uri, limit: 20 });
      assert.deepEqual(listed.map((c) => c.sid), [created.sid]);

      // Redirect the live call: the 440 Hz prompt is cut and 1 kHz follows.
      await new Promise((r) => setTimeout(r, 1000));
      const redirectAt = performance.now();
      const redirected = await client.calls(created.sid).update({ twiml: `<Response><Play loop="0">${app.url('/tone1000.wav')}</Play></Response>` });
      assert.equal(redirected.status, 'in-progress');
      await new Promise((r) => setTimeout(r, 1500));
      const hungUp = await client.calls(created.sid).update({ status: 'completed' });
      assert.equal(hungUp.status, 'completed');
      const sipp = await uas.done;
      assert.equal(sipp.failed, 0, `SIPp callee failed: ${sipp.errors}`);
      assert.equal(sipp.successful, 1, 'the callee got our BYE');

      const before = sink.packets.filter((p) => p.at < redirectAt);
      const afterRedirect = sink.packets.filter((p) => p.at > redirectAt + 300);
      assert.ok(before.length > 25 && afterRedirect.length > 25, `packets before ${before.length}, after ${afterRedirect.length}`);
      assert.ok(energyAt(before, 440) > 20 * energyAt(before, 1000), 'the callee heard 440 Hz before the redirect');
      assert.ok(energyAt(afterRedirect, 1000) > 20 * energyAt(afterRedirect, 440), 'and 1 kHz after it');

      const statuses = await waitFor(() => {
        const s = app.requestsTo('/status').filter((r) => r.params.CallSid === created.sid);
        return s.length >= 4 ? s : null;
      }, 5000, 'four status callbacks');
      assert.deepEqual(statuses.map((r) => r.params.CallStatus), ['initiated', 'ringing', 'in-progress', 'completed']);
      assert.deepEqual(statuses.map((r) => r.params.SequenceNumber), ['0', '1', '2', '3']);
      assert.equal(statuses[3]!.params.Direction, 'outbound-api');
      assert.ok(Number(statuses[3]!.params.CallDuration) >= 2, 'CallDuration covers the call');

      const final = await waitFor(async () => {
        const c = await client.calls(created.sid).fetch();
        return c.endTime ? c : null;
      }, 5000, 'the final record');
      assert.equal(final.status, 'completed');
      assert.ok(Number(final.duration) >= 2);
    } finally {
      await sink.close();
    }
  });

  it('a redirect that arrives while a verb is fetching its URL wins: the late document never plays', async () => {
    const sink = await new RtpSink().start();
    const uas = await callee('uas-answer.xml', sink);
    let releaseSlow: () => void = () => undefined;
    app.route('/start', twiml(`<Response><Redirect>${app.url('/slow')}</Redirect></Response>`));
    app.route('/slow', async (_req, res) => {
      await new Promise<void>((r) => (releaseSlow = r));
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<Response><Play loop="0">${app.url('/tone440.wav')}</Play></Response>`);
    });
    try {
      const call = await client.calls.create({ to: uas.uri, from: 'alice', url: app.url('/start') });
      await waitFor(() => app.requestsTo('/slow').length > 0, 10000, 'the Redirect fetch');
      await client.calls(call.sid).update({ twiml: `<Response><Play loop="0">${app.url('/tone1000.wav')}</Play></Response>` });
      releaseSlow(); // the slow document arrives after the redirect
      await new Promise((r) => setTimeout(r, 1500));
      await client.calls(call.sid).update({ status: 'completed' });
      await uas.done;
      assert.ok(sink.packets.length > 40, `callee heard ${sink.packets.length} packets`);
      assert.ok(energyAt(sink.packets, 1000) > 50 * energyAt(sink.packets, 440), 'only the redirect\'s 1 kHz was played, never the late 440 Hz');
      const record = await client.calls(call.sid).fetch();
      assert.equal(record.status, 'completed');
    } finally {
      releaseSlow();
      await sink.close();
    }
  });

  it('busy and unanswered callees end as busy and no-answer, with the SIP code', async () => {
    const busy = await callee('uas-busy.xml', null);
    const b = await client.calls.create({ to: busy.uri, from: 'alice', twiml: '<Response><Hangup/></Response>', statusCallback: app.url('/status') });
    const silent = await callee('uas-never-answers.xml', null);
    const n = await client.calls.create({ to: silent.uri, from: 'alice', twiml: '<Response><Hangup/></Response>', statusCallback: app.url('/status'), timeout: 2 });
    const done = (sid: string) => waitFor(() => app.requestsTo('/status').find((r) => r.params.CallSid === sid && r.params.CallStatus !== 'in-progress'), 15000, `final callback of ${sid}`);
    const busyCb = await done(b.sid);
    assert.equal(busyCb.params.CallStatus, 'busy');
    assert.equal(busyCb.params.SipResponseCode, '486');
    const noAnswerCb = await done(n.sid);
    assert.equal(noAnswerCb.params.CallStatus, 'no-answer');
    assert.equal(noAnswerCb.params.SipResponseCode, '487');
    const silentSipp = await silent.done;
    assert.equal(silentSipp.successful, 1, `the unanswered callee got our CANCEL: ${silentSipp.errors}`);
    assert.equal((await busy.done).successful, 1);
    assert.equal((await client.calls(n.sid).fetch()).status, 'no-answer');
  });

  it('IncomingPhoneNumbers: create, list, update, delete; a SIPp caller reaches the number\'s VoiceUrl', async () => {
    // Answer (a short prompt), then hang up: what uac-app-hangs-up.xml expects.
    const answerAndHangUp = twiml('<Response><Say>Hello.</Say><Hangup/></Response>');
    app.route('/number-v1', answerAndHangUp).route('/number-v2', answerAndHangUp).route('/catch-all', answerAndHangUp);
    const number = await client.incomingPhoneNumbers.create({ phoneNumber: '+15557654321', voiceUrl: app.url('/number-v1'), friendlyName: 'support line' });
    assert.match(number.sid, /^PN[0-9a-f]{32}$/);
    assert.equal(number.phoneNumber, '+15557654321');
    const listed = await client.incomingPhoneNumbers.list({ limit: 50 });
    assert.deepEqual(listed.map((x) => x.sid), [number.sid]);
    const updated = await client.incomingPhoneNumbers(number.sid).update({ voiceUrl: app.url('/number-v2') });
    assert.equal(updated.voiceUrl, app.url('/number-v2'));

    const call = (user: string) => runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-s', user] });
    assert.equal((await call('+15557654321')).successful, 1);
    const reached = app.requestsTo('/number-v2');
    assert.equal(reached.length, 1);
    assert.equal(reached[0]!.params.To, '+15557654321');
    assert.equal(reached[0]!.params.AccountSid, TEST_ACCOUNT_SID);
    assert.equal(app.requestsTo('/number-v1').length, 0);

    await client.incomingPhoneNumbers(number.sid).remove();
    assert.deepEqual(await client.incomingPhoneNumbers.list(), []);
    const catchAllBefore = app.requestsTo('/catch-all').length;
    assert.equal((await call('+15557654321')).successful, 1);
    assert.equal(app.requestsTo('/number-v2').length, 1, 'a deleted number no longer routes');
    assert.equal(app.requestsTo('/catch-all').length, catchAllBefore + 1, 'the catch-all --voice-url takes it');
  });

  it('bad requests get Twilio-shaped errors, and one account never sees or changes another\'s', async () => {
    // The library refuses a missing To itself, so this one goes over the wire by hand.
    const res = await fetch(`http://127.0.0.1:${pb.httpPort}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls.json`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ From: 'alice', Url: app.url('/x') }).toString(),
    });
    assert.equal(res.status, 400);
    const noTo = (await res.json()) as Record<string, unknown>;
    assert.equal(noTo.code, 21201);
    assert.equal(noTo.status, 400);
    assert.equal(noTo.more_info, 'https://www.twilio.com/docs/errors/21201');
    assert.equal(typeof noTo.message, 'string');

    const badUrl = await restError(client.calls.create({ to: 'sip:bob@127.0.0.1:9', from: 'alice', url: 'not a url' }));
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.code, 21205);

    const unknown = await restError(client.calls('CA' + '0'.repeat(32)).fetch());
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, 20404);

    const wrong = await restError(clientFor(pb, TEST_ACCOUNT_SID, 'wrong-password').calls.list());
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, 20003);

    // Account A's resources, as seen by account B.
    const mine = (await client.calls.list({ limit: 1 }))[0]!;
    const number = await client.incomingPhoneNumbers.create({ phoneNumber: '+15550009999', voiceUrl: app.url('/x') });
    const other = clientFor(pb, OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN);
    assert.equal((await restError(other.calls(mine.sid).fetch())).status, 404);
    assert.equal((await restError(other.calls(mine.sid).update({ status: 'completed' }))).status, 404);
    assert.equal((await restError(other.calls(mine.sid).remove())).status, 404);
    assert.deepEqual(await other.calls.list(), []);
    assert.equal((await restError(other.incomingPhoneNumbers(number.sid).fetch())).status, 404);
    assert.equal((await restError(other.incomingPhoneNumbers(number.sid).update({ voiceUrl: app.url('/stolen') }))).status, 404);
    assert.equal((await restError(other.incomingPhoneNumbers(number.sid).remove())).status, 404);
    assert.deepEqual(await other.incomingPhoneNumbers.list(), []);
    // B cannot claim A's number either.
    const taken = await restError(other.incomingPhoneNumbers.create({ phoneNumber: '+15550009999', voiceUrl: app.url('/x') }));
    assert.equal(taken.status, 400);
    assert.equal((await client.incomingPhoneNumbers(number.sid).fetch()).voiceUrl, app.url('/x'), 'A\'s number is unchanged');
    await client.incomingPhoneNumbers(number.sid).remove();
  });
});
