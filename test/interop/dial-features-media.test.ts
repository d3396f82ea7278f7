/**
 * What a bridged `<Dial>` call produces for the app, end to end: a SIPp caller (its test RTP
 * endpoint says 440 Hz) dialled to a SIPp callee (1 kHz).
 * - record="record-from-answer-dual": the recording status callback names a 2-channel DialVerb
 *   recording, the action gets its RecordingUrl, the WAV (fetched with the account's credentials)
 *   has the caller (parent) on channel 1 and the callee on channel 2, as Twilio lays it out;
 * - record="record-from-answer": one channel holding both voices;
 * - <Start><Stream track="both_tracks"> then <Dial>: the app's WebSocket gets the caller's voice on
 *   the inbound track and what the caller heard (the callee) on the outbound track.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { StreamAgent } from './harness/stream-agent.js';
import { energyOfSamples, startParties, toneTimeline, waitToHear, type BridgeParties } from './harness/tones.js';
import { decodeWav } from '../../src/media/wav.js';
import { MULAW_DECODE_TABLE } from '../../src/media/g711.js';

const CALLER_HZ = 440;
const CALLEE_HZ = 1000;
/** A frequency nobody sends: the floor the two voices are measured against. */
const CONTROL_HZ = 2000;

/** A downloaded WAV's channels, checking that the recording is only served with credentials. */
async function download(url: string): Promise<Float32Array[]> {
  assert.equal((await fetch(url)).status, 401, 'a recording must not be served without credentials');
  const auth = Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
  const res = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'audio/wav');
  const wav = decodeWav(Buffer.from(await res.arrayBuffer()));
  assert.equal(wav.sampleRate, 8000);
  return wav.samples;
}

/** Media Stream payloads (base64 µ-law) of one track as ±1 PCM. */
function trackAudio(media: { media: { track: string; payload: string } }[], track: string): Float32Array {
  const bytes = Buffer.concat(media.filter((m) => m.media.track === track).map((m) => Buffer.from(m.media.payload, 'base64')));
  return Float32Array.from(bytes, (b) => MULAW_DECODE_TABLE[b]! / 32768);
}

const count = (timeline: (number | null)[], hz: number): number => timeline.filter((t) => t === hz).length;

