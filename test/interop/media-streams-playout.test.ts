/**
 * Media Streams playout and the caller's side, measured at the RTP level: SIPp does the signalling
 * and the test's own RTP socket is the caller's media (it hears Patchbay's packets with arrival
 * times and speaks into the call).
 * - 10 s of app audio in one message, a mark, then `clear` after 1 s: about 1 s is heard, then
 *   silence within one 20 ms frame, and the mark is echoed by the clear;
 * - the caller's DTMF arrives as `dtmf`; voice activity as `speech-started`/`speech-stopped`, and
 *   `clearOnSpeech` cuts the app's audio when the caller starts talking;
 * - wideband (L16 at 16 kHz) carries audio both ways with the right pitch and duration.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp, type SippResult } from './harness/sipp.js';
import { writeDtmfScenario } from './harness/dtmf-scenario.js';
import { RtpSink, type ReceivedRtp } from './harness/rtp-sink.js';
import { StreamAgent, type AgentConnection } from './harness/stream-agent.js';
import { MULAW_DECODE_TABLE, MULAW_ENCODE_TABLE } from '../../src/media/g711.js';
import { TelephoneEventSender } from '../../src/media/dtmf-rfc4733.js';

function tone(hz: number, seconds: number, rate: number, amplitude = 8000): Int16Array {
  const out = new Int16Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

function ulaw(pcm: Int16Array): Buffer {
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = MULAW_ENCODE_TABLE[pcm[i]! & 0xffff]!;
  return out;
}

function level(payload: Buffer): number {
  let energy = 0;
  for (const b of payload) energy += Math.abs(MULAW_DECODE_TABLE[b]!);
  return energy / Math.max(1, payload.length);
}

const audible = (p: ReceivedRtp): boolean => p.payloadType === 0 && level(p.payload) > 100;

/** Frequency from zero crossings (enough for a clean tone). */
function pitch(pcm: ArrayLike<number>, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1]! < 0) !== (pcm[i]! < 0)) crossings++;
  return (crossings / 2) * (rate / pcm.length);
}

/** Sends `pcm` into the call from the caller's RTP socket, one 20 ms packet every 20 ms. */
async function speak(sink: RtpSink, pcm: Int16Array, startTimestamp: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0, n = 0; i < pcm.length; i += 160, n++) {
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + n * 20 - performance.now())));
    sink.send(0, n === 0, startTimestamp + i, ulaw(pcm.subarray(i, i + 160)));
  }
}

