/**
 * `<Dial>` bridge features end to end, as the people on the call notice them: a SIPp caller dialled
 * to a SIPp callee, each with a test RTP endpoint that speaks a tone (caller 440 Hz, callee 1 kHz)
 * and presses keys as RFC 4733 events.
 * - DTMF crosses the bridge both ways as telephone-events, once per key press;
 * - hangupOnStar: the caller's `*` drops the callee (our BYE), the caller goes on to the action
 *   document (hears its <Play>, then our BYE);
 * - timeLimit: the callee gets our BYE 2 s after answering, the action hears DialCallDuration 2;
 * - a whisper `url` is heard by the callee alone before the bridge; a whisper that hangs up refuses
 *   the call and the caller is never bridged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { decodePackets, energyAt, startParties, telephoneEvents, toneTimeline, toneWav, waitToHear, type BridgeParties } from './harness/tones.js';

const CALLER_HZ = 440;
const CALLEE_HZ = 1000;
const WHISPER_HZ = 2000;
const TONES = [CALLER_HZ, CALLEE_HZ, WHISPER_HZ];

const nonEmpty = <T>(xs: T[]): T[] | null => (xs.length > 0 ? xs : null);

describe('<Dial> bridge features with SIPp peers', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let dialTwiml = '';

  before(async () => {
    await app.start();
    app.route('/voice', (req, res) => twiml(dialTwiml)(req, res));
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    const whisperWav = toneWav(WHISPER_HZ, 1);
    app.route('/whisper.wav', (_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(whisperWav.length) });
      res.end(whisperWav);
    });
    app.route('/after-star', twiml(`<Response><Play>${app.url('/whisper.wav')}</Play><Hangup/></Response>`));
    app.route('/whisper', twiml(`<Response><Play>${app.url('/whisper.wav')}</Play></Response>`));
    app.route('/whisper-refuse', twiml('<Response><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  /** Places the call: `scenario` for the caller (`holdMs` for uac-te-hold), uas-answer for the callee. */
  function call(dial: (uri: string) => string, callerScenario: 'uac-te-hold.xml' | 'uac-te-awaits-bye.xml', holdMs = 0): Promise<BridgeParties> {
    app.requests.length = 0;
    return startParties({
      sipPort: pb.sipPort,
      callerScenario,
      holdMs,
      callerHz: CALLER_HZ,
      calleeHz: CALLEE_HZ,
      beforeDial: (uri) => (dialTwiml = dial(uri)),
    });
  }

  /** Both directions of the bridge carry audio: each side hears the other's tone. */
  async function bridged(p: BridgeParties): Promise<void> {
    await waitToHear(p.calleeSink, CALLER_HZ, [CALLEE_HZ, WHISPER_HZ], 'the callee to hear the caller');
    await waitToHear(p.callerSink, CALLEE_HZ, [CALLER_HZ, WHISPER_HZ], 'the caller to hear the callee');
  }

  it('relays DTMF across the bridge as RFC 4733 events, both ways, once per key', async () => {
    const p = await call((uri) => `<Response><Dial action="/after" timeout="10"><Sip>${uri}</Sip></Dial></Response>`, 'uac-te-hold.xml', 6000);
    try {
      await bridged(p);
      await p.callerVoice.press('5');
      const five = await waitFor(() => nonEmpty(telephoneEvents(p.calleeSink.packets).filter((e) => e.event === 5 && e.end)), 5000, "the caller's 5 at the callee");
      await p.calleeVoice.press('7');
      const seven = await waitFor(() => nonEmpty(telephoneEvents(p.callerSink.packets).filter((e) => e.event === 7 && e.end)), 5000, "the callee's 7 at the caller");
      const caller = await p.caller;
      assert.equal(caller.successful, 1, caller.errors);
      assert.equal((await p.callee).successful, 1, 'the callee got our BYE');
      // One key press is one event (one RTP timestamp) on the far side, started with the marker bit.
      const atCallee = telephoneEvents(p.calleeSink.packets);
      const atCaller = telephoneEvents(p.callerSink.packets);
      assert.ok(five.length > 0 && seven.length > 0);
      assert.equal(new Set(atCallee.filter((e) => e.event === 5).map((e) => e.timestamp)).size, 1, 'one event for one press of 5');
      assert.equal(new Set(atCaller.filter((e) => e.event === 7).map((e) => e.timestamp)).size, 1, 'one event for one press of 7');
      assert.ok(atCallee.some((e) => e.event === 5 && e.marker), 'the 5 event begins with the marker bit');
      assert.ok(atCaller.some((e) => e.event === 7 && e.marker), 'the 7 event begins with the marker bit');
      // Each key reached only the other side: no echo of a press back to the one who pressed it.
      assert.deepEqual([...new Set(atCallee.map((e) => e.event))], [5]);
      assert.deepEqual([...new Set(atCaller.map((e) => e.event))], [7]);
    } finally {
      await p.close();
    }
  });

  it('hangupOnStar: the caller\'s * drops the callee, the caller stays and runs the action document', async () => {
    const p = await call((uri) => `<Response><Dial hangupOnStar="true" action="/after-star"><Sip>${uri}</Sip></Dial></Response>`, 'uac-te-awaits-bye.xml');
    try {
      await bridged(p);
      await p.callerVoice.press('*');
      const starAt = p.callerSink.packets.length;
      const calleeResult = await p.callee;
      assert.equal(calleeResult.successful, 1, `the callee got our BYE: ${calleeResult.errors}`);
      const caller = await p.caller;
      assert.equal(caller.successful, 1, `the caller stayed until the action's <Hangup/>: ${caller.errors}`);
      // After the star the caller heard the action's <Play> (2 kHz), for about its second.
      const afterStar = toneTimeline(decodePackets(p.callerSink.packets.slice(starAt)), TONES);
      const played = afterStar.filter((t) => t === WHISPER_HZ).length;
      assert.ok(played >= 3 && played <= 7, `the caller heard the action's 1 s <Play> in ${played} windows of 200 ms: ${afterStar.join(' ')}`);
      // The star ended the bridge; it was not relayed to the callee.
      assert.ok(!telephoneEvents(p.calleeSink.packets).some((e) => e.event === 10), 'the callee got the * as a telephone-event');
    } finally {
      await p.close();
    }
    const action = await waitFor(() => app.requestsTo('/after-star')[0], 5000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    assert.equal(action.params.DialBridged, 'true');
    assert.match(action.params.DialCallSid ?? '', /^CA[0-9a-f]{32}$/);
    assert.match(action.params.DialCallDuration ?? '', /^\d+$/);
    assert.equal(action.params.CallStatus, 'in-progress', 'the caller is still on the line when the action is requested');
  });

  it('timeLimit: the callee gets our BYE 2 s after answering and the action hears DialCallDuration 2', async () => {
    const p = await call((uri) => `<Response><Dial timeLimit="2" action="/after"><Sip>${uri}</Sip></Dial></Response>`, 'uac-te-awaits-bye.xml');
    try {
      const calleeResult = await p.callee;
      assert.equal(calleeResult.successful, 1, `the callee got our BYE: ${calleeResult.errors}`);
      const caller = await p.caller;
      assert.equal(caller.successful, 1, `the caller went on to the action's <Hangup/>: ${caller.errors}`);
      // Our RTP to the callee runs from its answer to our BYE.
      const pkts = p.calleeSink.packets;
      const heardMs = pkts.at(-1)!.at - pkts[0]!.at;
      assert.ok(heardMs >= 1800 && heardMs <= 4000, `the callee was connected for ${heardMs.toFixed(0)} ms`);
    } finally {
      await p.close();
    }
    const action = await waitFor(() => app.requestsTo('/after')[0], 5000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    const duration = Number(action.params.DialCallDuration);
    assert.ok(duration >= 1 && duration <= 3, `DialCallDuration ${action.params.DialCallDuration}`);
    // From the child leg's own record: answered, then cut by the time limit no sooner than 2 s later.
    const child = await waitFor(async () => {
      const r = await apiGet(pb, `/v1/calls/${action.params.DialCallSid}`);
      return r.status === 200 && r.body.status === 'completed' ? r.body : null;
    }, 10000, 'the child call record');
    const events = child.events as { at: string; type: string; detail: Record<string, unknown> }[];
    const answered = events.find((e) => e.type === 'status' && e.detail.to === 'in-progress');
    const limited = events.find((e) => e.type === 'time-limit');
    assert.ok(answered && limited, JSON.stringify(events.map((e) => e.type)));
    const limitMs = Date.parse(limited.at) - Date.parse(answered.at);
    assert.ok(limitMs >= 2000 && limitMs < 3500, `time limit hit ${limitMs} ms after the answer`);
  });

  it('a whisper url is heard by the callee alone, before the bridge; then each hears the other', async () => {
    const p = await call((uri) => `<Response><Dial action="/after"><Sip url="/whisper">${uri}</Sip></Dial></Response>`, 'uac-te-hold.xml', 5000);
    try {
      const caller = await p.caller;
      assert.equal(caller.successful, 1, caller.errors);
      assert.equal((await p.callee).successful, 1, 'the callee got our BYE');
    } finally {
      await p.close();
    }
    const atCallee = toneTimeline(decodePackets(p.calleeSink.packets), TONES);
    const atCaller = toneTimeline(decodePackets(p.callerSink.packets), TONES);
    const firstCaller = atCallee.indexOf(CALLER_HZ);
    const lastWhisper = atCallee.lastIndexOf(WHISPER_HZ);
    const whisperWindows = atCallee.filter((t) => t === WHISPER_HZ).length;
    assert.ok(whisperWindows >= 3, `the callee heard the whisper in ${whisperWindows} windows: ${atCallee.join(' ')}`);
    assert.ok(firstCaller > lastWhisper, `the callee heard the caller only after the whisper: ${atCallee.join(' ')}`);
    assert.ok(atCallee.filter((t) => t === CALLER_HZ).length >= 5, `then the callee heard the caller: ${atCallee.join(' ')}`);
    assert.ok(!atCaller.includes(WHISPER_HZ), `the caller heard the whisper: ${atCaller.join(' ')}`);
    assert.ok(atCaller.filter((t) => t === CALLEE_HZ).length >= 5, `the caller heard the callee: ${atCaller.join(' ')}`);
    // Not connected yet: while the callee hears the whisper, the caller hears ringback (US: 440 + 480 Hz).
    const whisperPackets = p.calleeSink.packets.filter((pk) => energyAt([pk], WHISPER_HZ) > 1e-3);
    const during = p.callerSink.packets.filter((pk) => pk.at > whisperPackets[0]!.at + 100 && pk.at < whisperPackets[whisperPackets.length - 1]!.at - 100);
    assert.ok(during.length > 10 && energyAt(during, 480) > 10 * energyAt(during, CALLEE_HZ), 'the caller heard ringback during the whisper');
    const action = await waitFor(() => app.requestsTo('/after')[0], 5000, 'the Dial action');
    assert.equal(action.params.DialCallStatus, 'completed');
    assert.equal(action.params.DialBridged, 'true');
    // The whisper document was fetched for the called party's leg, not the caller's (Twilio: ParentCallSid on child legs).
    const whisper = app.requestsTo('/whisper')[0]!;
    assert.equal(whisper.params.CallSid, action.params.DialCallSid);
    assert.equal(whisper.params.ParentCallSid, action.params.CallSid);
    assert.equal(whisper.params.Direction, 'outbound-dial');
  });

  it('a whisper that hangs up refuses the call: the callee gets our BYE, the caller is never bridged', async () => {
    const p = await call((uri) => `<Response><Dial action="/after"><Sip url="/whisper-refuse">${uri}</Sip></Dial></Response>`, 'uac-te-awaits-bye.xml');
    try {
      const calleeResult = await p.callee;
      assert.equal(calleeResult.successful, 1, `the callee got our BYE: ${calleeResult.errors}`);
      const caller = await p.caller;
      assert.equal(caller.successful, 1, `the caller went on to the action's <Hangup/>: ${caller.errors}`);
    } finally {
      await p.close();
    }
    const atCallee = toneTimeline(decodePackets(p.calleeSink.packets), TONES);
    const atCaller = toneTimeline(decodePackets(p.callerSink.packets), TONES);
    assert.ok(!atCallee.includes(CALLER_HZ), `the refusing callee heard the caller: ${atCallee.join(' ')}`);
    assert.ok(!atCaller.includes(CALLEE_HZ), `the caller heard the refusing callee: ${atCaller.join(' ')}`);
    const action = await waitFor(() => app.requestsTo('/after')[0], 5000, 'the Dial action');
    // The called party answered, then refused: Twilio reports the answered leg as completed, and
    // DialBridged=false tells the app it was never connected.
    assert.equal(action.params.DialCallStatus, 'completed');
    assert.equal(action.params.DialBridged, 'false');
    assert.match(action.params.DialCallSid ?? '', /^CA[0-9a-f]{32}$/, 'the refusing leg is named');
  });
});
