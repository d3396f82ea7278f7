/**
 * DTMF into <Gather> from a real SIP client (SIPp), in each of the three ways carriers send it:
 * RFC 4733 telephone-events (SIPp's own captures), SIP INFO (dtmf-relay and dtmf bodies) and in-band
 * tones (a capture of µ-law audio carrying the key tones, for a caller that offers no
 * telephone-event). The app sees the digits in the action request with Twilio's parameters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { writeDtmfScenario, type DtmfStep } from './harness/dtmf-scenario.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { dtmfTone } from '../../src/media/dtmf-tone-generator.js';
import { MULAW_DECODE_TABLE } from '../../src/media/g711.js';
import { TelephoneEventReceiver, TelephoneEventSender } from '../../src/media/dtmf-rfc4733.js';
import { GoertzelDtmfDetector } from '../../src/media/dtmf-goertzel.js';
import { RtpSink } from './harness/rtp-sink.js';

const DTMF_CAPTURES = fileURLToPath(new URL('../fixtures/dtmf/', import.meta.url));
const capture = (name: string): DtmfStep => ({ pcap: join(DTMF_CAPTURES, `dtmf_2833_${name}.pcap`), durationMs: 400 });

/** A capture of PCMU audio carrying `digits` as in-band tones (120 ms on, 120 ms off), 20 ms per packet. */
function inbandCapture(digits: string): DtmfStep {
  const frames: Int16Array[] = [];
  const silence = (ms: number): void => {
    for (let i = 0; i < ms / 20; i++) frames.push(new Int16Array(160));
  };
  silence(200);
  for (const d of digits) {
    const tone = dtmfTone(d, 120);
    for (let i = 0; i < tone.length; i += 160) frames.push(tone.subarray(i, i + 160));
    silence(120);
  }
  silence(200);
  const pcm = new Int16Array(frames.length * 160);
  frames.forEach((f, i) => pcm.set(f, i * 160));
  const { path, durationMs } = writeAudioPcap(pcm);
  return { pcap: path, durationMs: durationMs + 200 };
}