describe('Media Streams playout, measured at the caller', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let agent: StreamAgent;

  before(async () => {
    app = await new AppServer().start();
    agent = await new StreamAgent().start();
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice') });
  });

  after(async () => {
    await pb?.dispose();
    await agent?.stop();
    await app?.stop();
  });

  /** A call whose media is the test's socket; resolves once Patchbay's RTP arrives there. */
  async function callWithSink(seconds: number): Promise<{ sink: RtpSink; sipp: Promise<SippResult> }> {
    const sink = await new RtpSink().start();
    const scenario = writeDtmfScenario({ telephoneEvent: true, rtpSinkPort: sink.port, steps: [{ pauseMs: seconds * 1000 }] });
    const sipp = runSipp({ scenario, target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: seconds + 20 });
    await waitFor(() => sink.connected, 10000, 'RTP from Patchbay');
    return { sink, sipp };
  }

  it('10 s of audio in one message, a mark, then clear after 1 s: about 1 s heard, silence within 20 ms, the mark echoed', async () => {
    const first = agent.connections.length;
    let clearAt = 0;
    agent.onFrame = (conn: AgentConnection, f) => {
      if (f.json?.event !== 'start') return;
      conn.send({ event: 'media', streamSid: f.json.streamSid, media: { payload: ulaw(tone(1000, 10, 8000)).toString('base64') } });
      conn.send({ event: 'mark', streamSid: f.json.streamSid, mark: { name: 'end-of-reply' } });
      setTimeout(() => {
        clearAt = performance.now();
        conn.send({ event: 'clear', streamSid: f.json.streamSid });
      }, 1000);
    };
    app.route('/voice', twiml(`<Response><Connect><Stream url="${agent.url('/clear')}"/></Connect></Response>`));
    const { sink, sipp } = await callWithSink(4);
    try {
      const conn = await agent.connection(first);
      await conn.until(() => conn.events('mark').length > 0, 'the mark echo');
      const markAt = conn.frames.find((f) => f.json?.event === 'mark')!.at;
      assert.ok(clearAt > 0 && markAt >= clearAt, 'the mark is echoed by the clear, not before');
      assert.deepEqual(conn.events('mark')[0].mark, { name: 'end-of-reply' });
      await sipp;
      const heard = sink.packets.filter(audible);
      const lateMs = heard.at(-1)!.at - clearAt;
      process.stderr.write(`clear: last audible packet ${lateMs.toFixed(1)} ms after the clear was sent\n`);
      assert.ok(lateMs <= 20, `audio went on ${lateMs.toFixed(1)} ms after clear`);
      const heardMs = heard.length * 20;
      assert.ok(heardMs > 850 && heardMs < 1150, `heard ${heardMs} ms of the reply before the clear`);
    } finally {
      agent.onFrame = () => undefined;
      await sink.close();
    }
  });

  it("the caller's DTMF arrives as dtmf; voice activity as speech-started/stopped, and clearOnSpeech cuts the reply", async () => {
    const first = agent.connections.length;
    agent.onFrame = (conn, f) => {
      if (f.json?.event !== 'start') return;
      // A long reply the caller will talk over.
      conn.send({ event: 'media', streamSid: f.json.streamSid, media: { payload: ulaw(tone(500, 8, 8000)).toString('base64') } });
    };
    app.route('/voice', twiml(`<Response><Connect><Stream url="${agent.url('/vad')}" speechEvents="true" clearOnSpeech="true"/></Connect></Response>`));
    const { sink, sipp } = await callWithSink(6);
    try {
      const conn = await agent.connection(first);
      await waitFor(() => sink.packets.filter(audible).length >= 25, 5000, 'the reply playing');
      // The caller talks over it (a 1 s tone stands in for speech), then presses 7.
      const talkAt = performance.now();
      await speak(sink, tone(300, 1, 8000, 6000), 1000);
      const stopTalkingAt = performance.now();
      await speak(sink, new Int16Array(8000), 9000);
      const burst = new TelephoneEventSender().packetsFor('7', 20000, { durationMs: 100 });
      for (const p of burst.packets) sink.send(101, p.marker, p.timestamp, p.payload);
      await conn.until(() => conn.events('dtmf').length > 0, 'dtmf');
      assert.deepEqual(conn.events('dtmf')[0].dtmf, { track: 'inbound_track', digit: '7' });
      const started = conn.events('speech-started');
      const stopped = conn.events('speech-stopped');
      assert.equal(started.length, 1, JSON.stringify(conn.frames.filter((f) => f.json && f.json.event !== 'media').map((f) => f.json)));
      assert.equal(stopped.length, 1);
      // Timestamps in the stream's own time base (media.timestamp): the talk started ~when media said so.
      const media = conn.events('media');
      const talkStartTs = Number(started[0].speech.timestamp);
      const talkStopTs = Number(stopped[0].speech.timestamp);
      assert.ok(talkStopTs - talkStartTs > 800 && talkStopTs - talkStartTs < 1300, `speech ${talkStartTs}..${talkStopTs} ms`);
      assert.ok(talkStartTs <= Number(media.at(-1).media.timestamp));
      // clearOnSpeech: the reply stopped soon after the caller started, though 8 s were queued.
      const replyAfter = sink.packets.filter((p) => audible(p) && p.at > talkAt + 300);
      assert.equal(replyAfter.length, 0, `${replyAfter.length} reply packets after the caller started talking`);
      assert.ok(stopTalkingAt > talkAt);
      await sipp;
    } finally {
      agent.onFrame = () => undefined;
      await sink.close();
    }
  });

  it('wideband L16 at 16 kHz: audio both ways with the right pitch and duration', async () => {
    const first = agent.connections.length;
    const reply = tone(440, 2, 16000);
    agent.onFrame = (conn, f) => {
      if (f.json?.event !== 'start') return;
      const bytes = Buffer.alloc(reply.length * 2);
      reply.forEach((v, i) => bytes.writeInt16LE(v, i * 2));
      conn.send(bytes);
    };
    app.route('/voice', twiml(`<Response><Connect><Stream url="${agent.url('/wide')}" format="l16" sampleRate="16000"/></Connect></Response>`));
    const { sink, sipp } = await callWithSink(6);
    try {
      const conn = await agent.connection(first);
      await waitFor(() => sink.packets.filter(audible).length >= 100, 8000, 'the 16 kHz reply');
      await speak(sink, tone(1000, 1.5, 8000), 5000);
      await sipp;
      const start = conn.frames[0]!.json;
      assert.equal(start.event, 'start');
      assert.deepEqual(start.mediaFormat, { encoding: 'audio/l16', sampleRate: 16000, channels: 1 });
      // Caller → app: 20 ms binary frames of 320 samples at 16 kHz; the 1 kHz tone stays 1 kHz for 1.5 s.
      const frames = conn.frames.filter((f) => f.binary);
      assert.ok(frames.every((f) => f.binary!.length === 640), 'every frame is 20 ms at 16 kHz');
      const samples = frames.flatMap((f) => Array.from({ length: 320 }, (_, i) => f.binary!.readInt16LE(i * 2)));
      const loud: number[] = [];
      for (let i = 0; i + 320 <= samples.length; i += 320) {
        const frame = samples.slice(i, i + 320);
        if (frame.reduce((s, v) => s + Math.abs(v), 0) / 320 > 1000) loud.push(...frame);
      }
      const inMs = (loud.length / 16000) * 1000;
      assert.ok(Math.abs(inMs - 1500) <= 60, `app heard ${inMs} ms of the caller's 1500 ms tone`);
      assert.ok(Math.abs(pitch(loud, 16000) - 1000) < 15, `app heard ${pitch(loud, 16000).toFixed(1)} Hz for 1000 Hz`);
      // App → caller: the 2 s, 440 Hz reply arrives at 8 kHz with the same pitch and length.
      const heard = sink.packets.filter(audible);
      const pcm = heard.flatMap((p) => Array.from(p.payload, (b) => MULAW_DECODE_TABLE[b]!));
      const outMs = heard.length * 20;
      assert.ok(Math.abs(outMs - 2000) <= 60, `caller heard ${outMs} ms of a 2000 ms reply`);
      assert.ok(Math.abs(pitch(pcm, 8000) - 440) < 8, `caller heard ${pitch(pcm, 8000).toFixed(1)} Hz for 440 Hz`);
    } finally {
      agent.onFrame = () => undefined;
      await sink.close();
    }
  });
});
