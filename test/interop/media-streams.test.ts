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

  async function lastCall(): Promise<{ events: { type: string; detail: Record<string, any> }[] }> {
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
});
