/**
 * Media Streams started and stopped over REST on a live call, end to end: a SIPp caller held by
 * `<Pause length="20"/>` sends a tone; a real WebSocket app receives two forks, one started with
 * Twilio's form API and one with the native JSON API. Each sees connected, start (its parameters,
 * the call's SID) and media carrying the caller's tone, then `stop` once it is stopped over REST,
 * while the call goes on; the status callback hears stream-started and stream-stopped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { writeDtmfScenario } from './harness/dtmf-scenario.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { StreamAgent, type AgentConnection } from './harness/stream-agent.js';
import { MULAW_DECODE_TABLE } from '../../src/media/g711.js';

const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');

/** A 1 kHz tone at about -10 dBFS, as 8 kHz samples. */
function tone(ms: number): Int16Array {
  const pcm = new Int16Array((ms * 8000) / 1000);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
  return pcm;
}

/** Mean absolute amplitude of a base64 µ-law payload (silence is ~0, the tone ~6000). */
function level(payload: string): number {
  const bytes = Buffer.from(payload, 'base64');
  let sum = 0;
  for (const b of bytes) sum += Math.abs(MULAW_DECODE_TABLE[b]!);
  return sum / bytes.length;
}

async function rest(pb: TestPatchbay, method: string, path: string, body?: { form: Record<string, string> } | { json: unknown }): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: AUTH };
  let payload: string | undefined;
  if (body && 'form' in body) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(body.form).toString();
  } else if (body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  }
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('Media Streams over REST', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let agent: StreamAgent;

  before(async () => {
    app = await new AppServer().start();
    agent = await new StreamAgent().start();
    app.route('/voice', twiml('<Response><Pause length="20"/></Response>'));
    app.route('/stream-status', twiml(''));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await agent?.stop();
    await app?.stop();
  });

  it('forks started over REST (Twilio and native) carry the caller and stop over REST while the call goes on', async () => {
    const audio = writeAudioPcap(tone(8000));
    const scenario = writeDtmfScenario({ telephoneEvent: false, steps: [{ pcap: audio.path, durationMs: audio.durationMs }, { pauseMs: 25000 }] });
    const sipp = runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 45 });

    const webhook = await waitFor(() => app.requestsTo('/voice')[0], 15000, 'the voice webhook');
    const callSid = webhook.params.CallSid!;
    const twilioStreams = `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls/${callSid}/Streams`;

    const tw = await rest(pb, 'POST', `${twilioStreams}.json`, {
      form: { Url: agent.url('/twilio'), Name: 'twilio-fork', StatusCallback: app.url('/stream-status'), 'Parameter1.Name': 'via', 'Parameter1.Value': 'twilio-api' },
    });
    assert.equal(tw.status, 201, JSON.stringify(tw.body));
    assert.equal(tw.body.status, 'in-progress');
    assert.equal(tw.body.call_sid, callSid);
    const native = await rest(pb, 'POST', `/v1/calls/${callSid}/streams`, { json: { url: agent.url('/native'), parameters: { via: 'native-api' } } });
    assert.equal(native.status, 201, JSON.stringify(native.body));
    assert.equal(native.body.name, null);

    const conns = [await agent.connection(0), await agent.connection(1)];
    const byPath = (p: string): AgentConnection => conns.find((c) => c.request.url === p)!;
    const cases = [
      { conn: byPath('/twilio'), sid: tw.body.sid as string, via: 'twilio-api' },
      { conn: byPath('/native'), sid: native.body.sid as string, via: 'native-api' },
    ];
    for (const { conn, sid, via } of cases) {
      await conn.until(() => conn.events('media').filter((m) => level(m.media.payload) > 2000).length >= 25, `the caller's tone on ${via}`);
      assert.deepEqual(conn.frames[0]!.json, { event: 'connected', protocol: 'Call', version: '1.0.0' });
      const start = conn.frames[1]!.json;
      assert.equal(start.event, 'start');
      assert.equal(start.streamSid, sid);
      assert.deepEqual([start.start.callSid, start.start.accountSid, start.start.tracks], [callSid, TEST_ACCOUNT_SID, ['inbound']]);
      assert.deepEqual(start.start.customParameters, { via });
      for (const m of conn.events('media')) assert.equal(m.media.track, 'inbound');
    }

    // Stop each over its own API; the other keeps streaming until its turn.
    const stopped = await rest(pb, 'POST', `${twilioStreams}/twilio-fork.json`, { form: { Status: 'stopped' } });
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.deepEqual([stopped.body.sid, stopped.body.name, stopped.body.status], [tw.body.sid, 'twilio-fork', 'stopped']);
    const twConn = cases[0]!.conn;
    await twConn.until(() => twConn.events('stop').length === 1 && twConn.closed, 'stop on the Twilio-API fork');
    assert.deepEqual(twConn.events('stop')[0].stop, { accountSid: TEST_ACCOUNT_SID, callSid });

    const nativeConn = cases[1]!.conn;
    const before = nativeConn.events('media').length;
    await nativeConn.until(() => nativeConn.events('media').length >= before + 10, 'media on the native fork after the other stopped');
    assert.equal(nativeConn.events('stop').length, 0);
    const del = await rest(pb, 'DELETE', `/v1/calls/${callSid}/streams/${native.body.sid}`);
    assert.equal(del.status, 204);
    await nativeConn.until(() => nativeConn.events('stop').length === 1 && nativeConn.closed, 'stop on the native fork');
    for (const { conn } of cases) assert.equal(conn.frames.at(-1)!.json.event, 'stop');

    // The call is still up: stopping the streams did not end it, and a second stop finds nothing.
    assert.equal(pb.registry.size, 1);
    assert.equal((await rest(pb, 'DELETE', `/v1/calls/${callSid}/streams/${native.body.sid}`)).status, 404);

    const status = await waitFor(() => {
      const events = app.requestsTo('/stream-status').map((r) => r.params.StreamEvent);
      return events.includes('stream-stopped') ? app.requestsTo('/stream-status') : null;
    }, 10000, 'stream status callbacks');
    assert.deepEqual(status.map((r) => [r.params.StreamEvent, r.params.StreamSid, r.params.StreamName, r.params.CallSid]), [
      ['stream-started', tw.body.sid, 'twilio-fork', callSid],
      ['stream-stopped', tw.body.sid, 'twilio-fork', callSid],
    ]);

    const r = await sipp;
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    // The call is over: it is unknown to the streams API now.
    const late = await rest(pb, 'POST', `/v1/calls/${callSid}/streams`, { json: { url: agent.url('/late') } });
    assert.equal(late.status, 404);
    const record = (await apiGet(pb, `/v1/calls/${callSid}`)).body;
    const streamEvents = record.events.filter((e: { type: string }) => e.type.startsWith('stream.')).map((e: { type: string; detail: Record<string, unknown> }) => [e.type, e.detail.streamSid, e.detail.reason ?? null]);
    assert.deepEqual(streamEvents.filter((e: unknown[]) => e[0] === 'stream.stopped'), [
      ['stream.stopped', tw.body.sid, 'stopped'],
      ['stream.stopped', native.body.sid, 'stopped'],
    ]);
    assert.equal(streamEvents.filter((e: unknown[]) => e[0] === 'stream.started').length, 2);
  });
});
