/**
 * SRTP with SDES keys (RFC 4568) against a real softphone (issue 7): baresip 1.0 with libre's
 * `srtp.so` and `mediaenc=srtp-mand` (RTP/SAVP, plain RTP refused).
 *
 * - baresip calls Patchbay: it hears the app's <Play> (cross-correlation) and Patchbay's <Record>
 *   of baresip's microphone matches what baresip said, so both directions were decrypted. The call
 *   record says which suite protected the media, and Patchbay's SRTP counters show every received
 *   packet authenticated and decrypted: with encryption off on either side those counters would be
 *   zero (no transform) or all authentication failures, and nothing would be heard.
 * - A baresip registered as a SIP user whose policy is `required` gets a `<Dial><Client>` call with
 *   SRTP (RTP/SAVP offered, its speech heard by the caller through the bridge).
 * - A plain-RTP offer from a user whose policy is `required` is refused with 488 and a Warning.
 *
 * The calls run twice: with SIP over UDP, and with SIP over TLS (Patchbay's development
 * certificate, which baresip is given as its CA) — SRTP keys in SDP must travel encrypted, which is
 * what a real deployment does: baresip calls in over TLS with SRTP and receives a call that way.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { baresipCall, BaresipPhone, type BaresipPhoneOptions } from './harness/baresip.js';
import { runSipp } from './harness/sipp.js';
import { activePart, bestCorrelation, worstPartCorrelation } from './harness/audio-analysis.js';
import { decodeWav, encodeWav } from '../../src/media/wav.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const RATE = 8000;
const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
const SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];
/** A G.711 round trip keeps speech far above this; unrelated speech stays far below. */
const HEARD = 0.8;

function mono(path: string): Float32Array {
  const d = decodeWav(readFileSync(path));
  assert.equal(d.sampleRate, RATE, path);
  return d.samples[0]!;
}

const PLAYED = activePart(mono(join(FIXTURES, 'known-8k-reference.wav')), RATE);
const SPOKEN = activePart(mono(join(FIXTURES, 'callee-speech-8k.wav')), RATE);

/** A microphone: `leadSeconds` of silence, the clip, then silence up to `totalSeconds` (baresip hangs up at its end). */
function micWav(dir: string, name: string, clip: Float32Array, leadSeconds: number, totalSeconds: number, copies = 1): string {
  const pcm = new Int16Array(Math.round(totalSeconds * RATE));
  for (let c = 0; c < copies; c++) {
    // Copies 1 s apart: a bridge that comes up late on a loaded machine still gets one whole copy.
    const at = Math.round(leadSeconds * RATE) + c * (clip.length + RATE);
    assert.ok(at + clip.length <= pcm.length, `${name}: the clip fits`);
    for (let i = 0; i < clip.length; i++) pcm[at + i] = Math.round(clip[i]! * 32767);
  }
  const path = join(dir, name);
  writeFileSync(path, encodeWav(pcm, RATE));
  return path;
}

interface CallEvent {
  type: string;
  detail: Record<string, unknown>;
}

interface SrtpCounters {
  profile: string;
  rtpProtected: number;
  rtpUnprotected: number;
  rtcpUnprotected: number;
  authFailures: number;
  replays: number;
  malformed: number;
}

async function callEvents(sid: string): Promise<CallEvent[]> {
  const r = await waitFor(async () => {
    const res = await apiGet(pb(), `/v1/calls/${sid}`);
    return res.status === 200 && res.body.status === 'completed' ? res : null;
  }, 15000, `call ${sid} completed`);
  return r.body.events as CallEvent[];
}