describe('DTMF into <Gather> from SIPp', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    app.route('/digits', twiml('<Response><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  async function call(telephoneEvent: boolean, steps: DtmfStep[]): Promise<any> {
    const before = app.requestsTo('/digits').length;
    const scenario = writeDtmfScenario({ telephoneEvent, steps });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 40 });
    assert.equal(r.failed, 0, r.errors + r.stderr);
    await waitFor(() => pb.registry.size === 0, 10000, 'call end');
    const list = await apiGet(pb, '/v1/calls?pageSize=1');
    const rec = (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
    const requests = app.requestsTo('/digits').slice(before);
    return { rec, requests };
  }

  const dtmfEvents = (rec: any): any[] => rec.events.filter((e: any) => e.type === 'dtmf').map((e: any) => e.detail);

  it('RFC 4733 events: digits until finishOnKey, the key itself left out of Digits', async () => {
    app.route('/voice', twiml('<Response><Gather action="/digits"><Say>Please enter your account number, then press the pound key.</Say></Gather><Say>We did not get that.</Say></Response>'));
    const { rec, requests } = await call(true, [{ pauseMs: 300 }, capture('1'), capture('2'), capture('pound')]);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].params.Digits, '12');
    assert.equal(requests[0].params.FinishedOnKey, '#');
    assert.equal(requests[0].params.CallSid, rec.sid);
    // Each capture repeats its end packet: every key is still reported exactly once.
    assert.deepEqual(dtmfEvents(rec).map((d) => `${d.digit}:${d.source}`), ['1:rfc4733', '2:rfc4733', '#:rfc4733']);
  });

  it('numDigits ends the gather by itself; later keys do not count', async () => {
    app.route('/voice', twiml('<Response><Gather numDigits="2" action="/digits"><Say>Enter two digits.</Say></Gather></Response>'));
    const { requests } = await call(true, [{ pauseMs: 300 }, capture('4'), capture('5'), capture('6')]);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].params.Digits, '45');
    assert.equal(requests[0].params.FinishedOnKey, '');
  });

  it('SIP INFO (application/dtmf-relay and application/dtmf), ended by the timeout', async () => {
    app.route('/voice', twiml('<Response><Gather timeout="1" action="/digits"><Say>Enter your code.</Say></Gather></Response>'));
    const { rec, requests } = await call(true, [
      { pauseMs: 300 },
      { info: { contentType: 'application/dtmf-relay', body: 'Signal=7\r\nDuration=160' } },
      { pauseMs: 200 },
      { info: { contentType: 'application/dtmf', body: '8' } },
    ]);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].params.Digits, '78');
    assert.equal(requests[0].params.FinishedOnKey, '');
    assert.deepEqual(dtmfEvents(rec).map((d) => `${d.digit}:${d.source}`), ['7:info', '8:info']);
  });

  it('in-band tones when the caller offers no telephone-event', async () => {
    app.route('/voice', twiml('<Response><Gather numDigits="3" action="/digits"><Say>Enter three digits.</Say></Gather></Response>'));
    const { rec, requests } = await call(false, [{ pauseMs: 300 }, inbandCapture('369')]);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].params.Digits, '369');
    assert.deepEqual(dtmfEvents(rec).map((d) => `${d.digit}:${d.source}`), ['3:inband', '6:inband', '9:inband']);
  });

  it('no input: the timeout falls through to the next verb without calling the action', async () => {
    app.route('/voice', twiml('<Response><Gather timeout="1" action="/digits"><Say>Press a key.</Say></Gather><Say>Goodbye.</Say></Response>'));
    const { rec, requests } = await call(true, []);
    assert.equal(requests.length, 0);
    const verbs = rec.events.filter((e: any) => e.type === 'verb.start').map((e: any) => e.detail.verb);
    assert.deepEqual(verbs, ['gather', 'say']);
    assert.equal(rec.events.find((e: any) => e.type === 'gather.result').detail.reason, 'timeout');
  });

  it('actionOnEmptyResult requests the action with empty Digits', async () => {
    app.route('/voice', twiml('<Response><Gather timeout="1" actionOnEmptyResult="true" action="/digits"><Say>Press a key.</Say></Gather></Response>'));
    const { requests } = await call(true, []);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].params.Digits, '');
  });

  it('a key pressed during a nested <Say> stops the prompt within 100 ms (barge-in)', async () => {
    app.route('/voice', twiml('<Response><Gather numDigits="1" action="/digits"><Say>Thank you for calling. This prompt is deliberately long, so that the caller has plenty of time to interrupt it with a key press, exactly as impatient callers do every day.</Say></Gather></Response>'));
    const sink = await new RtpSink().start();
    try {
      const scenario = writeDtmfScenario({ telephoneEvent: true, rtpSinkPort: sink.port, steps: [{ pauseMs: 15000 }] });
      const before = app.requestsTo('/digits').length;
      const sipp = runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 40 });
      const audible = (p: { payloadType: number; payload: Buffer }): boolean => {
        if (p.payloadType !== 0) return false;
        let energy = 0;
        for (const b of p.payload) energy += Math.abs(MULAW_DECODE_TABLE[b]!);
        return energy / p.payload.length > 100;
      };
      // Press once the prompt has been audible for a while.
      await waitFor(() => sink.packets.filter(audible).length >= 40, 20000, 'prompt audio');
      const burst = new TelephoneEventSender().packetsFor('5', 160_000, { durationMs: 120 });
      const pressedAt = performance.now();
      for (const p of burst.packets) {
        await new Promise((r) => setTimeout(r, Math.max(0, pressedAt + p.offsetMs - performance.now())));
        sink.send(101, p.marker, p.timestamp, p.payload);
      }
      const r = await sipp;
      assert.equal(r.failed, 0, r.errors + r.stderr);
      const requests = app.requestsTo('/digits').slice(before);
      assert.equal(requests.length, 1);
      assert.equal(requests[0].params.Digits, '5');
      const lastAudible = sink.packets.filter(audible).at(-1)!;
      const stoppedAfterMs = lastAudible.at - pressedAt;
      process.stderr.write(`barge-in: prompt stopped ${stoppedAfterMs.toFixed(1)} ms after the key press\n`);
      assert.ok(stoppedAfterMs < 100, `prompt audio continued ${stoppedAfterMs.toFixed(1)} ms after the key press`);
    } finally {
      await sink.close();
    }
  });

  /** Calls with the test's RTP sink as the caller's media, and returns what Patchbay sent. */
  async function callIntoSink(telephoneEvent: boolean): Promise<RtpSink> {
    const sink = await new RtpSink().start();
    const scenario = writeDtmfScenario({ telephoneEvent, rtpSinkPort: sink.port, steps: [{ pauseMs: 15000 }] });
    const r = await runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 40 });
    await sink.close();
    assert.equal(r.failed, 0, r.errors + r.stderr);
    return sink;
  }

  it('<Play digits> sends RFC 4733 events when negotiated, with w as a half-second pause', async () => {
    app.route('/voice', twiml('<Response><Play digits="12w#"/><Hangup/></Response>'));
    const sink = await callIntoSink(true);
    const receiver = new TelephoneEventReceiver();
    const starts: number[] = [];
    const digits: string[] = [];
    for (const p of sink.packets.filter((p) => p.payloadType === 101)) {
      if (p.marker) starts.push(p.at);
      for (const d of receiver.push(p.timestamp, p.marker, p.payload)) digits.push(d.digit);
    }
    assert.deepEqual(digits, ['1', '2', '#']);
    assert.equal(starts.length, 3);
    assert.ok(starts[2]! - starts[1]! >= 500, `w paused only ${(starts[2]! - starts[1]!).toFixed(0)} ms`);
    // Events share the audio stream: one SSRC-wide sequence with no gaps.
    const seqs = sink.packets.map((p) => p.sequence);
    for (let i = 1; i < seqs.length; i++) assert.equal((seqs[i - 1]! + 1) & 0xffff, seqs[i], `sequence gap at packet ${i}`);
  });

  it('<Play digits> sends in-band tones when the caller offered no telephone-event', async () => {
    app.route('/voice', twiml('<Response><Play digits="907"/><Hangup/></Response>'));
    const sink = await callIntoSink(false);
    assert.equal(sink.packets.filter((p) => p.payloadType !== 0).length, 0);
    const detector = new GoertzelDtmfDetector();
    const heard: string[] = [];
    for (const p of sink.packets) {
      const pcm = new Int16Array(p.payload.length);
      for (let i = 0; i < pcm.length; i++) pcm[i] = MULAW_DECODE_TABLE[p.payload[i]!]!;
      heard.push(...detector.push(pcm));
    }
    assert.deepEqual(heard, ['9', '0', '7']);
  });
});
