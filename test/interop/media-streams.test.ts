/**
 * Media Streams end to end: real callers (baresip, SIPp) on loopback, a real WebSocket app.
 * - an echo agent on <Connect><Stream>: the caller hears its own audio back, less than 100 ms late;
 * - the Twilio protocol as agent frameworks read it: connected then start (custom parameters), media
 *   every 20 ms with string counters, dtmf, mark echoes, stop;
 * - an app closing its socket moves the call on; one that never answers the handshake fails the
 *   stream within the connect timeout with a stream-error callback, and the call goes on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, TEST_ACCOUNT_SID, type TestPatchbay } from './harness/patchbay.js';
import { baresipCall } from './harness/baresip.js';
import { runSipp } from './harness/sipp.js';
import { writeDtmfScenario } from './harness/dtmf-scenario.js';
import { StreamAgent, echoTwilioMedia, type AgentConnection } from './harness/stream-agent.js';
import { activePart, bestCorrelation } from './harness/audio-analysis.js';
import { decodeWav } from '../../src/media/wav.js';
import { computeTwilioSignature } from '../../src/webhooks/signature.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const DTMF_CAPTURES = fileURLToPath(new URL('../fixtures/dtmf/', import.meta.url));

function mono(path: string): Float32Array {
  return decodeWav(readFileSync(path)).samples[0]!;
}

describe('Media Streams', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let agent: StreamAgent;

  before(async () => {
    app = await new AppServer().start();
    agent = await new StreamAgent().start();
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    app.route('/stream-status', twiml(''));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await agent?.stop();
    await app?.stop();
  });

  async function lastCall(): Promise<{ events: { at: string; type: string; detail: Record<string, any> }[] }> {
    const list = await apiGet(pb, '/v1/calls?pageSize=1');
    return (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
  }

  it('an echo agent on <Connect><Stream>: baresip hears its own audio back, less than 100 ms late', async () => {
    agent.onFrame = echoTwilioMedia;
    const first = agent.connections.length;
    app.route('/voice', twiml(`<Response><Connect><Stream url="${agent.url('/echo')}"><Parameter name="persona" value="echo"/><Parameter name="tier" value="gold"/></Stream></Connect></Response>`));
    const mic = join(FIXTURES, 'known-8k-reference.wav');
    const r = await baresipCall({ target: `sip:echo@127.0.0.1:${pb.sipPort}`, micWav: mic, seconds: 12 });
    try {
      assert.ok(r.heardWav, `baresip recorded nothing:\n${r.log.slice(-2000)}`);
      const heard = mono(r.heardWav);
      const said = activePart(mono(mic), 8000);
      const corr = bestCorrelation(heard, said);
      assert.ok(corr.value > 0.8, `cross-correlation ${corr.value.toFixed(3)}`);
      // Where the speech sits in the mic file vs where it was heard: the round trip through Patchbay and the agent.
      const micCorr = bestCorrelation(mono(mic), said);
      const delayMs = ((corr.lag - micCorr.lag) / 8000) * 1000;
      assert.ok(delayMs >= 0 && delayMs < 100, `echo delay ${delayMs.toFixed(1)} ms`);
      console.log(`# echo delay ${delayMs.toFixed(1)} ms, correlation ${corr.value.toFixed(3)}`);

      const conn = await agent.connection(first);
      // The first two messages: connected, then start, exactly as Pipecat's runner detects Twilio.
      assert.deepEqual(conn.frames[0]!.json, { event: 'connected', protocol: 'Call', version: '1.0.0' });
      const start = conn.frames[1]!.json;
      assert.equal(start.event, 'start');
      assert.equal(start.sequenceNumber, '1');
      assert.match(start.streamSid, /^MZ[0-9a-f]{32}$/);
      assert.deepEqual(Object.keys(start.start), ['streamSid', 'accountSid', 'callSid', 'tracks', 'customParameters', 'mediaFormat']);
      assert.equal(start.start.accountSid, TEST_ACCOUNT_SID);
      assert.match(start.start.callSid, /^CA[0-9a-f]{32}$/);
      assert.deepEqual(start.start.tracks, ['inbound']);
      assert.deepEqual(start.start.customParameters, { persona: 'echo', tier: 'gold' });
      assert.deepEqual(start.start.mediaFormat, { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
      // The handshake is signed like a webhook (over the ws:// URL, no parameters).
      assert.equal(conn.request.headers['x-twilio-signature'], computeTwilioSignature(pb.authToken, agent.url('/echo'), {}));

      const media = conn.events('media');
      // The whole call, 20 ms a message (baresip hangs up when its microphone file ends).
      const micSeconds = mono(mic).length / 8000;
      assert.ok(media.length >= ((micSeconds - 0.5) * 1000) / 20, `only ${media.length} media messages for a ${micSeconds.toFixed(1)} s call`);
      media.forEach((m, i) => {
        assert.equal(m.media.track, 'inbound');
        assert.equal(m.media.chunk, String(i + 1));
        assert.equal(m.media.timestamp, String(i * 20));
        assert.equal(m.sequenceNumber, String(i + 2));
        assert.equal(Buffer.from(m.media.payload, 'base64').length, 160);
      });
      // Every 20 ms in real time, not in bursts.
      const times = conn.frames.filter((f) => f.json?.event === 'media').map((f) => f.at);
      const span = times.at(-1)! - times[0]!;
      assert.ok(Math.abs(span - (times.length - 1) * 20) < 200, `${times.length} frames over ${span.toFixed(0)} ms`);
      const stop = conn.events('stop');
      assert.equal(stop.length, 1);
      assert.deepEqual(stop[0].stop, { accountSid: TEST_ACCOUNT_SID, callSid: start.start.callSid });
      assert.equal(conn.frames.at(-1)!.json.event, 'stop');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  async function sippCall(seconds: number): Promise<void> {
    const scenario = writeDtmfScenario({ telephoneEvent: true, steps: [{ pauseMs: seconds * 1000 }] });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: seconds + 20 });
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
  }

  it('<Start><Stream> forks both tracks while the document goes on, <Stop><Stream name> ends it, with status callbacks', async () => {
    agent.onFrame = () => undefined;
    const first = agent.connections.length;
    const statusBefore = app.requestsTo('/stream-status').length;
    app.route('/voice', twiml(`<Response><Start><Stream name="fork" track="both_tracks" url="${agent.url('/fork')}" statusCallback="/stream-status"/></Start><Say>Hello from the fork.</Say><Stop><Stream name="fork"/></Stop><Pause length="1"/><Hangup/></Response>`));
    await sippCall(15);
    const conn = await agent.connection(first);
    await conn.until(() => conn.closed, 'the fork to close');
    const start = conn.frames[1]!.json;
    assert.deepEqual(start.start.tracks, ['inbound', 'outbound']);
    const media = conn.events('media');
    const inbound = media.filter((m) => m.media.track === 'inbound');
    const outbound = media.filter((m) => m.media.track === 'outbound');
    assert.ok(inbound.length > 20 && Math.abs(inbound.length - outbound.length) <= 1, `${inbound.length} inbound, ${outbound.length} outbound`);
    outbound.forEach((m, i) => assert.equal(m.media.chunk, String(i + 1)));
    // The outbound track is what the caller heard: the <Say>.
    const loud = outbound.filter((m) => Buffer.from(m.media.payload, 'base64').some((b: number) => b !== 0xff && b !== 0x7f && (b & 0x7f) < 0x60));
    assert.ok(loud.length > 25, `only ${loud.length} audible outbound frames`);
    assert.equal(conn.frames.at(-1)!.json.event, 'stop');
    const record = await lastCall();
    const stopped = record.events.find((e) => e.type === 'stream.stopped');
    assert.equal(stopped?.detail.reason, 'stopped');
    // Stopped by <Stop>, not by the hang-up: the pause came after it.
    const stopIndex = record.events.indexOf(stopped!);
    assert.ok(record.events.findIndex((e) => e.type === 'verb.start' && e.detail.verb === 'pause') > stopIndex);
    const status = await waitFor(() => (app.requestsTo('/stream-status').length >= statusBefore + 2 ? app.requestsTo('/stream-status').slice(statusBefore) : null), 5000, 'status callbacks');
    assert.deepEqual(status.map((r) => r.params.StreamEvent), ['stream-started', 'stream-stopped']);
    assert.equal(status[0]!.params.StreamName, 'fork');
    assert.equal(status[0]!.params.StreamSid, start.streamSid);
    assert.match(status[0]!.params.Timestamp!, /^\d{4}-\d\d-\d\dT/);
  });

  it('an app that closes its socket moves the call on: Connect\'s action is requested', async () => {
    const first = agent.connections.length;
    agent.onFrame = (conn, f) => {
      if (f.json?.event === 'start') setTimeout(() => conn.ws.close(1000), 1000);
    };
    const before = app.requestsTo('/after').length;
    app.route('/voice', twiml(`<Response><Connect action="/after"><Stream url="${agent.url('/bye')}"/></Connect><Say>Not reached.</Say></Response>`));
    await sippCall(15);
    await agent.connection(first);
    const after = app.requestsTo('/after').slice(before);
    assert.equal(after.length, 1);
    assert.equal(after[0]!.params.CallStatus, 'in-progress');
    const record = await lastCall();
    assert.equal(record.events.find((e) => e.type === 'stream.stopped')?.detail.reason, 'app-closed');
    assert.equal(record.events.filter((e) => e.type === 'verb.start' && e.detail.verb === 'say').length, 0);
    agent.onFrame = () => undefined;
  });

  it('an app that never answers the handshake fails the stream within the connect timeout, with stream-error, and the call goes on', async () => {
    agent.mode = 'hang';
    try {
      const statusBefore = app.requestsTo('/stream-status').length;
      app.route('/voice', twiml(`<Response><Connect><Stream url="${agent.url('/stuck')}" statusCallback="/stream-status"/></Connect><Say>The agent is not available.</Say><Hangup/></Response>`));
      await sippCall(20);
      const status = app.requestsTo('/stream-status').slice(statusBefore);
      assert.deepEqual(status.map((r) => r.params.StreamEvent), ['stream-error']);
      assert.match(status[0]!.params.StreamError!, /handshake/);
      const record = await lastCall();
      const error = record.events.find((e) => e.type === 'error' && e.detail.code === 31920);
      assert.ok(error, JSON.stringify(record.events.map((e) => e.type)));
      const connectAt = Date.parse(record.events.find((e) => e.type === 'verb.start' && e.detail.verb === 'connect')!.at);
      const failedAfter = Date.parse(error.at) - connectAt;
      assert.ok(failedAfter >= 4500 && failedAfter < 7000, `failed ${failedAfter} ms after the handshake began (timeout 5 s)`);
      assert.equal(record.events.filter((e) => e.type === 'verb.start' && e.detail.verb === 'say').length, 1, 'the next verb ran');
    } finally {
      agent.mode = 'accept';
    }
  });
});