/** The suite the call's media used (from the answer event and the media event) and its SRTP counters. */
function srtpOf(events: CallEvent[]): { suite: string; counters: SrtpCounters; packetsReceived: number } {
  const answered = events.find((e) => (e.type === 'sip.in' || e.type === 'sip.out') && e.detail.status === 200);
  assert.ok(answered, 'the call was answered');
  const media = events.find((e) => e.type === 'media');
  assert.ok(media, 'the media event is on record');
  const suite = media.detail.srtp;
  assert.ok(typeof suite === 'string' && SUITES.includes(suite), `media protected by an SDES suite, got ${String(suite)}`);
  assert.equal(answered.detail.srtp, suite, 'the answer event names the same suite');
  return { suite, counters: media.detail.srtpStats as SrtpCounters, packetsReceived: media.detail.packetsReceived as number };
}

/** Every packet Patchbay received was SRTP that authenticated under the agreed key (≥ `seconds` of 20-ms packets). */
function assertAllDecrypted(t: TestContext, who: string, s: ReturnType<typeof srtpOf>, seconds: number): void {
  t.diagnostic(`${who}: ${s.suite}, ${JSON.stringify(s.counters)}, ${s.packetsReceived} packets received`);
  assert.ok(s.counters.rtpUnprotected >= seconds * 50 * 0.9, `${who}: ${s.counters.rtpUnprotected} SRTP packets decrypted`);
  // A callee may send its first packets before its 200 OK (and with it the key) has been read — over
  // TLS that happened for 2 of 600: those cannot be decrypted yet. Everything after was.
  assert.ok(s.packetsReceived - s.counters.rtpUnprotected <= 5, `${who}: every RTP packet received once the keys were known was decrypted SRTP (${s.counters.rtpUnprotected} of ${s.packetsReceived})`);
  assert.equal(s.counters.authFailures, 0, `${who}: no packet failed authentication`);
  assert.ok(s.counters.rtpProtected > 0, `${who}: Patchbay sent SRTP`);
}

let server: TestPatchbay | null = null;
const pb = (): TestPatchbay => server!;


async function createUser(username: string, password: string, srtp: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${pb().httpPort}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: AUTH },
    body: JSON.stringify({ username, password, srtp }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  assert.equal((JSON.parse(text) as { srtp: string }).srtp, srtp);
}

