/**
 * `<Dial><Client>` between two real softphones (issue 6, first Done-when): baresip B registers as
 * the SIP user `bob` (created through /v1/users, digest MD5: baresip 1.0 cannot answer SHA-256) and
 * auto-answers; baresip A calls Patchbay, whose app dials bob. Each phone's microphone is a
 * different speech clip, and each phone's speaker is dumped to a WAV: cross-correlation shows that
 * B heard A's speech and A heard B's, and — against controls that were never sent to that phone
 * (its own speech, and the other's speech played backwards) — that the match is not chance or echo.
 * Either side hanging up ends both legs; the action gets DialCallStatus=completed with the bridged
 * time, measured here from B's own log, as DialCallDuration.
 *
 * Fixtures: the caller speaks known-8k-reference.wav (see fixtures/README.md); bob speaks
 * callee-speech-8k.wav, Debian's `espeak-ng -v en-us+f3 "Hello from the second phone. Seven, eight,
 * nine, ten. Please stay on the line."` converted by `sox -r 8000 -c 1 -b 16`.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { baresipCall, BaresipPhone, type BaresipLine } from './harness/baresip.js';
import { activePart, bestCorrelation, toFloat, worstPartCorrelation } from './harness/audio-analysis.js';
import { decodeWav, encodeWav } from '../../src/media/wav.js';
import { EspeakTts } from '../../src/speech/espeak-tts.js';
import { resample } from '../../src/media/resampler.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const RATE = 8000;
const BOB_PASSWORD = 'bob-secret-password';
const GOODBYE = 'The other party has hung up. Goodbye.';
/** "Heard it": a G.711 round trip through the bridge keeps speech far above this (≈0.99 measured). */
const HEARD = 0.8;
/** "Did not hear it": unrelated speech correlates well below this. */
const NOT_HEARD = 0.35;

function mono(path: string): Float32Array {
  const d = decodeWav(readFileSync(path));
  assert.equal(d.sampleRate, RATE, path);
  return d.samples[0]!;
}

/** The sounding part of each phone's speech clip (what the other phone must hear). */
const CALLER_SPEECH = activePart(mono(join(FIXTURES, 'known-8k-reference.wav')), RATE);
const CALLEE_SPEECH = activePart(mono(join(FIXTURES, 'callee-speech-8k.wav')), RATE);

/**
 * A microphone WAV: 1 s of silence, the clip, 1 s of silence, the clip again, then silence up to
 * `totalSeconds`. The lead silence and the second copy make sure the other phone hears at least
 * one whole copy even if its side of the bridge comes up late on a loaded machine.
 */
function micWav(dir: string, name: string, clip: Float32Array, totalSeconds: number): string {
  const pcm = new Int16Array(Math.round(totalSeconds * RATE));
  const put = (at: number): void => {
    for (let i = 0; i < clip.length && at + i < pcm.length; i++) pcm[at + i] = Math.round(clip[i]! * 32767);
  };
  put(RATE);
  put(2 * RATE + clip.length);
  assert.ok(3 * RATE + 2 * clip.length <= pcm.length, `${name}: ${totalSeconds} s holds both copies`);
  const path = join(dir, name);
  writeFileSync(path, encodeWav(pcm, RATE));
  return path;
}

function reversed(x: Float32Array): Float32Array {
  return x.slice().reverse();
}

interface Hearing {
  /** The worst quarter of the expected speech, each quarter at its best match in the dump. */
  expected: number;
  /** Where the expected speech best matched, in samples of the dump. */
  expectedLag: number;
  own: number;
  backwards: number;
}

/**
 * Correlations of what a phone heard with what it should hear (its worst quarter, each matched
 * anywhere in the dump: see worstPartCorrelation) and with two controls it never got.
 */
function hearing(heardWav: string | null, expected: Float32Array, ownSpeech: Float32Array): Hearing {
  assert.ok(heardWav, 'the phone dumped what it heard');
  const heard = mono(heardWav);
  const match = bestCorrelation(heard, expected);
  return {
    expected: worstPartCorrelation(heard, expected),
    expectedLag: match.lag,
    own: bestCorrelation(heard, ownSpeech).value,
    backwards: bestCorrelation(heard, reversed(expected)).value,
  };
}

function assertHeard(t: TestContext, who: string, c: Hearing): void {
  const text = `${who}: correlation with the other phone's speech ${c.expected.toFixed(3)} (worst quarter), own speech ${c.own.toFixed(3)}, the other's backwards ${c.backwards.toFixed(3)}`;
  t.diagnostic(text);
  assert.ok(c.expected > HEARD, `${text}: the other phone's speech`);
  assert.ok(c.own < NOT_HEARD, `${text}: its own speech came back (echo)`);
  assert.ok(c.backwards < NOT_HEARD, `${text}: a control never sent matches`);
}