describe('<Dial> recordings and Media Streams on a bridged call', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  const agent = new StreamAgent();
  let dialTwiml = '';

  before(async () => {
    await app.start();
    await agent.start();
    app.route('/voice', (req, res) => twiml(dialTwiml)(req, res));
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    app.route('/rec-status', twiml(''));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await agent.stop();
    await app.stop();
  });

  /** A call held by the caller for `holdMs`, both sides speaking; resolves when both SIPp runs succeeded. */
  async function talk(dial: (uri: string) => string, holdMs: number, calleeScenario = 'uas-answer.xml'): Promise<BridgeParties> {
    app.requests.length = 0;
    const p = await startParties({
      sipPort: pb.sipPort,
      callerScenario: 'uac-te-hold.xml',
      holdMs,
      calleeScenario,
      callerHz: CALLER_HZ,
      calleeHz: CALLEE_HZ,
      beforeDial: (uri) => (dialTwiml = dial(uri)),
    });
    try {
      await waitToHear(p.calleeSink, CALLER_HZ, [CALLEE_HZ], 'the callee to hear the caller');
      const caller = await p.caller;
      assert.equal(caller.successful, 1, caller.errors);
      assert.equal((await p.callee).successful, 1, 'the callee got our BYE');
    } finally {
      await p.close();
    }
    return p;
  }

  it('record-from-answer-dual: caller (parent) on channel 1, callee on channel 2, announced by the status callback and the action', async () => {
    // A PCMA callee: the recording is of decoded audio whatever each leg's codec.
    await talk((uri) => `<Response><Dial record="record-from-answer-dual" recordingStatusCallback="/rec-status" action="/after"><Sip>${uri}</Sip></Dial></Response>`, 4000, 'uas-answer-pcma.xml');
    const status = await waitFor(() => app.requestsTo('/rec-status').find((r) => r.params.RecordingStatus === 'completed'), 10000, 'the completed recording callback');
    const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
    assert.match(status.params.RecordingSid ?? '', /^RE[0-9a-f]{32}$/);
    assert.equal(status.params.RecordingChannels, '2');
    assert.equal(status.params.RecordingSource, 'DialVerb');
    assert.equal(status.params.CallSid, action.params.CallSid, 'the recording belongs to the parent call');
    assert.equal(action.params.RecordingUrl, status.params.RecordingUrl);
    const seconds = Number(status.params.RecordingDuration);
    assert.ok(seconds >= 2 && seconds <= 5, `RecordingDuration ${status.params.RecordingDuration}`);

    const [ch1, ch2, extra] = await download(status.params.RecordingUrl!);
    assert.ok(ch1 && ch2 && !extra, 'two channels');
    assert.ok(ch1.length / 8000 >= 2, `${(ch1.length / 8000).toFixed(2)} s recorded`);
    const e1 = { caller: energyOfSamples(ch1, CALLER_HZ), callee: energyOfSamples(ch1, CALLEE_HZ) };
    const e2 = { caller: energyOfSamples(ch2, CALLER_HZ), callee: energyOfSamples(ch2, CALLEE_HZ) };
    assert.ok(e1.caller > 20 * e1.callee, `channel 1 is the caller: ${JSON.stringify(e1)}`);
    assert.ok(e2.callee > 20 * e2.caller, `channel 2 is the callee: ${JSON.stringify(e2)}`);

    // The native API lists it under the parent call, as a finished 2-channel recording.
    const list = await apiGet(pb, `/v1/recordings?callSid=${action.params.CallSid}`);
    assert.equal(list.status, 200);
    const rec = (list.body.recordings as { sid: string; channels: number; status: string; source: string }[]).find((r) => r.sid === status.params.RecordingSid);
    assert.ok(rec, JSON.stringify(list.body));
    assert.equal(rec.channels, 2);
    assert.equal(rec.status, 'completed');
  });

  it('record-from-answer (mono): one channel holding both voices', async () => {
    await talk((uri) => `<Response><Dial record="record-from-answer" recordingStatusCallback="/rec-status" action="/after"><Sip>${uri}</Sip></Dial></Response>`, 4000);
    const status = await waitFor(() => app.requestsTo('/rec-status').find((r) => r.params.RecordingStatus === 'completed'), 10000, 'the completed recording callback');
    assert.equal(status.params.RecordingChannels, '1');
    const [mono, extra] = await download(status.params.RecordingUrl!);
    assert.ok(mono && !extra, 'one channel');
    const e = { caller: energyOfSamples(mono, CALLER_HZ), callee: energyOfSamples(mono, CALLEE_HZ), control: energyOfSamples(mono, CONTROL_HZ) };
    assert.ok(e.caller > 50 * e.control && e.callee > 50 * e.control, `both voices in the mix: ${JSON.stringify(e)}`);
    // Both speak at the same level the whole time: neither voice may be a faint leak of the other.
    assert.ok(e.caller > e.callee / 10 && e.callee > e.caller / 10, `the voices are balanced: ${JSON.stringify(e)}`);
  });

  it('<Start><Stream track="both_tracks"> then <Dial>: inbound carries the caller, outbound what the caller heard (the callee)', async () => {
    const first = agent.connections.length;
    await talk((uri) => `<Response><Start><Stream url="${agent.url('/fork')}" track="both_tracks"/></Start><Dial action="/after"><Sip>${uri}</Sip></Dial></Response>`, 4000);
    const conn = await agent.connection(first);
    await conn.until(() => conn.closed, 'the stream to close at hang-up');
    const start = conn.events('start')[0];
    assert.deepEqual(start?.start.tracks, ['inbound', 'outbound']);
    const media = conn.events('media');
    const inbound = toneTimeline(trackAudio(media, 'inbound'), [CALLER_HZ, CALLEE_HZ]);
    const outbound = toneTimeline(trackAudio(media, 'outbound'), [CALLER_HZ, CALLEE_HZ]);
    // 4 s of call, most of it bridged: at least 2 s of each voice on its own track.
    assert.ok(count(inbound, CALLER_HZ) >= 10, `inbound: ${inbound.join(' ')}`);
    assert.equal(count(inbound, CALLEE_HZ), 0, `the callee leaked into inbound: ${inbound.join(' ')}`);
    assert.ok(count(outbound, CALLEE_HZ) >= 10, `outbound: ${outbound.join(' ')}`);
    // Outbound may open with ringback (440 + 480 Hz) while the callee rings, never with the caller's voice after.
    const lastCaller = outbound.lastIndexOf(CALLER_HZ);
    assert.ok(lastCaller < outbound.indexOf(CALLEE_HZ), `the caller's own voice in outbound during the bridge: ${outbound.join(' ')}`);
    assert.equal(conn.events('stop').length, 1);
  });
});