for (const transport of ['udp', 'tls'] as const) describe(`SRTP (SDES) with baresip, SIP over ${transport.toUpperCase()}`, () => {
  const app = new AppServer();
  let work: string;
  /** Where baresip sends SIP, and how. */
  let sipPort = 0;
  let callerOptions: { mediaenc: 'srtp-mand'; transport?: 'tls'; tlsCaFile?: string } = { mediaenc: 'srtp-mand' };
  let phoneOptions: Pick<BaresipPhoneOptions, 'mediaenc' | 'transport' | 'tlsCaFile'> = { mediaenc: 'srtp-mand' };
  const uriParams = transport === 'tls' ? ';transport=tls' : '';

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'srtp-baresip-'));
    await app.start();
    app.route('/known.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav' }).end(readFileSync(join(FIXTURES, 'known-16k-stereo.wav'))));
    // The caller hears the clip, then everything it says is recorded until it hangs up.
    app.route('/play-record', twiml('<Response><Play>known.wav</Play><Record timeout="0" playBeep="false" action="/recorded"/></Response>'));
    app.route('/recorded', twiml('<Response><Hangup/></Response>'));
    app.route('/dial-bob', twiml('<Response><Dial timeout="20"><Client>bob</Client></Dial></Response>'));
    server = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/play-record'), PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5', ...(transport === 'tls' ? { PATCHBAY_TLS_PORT: '0' } : {}) });
    sipPort = pb().sipPort;
    if (transport === 'tls') {
      sipPort = pb().sipTransportPorts.tls ?? 0;
      assert.ok(sipPort > 0, 'TLS is listening');
      const tls = { transport: 'tls' as const, tlsCaFile: join(pb().dataDir, 'tls', 'dev-cert.pem') };
      callerOptions = { ...callerOptions, ...tls };
      phoneOptions = { ...phoneOptions, ...tls };
    }
  });

  after(async () => {
    await server?.dispose();
    await app.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('baresip (srtp-mand) calls in: it hears <Play>, <Record> hears it, and all media is SRTP both ways', async (t) => {
    pb().config.voiceUrl = app.url('/play-record');
    // The <Play> lasts 4.6 s; baresip speaks from 7 s to 12.5 s and hangs up at 14 s.
    const mic = micWav(work, 'caller.wav', SPOKEN, 7, 14);
    const before = app.requestsTo('/recorded').length;
    const r = await baresipCall({ target: `sip:srtp@127.0.0.1:${sipPort}${uriParams}`, micWav: mic, seconds: 25, quitWhenCallEnds: true, ...callerOptions });
    try {
      assert.ok(r.lines.some((l) => /Call established/.test(l.text)), r.log.slice(-3000));
      // baresip decrypted our SRTP: it heard the clip.
      assert.ok(r.heardWav, `baresip recorded nothing:\n${r.log.slice(-2000)}`);
      const heard = bestCorrelation(mono(r.heardWav), PLAYED);
      t.diagnostic(`baresip heard <Play>: correlation ${heard.value.toFixed(3)}`);
      assert.ok(heard.value > HEARD, `baresip heard the <Play>: ${heard.value.toFixed(3)}`);

      // We decrypted baresip's SRTP: the recording is its speech.
      const req = await waitFor(() => app.requestsTo('/recorded').slice(before)[0], 15000, 'the <Record> action');
      const res = await fetch(req.params.RecordingUrl!, { headers: { authorization: AUTH } });
      assert.equal(res.status, 200);
      const recording = decodeWav(Buffer.from(await res.arrayBuffer())).samples[0]!;
      const recorded = bestCorrelation(recording, SPOKEN);
      t.diagnostic(`<Record> of baresip's speech: correlation ${recorded.value.toFixed(3)}`);
      assert.ok(recorded.value > 0.9, `the recording is baresip's speech: ${recorded.value.toFixed(3)}`);

      const s = srtpOf(await callEvents(req.params.CallSid!));
      assertAllDecrypted(t, 'inbound call', s, 10);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('<Dial><Client> to a registered user whose policy is required: RTP/SAVP with SRTP, the callee hears the caller', async (t) => {
    await createUser('bob', 'bob-secret-password', 'required');
    pb().config.voiceUrl = app.url('/dial-bob');
    const bob = await new BaresipPhone({ registrar: sipPort, username: 'bob', password: 'bob-secret-password', micWav: micWav(work, 'bob.wav', SPOKEN, 1, 14, 2), ...phoneOptions }).start();
    let callerDir = '';
    try {
      assert.equal(await bob.registration(), '200 OK', bob.log);
      // The caller itself is plain RTP (no mediaenc): the policy is bob's, the bridge joins the two.
      const { mediaenc: _plain, ...callerTransport } = callerOptions;
      const caller = await baresipCall({ target: `sip:dial@127.0.0.1:${sipPort}${uriParams}`, micWav: micWav(work, 'dial-caller.wav', PLAYED, 1, 18, 2), seconds: 30, quitWhenCallEnds: true, ...callerTransport });
      callerDir = caller.dir;
      assert.ok(caller.lines.some((l) => /Call established/.test(l.text)), caller.log.slice(-3000));
      await bob.waitForLine(/Call established/, 5000, 'call established');
      await bob.waitForLine(/Call with \S+ terminated/, 20000, 'call end');

      // Through a bridge: scored per quarter of the speech (worstPartCorrelation says why).
      const bobHeard = worstPartCorrelation(mono(bob.heardWav()!), PLAYED);
      const callerHeard = worstPartCorrelation(mono(caller.heardWav!), SPOKEN);
      t.diagnostic(`bob heard the caller: ${bobHeard.toFixed(3)}; the caller heard bob: ${callerHeard.toFixed(3)} (worst quarter)`);
      assert.ok(bobHeard > HEARD, 'bob decrypted our SRTP');
      assert.ok(callerHeard > HEARD, 'we decrypted bob\'s SRTP and relayed it');

      const calls = await apiGet(pb(), '/v1/calls?pageSize=5');
      const child = (calls.body.calls as { sid: string; direction: string; to: string }[]).find((c) => c.direction === 'outbound-dial' && c.to === 'client:bob');
      assert.ok(child, 'the dialled leg is on record');
      const s = srtpOf(await callEvents(child.sid));
      assertAllDecrypted(t, 'dialled leg', s, 6);
      // The caller's own leg stayed plain RTP: the policy is per leg.
      const parent = (await callEvents((calls.body.calls as { sid: string; direction: string }[]).find((c) => c.direction === 'inbound')!.sid)).find((e) => e.type === 'media');
      assert.equal(parent?.detail.srtp, null);
    } finally {
      await bob.dispose();
      if (callerDir) rmSync(callerDir, { recursive: true, force: true });
    }
  });

  it('a REST call to client:bob (policy required) is offered RTP/SAVP: bob answers with SRTP and hears the <Play>', async (t) => {
    app.route('/play-only', twiml('<Response><Play>known.wav</Play><Hangup/></Response>'));
    const bob = await new BaresipPhone({ registrar: sipPort, username: 'bob', password: 'bob-secret-password', micWav: micWav(work, 'bob-rest.wav', SPOKEN, 1, 12), ...phoneOptions }).start();
    try {
      assert.equal(await bob.registration(), '200 OK', bob.log);
      const res = await fetch(`http://127.0.0.1:${pb().httpPort}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls.json`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: 'client:bob', From: '+15005550006', Url: app.url('/play-only') }).toString(),
      });
      const call = (await res.json()) as { sid: string };
      assert.equal(res.status, 201, JSON.stringify(call));
      await bob.waitForLine(/Call with \S+ terminated/, 30000, 'call end');
      const heard = worstPartCorrelation(mono(bob.heardWav()!), PLAYED);
      t.diagnostic(`bob heard <Play>: ${heard.toFixed(3)} (worst quarter)`);
      assert.ok(heard > HEARD, 'bob decrypted our SRTP');
      assertAllDecrypted(t, 'REST call', srtpOf(await callEvents(call.sid)), 3);
    } finally {
      await bob.dispose();
    }
  });

  // The inbound router checks the offer against the caller's policy (a SIP user's, a carrier's) before any webhook.
  // Over UDP only: SIPp here has no TLS, and the policy check happens after the transport.
  if (transport === 'udp') it('a plain-RTP offer from a user whose policy is required gets 488 Not Acceptable Here with a Warning', async () => {
    await createUser('carol', 'carol-secret-password', 'required');
    const before = (await apiGet(pb(), '/v1/calls?pageSize=50')).body.calls.length as number;
    const r = await runSipp({
      scenario: 'uac-user-expect-488.xml',
      target: `127.0.0.1:${pb().sipPort}`,
      calls: 1,
      keys: { caller: 'carol' },
      extra: ['-s', 'srtp', '-au', 'carol', '-ap', 'carol-secret-password'],
      traceMessages: true,
    });
    assert.equal(r.successful, 1, `${r.errors}\n${r.messages.join('\n').slice(-3000)}`);
    const refusal = r.messages.find((m) => /SIP\/2\.0 488/.test(m));
    assert.ok(refusal, 'the 488 is in the trace');
    assert.match(refusal, /^Warning: 302 \S+ "Incompatible transport protocol"/m);
    // Nothing was answered: no call with media on record for it.
    const calls = (await apiGet(pb(), '/v1/calls?pageSize=50')).body.calls as { status: string; sipResponseCode: number | null }[];
    for (const c of calls.slice(0, calls.length - before)) assert.notEqual(c.status, 'completed');
  });
});