/** Seconds between two of a phone's log lines (the bridged time as that phone saw it). */
function secondsBetween(from: BaresipLine, to: BaresipLine): number {
  return (to.at - from.at) / 1000;
}

describe('<Dial><Client> between two baresip phones', () => {
  const app = new AppServer();
  let pb: TestPatchbay;
  let work: string;
  let goodbye: Float32Array;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dial-baresip-'));
    await app.start();
    app.route('/voice', twiml('<Response><Dial action="/after" timeout="20"><Client>bob</Client></Dial></Response>'));
    app.route('/after', twiml(`<Response><Say voice="woman">${GOODBYE}</Say><Hangup/></Response>`));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5' });
    const res = await fetch(`http://127.0.0.1:${pb.httpPort}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64') },
      body: JSON.stringify({ username: 'bob', password: BOB_PASSWORD }),
    });
    assert.equal(res.status, 201, await res.text());
    // What the caller should hear after bob hangs up: the action document's <Say>.
    const tts = new EspeakTts();
    const said = await tts.synthesize({ text: GOODBYE, voice: 'woman', language: 'en-US' });
    await tts.close?.();
    goodbye = activePart(resample(toFloat(said.samples), said.sampleRate, RATE), RATE);
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** bob's phone, registered (the API lists it) before the caller dials. */
  async function registeredBob(mic: string): Promise<BaresipPhone> {
    const bob = await new BaresipPhone({ registrar: pb.sipPort, username: 'bob', password: BOB_PASSWORD, micWav: mic }).start();
    assert.equal(await bob.registration(), '200 OK', bob.log);
    const users = await apiGet(pb, '/v1/users');
    const sid = (users.body.users as { sid: string; username: string }[]).find((u) => u.username === 'bob')!.sid;
    await waitFor(async () => (await apiGet(pb, `/v1/users/${sid}/registrations`)).body.registrations.length === 1, 10000, 'bob listed as registered');
    return bob;
  }

  /** The /after request, its child record (completed, outbound-dial, the caller's child). */
  async function dialOutcome(): Promise<{ params: Record<string, string>; child: Record<string, unknown> }> {
    const action = await waitFor(() => app.requestsTo('/after')[0], 15000, 'the Dial action');
    const child = await waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${action.params.DialCallSid}`);
      return r.status === 200 && r.body.status === 'completed' ? (r.body as Record<string, unknown>) : null;
    }, 15000, 'the child call record completed');
    assert.equal(child.direction, 'outbound-dial');
    assert.equal(child.parentCallSid, action.params.CallSid);
    assert.equal(child.to, 'client:bob');
    return { params: action.params, child };
  }

  it('the caller hangs up first: both heard each other, bob gets the BYE, the action gets completed with the bridged time', async (t) => {
    app.requests.length = 0;
    // A talks for 15 s then hangs up (end of its mic); B would talk for 40 s.
    const bob = await registeredBob(micWav(work, 'bob-long.wav', CALLEE_SPEECH, 40));
    let callerDir = '';
    try {
      const caller = await baresipCall({ target: `sip:dial@127.0.0.1:${pb.sipPort}`, micWav: micWav(work, 'caller-short.wav', CALLER_SPEECH, 15), seconds: 60, quitWhenCallEnds: true });
      callerDir = caller.dir;
      assert.ok(caller.lines.some((l) => /Call established/.test(l.text)), caller.log);
      assert.ok(caller.lines.some((l) => /audio error \(0,end of file\)/.test(l.text)), `the caller hung up at the end of its mic:\n${caller.log}`);

      // bob's leg ends by Patchbay's BYE ("reset by peer"), not by bob.
      const established = await bob.waitForLine(/Call established/, 1000, 'call established');
      const ended = await bob.waitForLine(/Call with \S+ terminated/, 15000, 'call end');
      assert.ok(bob.lines.some((l) => /session closed: Connection reset by peer/.test(l.text)), `bob got a BYE:\n${bob.log}`);
      assert.ok(!bob.lines.some((l) => /audio error/.test(l.text)), 'bob did not hang up himself');

      assertHeard(t, 'bob', hearing(bob.heardWav(), CALLER_SPEECH, CALLEE_SPEECH));
      assertHeard(t, 'caller', hearing(caller.heardWav, CALLEE_SPEECH, CALLER_SPEECH));

      const { params, child } = await dialOutcome();
      assert.equal(params.DialCallStatus, 'completed');
      assert.equal(params.DialBridged, 'true');
      // Twilio sends the SIP parameters for <Sip>/<Number> legs only, not for a <Client>.
      assert.equal(params.DialSipResponseCode, undefined);
      // Patchbay hung up bob's leg because the caller left (not a REST redirect of the caller).
      assert.equal(child.endReason, 'caller-hangup');
      const bridged = secondsBetween(established, ended);
      const duration = Number(params.DialCallDuration);
      assert.ok(bridged > 13, `bridged ${bridged} s: about the caller's 15-s mic`);
      t.diagnostic(`DialCallDuration ${duration} s, bridged ${bridged.toFixed(2)} s (bob's log)`);
      assert.ok(Math.abs(duration - bridged) <= 1.5, `DialCallDuration ${duration} s vs bridged ${bridged.toFixed(2)} s seen by bob`);
      await waitFor(() => pb.registry.size === 0, 10000, 'both legs gone from the registry');
    } finally {
      await bob.dispose();
      if (callerDir) rmSync(callerDir, { recursive: true, force: true });
    }
  });

  it('bob hangs up first: both heard each other, the caller goes on with the action document (<Say>, <Hangup>)', async (t) => {
    app.requests.length = 0;
    // B talks for 16 s then hangs up (end of its mic); A's mic would last 45 s.
    const bob = await registeredBob(micWav(work, 'bob-short.wav', CALLEE_SPEECH, 16));
    let callerDir = '';
    try {
      const caller = await baresipCall({ target: `sip:dial@127.0.0.1:${pb.sipPort}`, micWav: micWav(work, 'caller-long.wav', CALLER_SPEECH, 45), seconds: 90, quitWhenCallEnds: true });
      callerDir = caller.dir;
      const callerUp = caller.lines.find((l) => /Call established/.test(l.text));
      const callerDown = caller.lines.find((l) => /Call with \S+ terminated/.test(l.text));
      assert.ok(callerUp && callerDown, caller.log);
      // The caller's call was ended by Patchbay's BYE after the action document, long before its mic ran out.
      assert.ok(caller.lines.some((l) => /session closed: Connection reset by peer/.test(l.text)), `the caller got a BYE:\n${caller.log}`);
      assert.ok(!caller.lines.some((l) => /audio error/.test(l.text)), 'the caller did not hang up itself');
      assert.ok(secondsBetween(callerUp, callerDown) < 35, `the caller's call lasted ${secondsBetween(callerUp, callerDown)} s`);

      // bob ended his leg himself (end of his mic), without a BYE from Patchbay.
      const established = await bob.waitForLine(/Call established/, 1000, 'call established');
      const ended = await bob.waitForLine(/Call with \S+ terminated/, 1000, 'call end');
      assert.ok(bob.lines.some((l) => /audio error \(0,end of file\)/.test(l.text)), `bob hung up:\n${bob.log}`);
      assert.ok(!bob.lines.some((l) => /Connection reset by peer/.test(l.text)), 'bob got no BYE');

      assertHeard(t, 'bob', hearing(bob.heardWav(), CALLER_SPEECH, CALLEE_SPEECH));
      const callerHeard = hearing(caller.heardWav, CALLEE_SPEECH, CALLER_SPEECH);
      assertHeard(t, 'caller', callerHeard);
      // Then the caller heard the action's <Say>, after bob's speech.
      const heard = mono(caller.heardWav!);
      const said = bestCorrelation(heard, goodbye);
      const bobAt = callerHeard.expectedLag;
      t.diagnostic(`caller: <Say> correlation ${said.value.toFixed(3)} at ${(said.lag / RATE).toFixed(2)} s, bob's speech at ${(bobAt / RATE).toFixed(2)} s`);
      assert.ok(said.value > HEARD, `the caller heard the <Say>: ${said.value.toFixed(3)}`);
      assert.ok(said.lag > bobAt + CALLEE_SPEECH.length, `the <Say> (at ${said.lag / RATE} s) came after bob's speech (at ${bobAt / RATE} s)`);

      const { params, child } = await dialOutcome();
      assert.equal(params.DialCallStatus, 'completed');
      assert.equal(params.DialBridged, 'true');
      // Call names any BYE from the far end 'caller-hangup', also on a dialled leg (there: bob).
      assert.equal(child.endReason, 'caller-hangup');
      const bridged = secondsBetween(established, ended);
      const duration = Number(params.DialCallDuration);
      assert.ok(bridged > 14, `bridged ${bridged} s: about bob's 16-s mic`);
      t.diagnostic(`DialCallDuration ${duration} s, bridged ${bridged.toFixed(2)} s (bob's log)`);
      assert.ok(Math.abs(duration - bridged) <= 1.5, `DialCallDuration ${duration} s vs bridged ${bridged.toFixed(2)} s seen by bob`);
      const parent = await waitFor(async () => {
        const r = await apiGet(pb, `/v1/calls/${params.CallSid}`);
        return r.status === 200 && r.body.status === 'completed' ? (r.body as Record<string, unknown>) : null;
      }, 15000, 'the caller record completed');
      assert.equal(parent.endReason, 'hangup-verb');
      await waitFor(() => pb.registry.size === 0, 10000, 'both legs gone from the registry');
    } finally {
      await bob.dispose();
      if (callerDir) rmSync(callerDir, { recursive: true, force: true });
    }
  });
});
