/**
 * DTMF into <Gather> from a real SIP client (SIPp), in each of the three ways carriers send it:
 * RFC 4733 telephone-events (SIPp's own captures), SIP INFO (dtmf-relay and dtmf bodies) and in-band
 * tones (a capture of µ-law audio carrying the key tones, for a caller that offers no
 * telephone-event). The app sees the digits in the action request with Twilio's parameters.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { writeDtmfScenario, type DtmfStep } from './harness/dtmf-scenario.js';
import { writeRtpPcap, type RtpPacketSpec } from './harness/rtp-pcap.js';
import { dtmfTone } from '../../src/media/dtmf-tone-generator.js';
import { MULAW_ENCODE_TABLE } from '../../src/media/g711.js';

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
  const packets: RtpPacketSpec[] = frames.map((pcm, i) => {
    const payload = Buffer.alloc(160, 0xff);
    for (let j = 0; j < pcm.length; j++) payload[j] = MULAW_ENCODE_TABLE[pcm[j]! & 0xffff]!;
    return { payloadType: 0, marker: i === 0, timestamp: 4000 + i * 160, payload, atMs: i * 20 };
  });
  const path = join(mkdtempSync(join(tmpdir(), 'inband-')), 'tones.pcap');
  writeRtpPcap(path, packets);
  return { pcap: path, durationMs: frames.length * 20 + 200 };
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
});
