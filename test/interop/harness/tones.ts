/**
 * Tones for bridged-call interop tests: a test RTP endpoint (RtpSink) that speaks a sine tone into
 * the call and presses keys as RFC 4733 telephone-events, Goertzel energy of what it received
 * (G.711 packets, or decoded PCM from a recording or a Media Stream), the telephone-events it
 * received, a SIPp callee on its own port, and the two parties of a bridged call put together.
 */
import { RtpSink, type ReceivedRtp } from './rtp-sink.js';
import { runSipp, type SippResult } from './sipp.js';
import { freePort } from './child-patchbay.js';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE, encodeFrame } from '../../../src/media/g711.js';
import { digitToEvent, parseTelephoneEvent, type TelephoneEvent } from '../../../src/media/dtmf-rfc4733.js';
import { encodeWav } from '../../../src/media/wav.js';
import { waitFor } from './app-server.js';

/** Goertzel power of `hz` per sample over `samples` (linear PCM scaled to ±1), at 8 kHz. */
export function energyOfSamples(samples: ArrayLike<number>, hz: number, sampleRate = 8000): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return samples.length === 0 ? 0 : (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.length;
}

/** The G.711 packets' audio as ±1 PCM, each packet decoded by its payload type (others skipped). */
export function decodePackets(packets: ReceivedRtp[]): Float32Array {
  const audio = packets.filter((p) => p.payloadType === 0 || p.payloadType === 8);
  const out = new Float32Array(audio.reduce((n, p) => n + p.payload.length, 0));
  let i = 0;
  for (const p of audio) {
    const table = p.payloadType === 0 ? MULAW_DECODE_TABLE : ALAW_DECODE_TABLE;
    for (const b of p.payload) out[i++] = table[b]! / 32768;
  }
  return out;
}

/** Energy of `hz` per sample in the received G.711 packets (Goertzel), decoding each by its payload type. */
export function energyAt(packets: ReceivedRtp[], hz: number): number {
  return energyOfSamples(decodePackets(packets), hz);
}

/**
 * Which of `tones` dominates each `windowMs` of the audio: the loudest one when it carries at
 * least `share` of the window's total power over the tones and the window is not silent, else null.
 */
export function toneTimeline(samples: Float32Array, tones: number[], windowMs = 200, share = 0.8): (number | null)[] {
  const n = Math.round((8000 * windowMs) / 1000);
  const out: (number | null)[] = [];
  for (let i = 0; i + n <= samples.length; i += n) {
    const w = samples.subarray(i, i + n);
    const e = tones.map((hz) => energyOfSamples(w, hz));
    const total = e.reduce((a, b) => a + b, 0);
    const best = e.indexOf(Math.max(...e));
    // 1e-4: a tone of amplitude ~0.03 full scale; quieter windows are silence (or comfort noise).
    out.push(total > 1e-4 && e[best]! >= share * total ? tones[best]! : null);
  }
  return out;
}

/** A WAV file (8 kHz mono) of a `hz` sine, for an app to serve to `<Play>`. */
export function toneWav(hz: number, seconds: number): Buffer {
  const pcm = new Int16Array(Math.round(8000 * seconds));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  return encodeWav(pcm, 8000);
}

/** Resolves once the last 200 ms `sink` received are dominated by `hz` (among `hz` and `others`): that audio now flows. */
export async function waitToHear(sink: RtpSink, hz: number, others: number[], what: string, timeoutMs = 10000): Promise<void> {
  await waitFor(() => toneTimeline(decodePackets(sink.packets.slice(-10)), [hz, ...others]).at(-1) === hz, timeoutMs, what);
}

/** A tone spoken into the call from a test RTP endpoint (20 ms frames), with keys pressed as RFC 4733 events. */
export class ToneSpeaker {
  private ts = 0;
  private phase = 0;
  private readonly pcm = new Int16Array(160);
  private readonly payload = Buffer.alloc(160);
  private readonly timer: NodeJS.Timeout;
  /** Frames still owed to a key press (they replace the audio, as a phone does while a key is down). */
  private key: { event: number; startTs: number; frames: number; sent: number; payloadType: number; done: () => void } | null = null;

  constructor(
    private readonly sink: RtpSink,
    private readonly hz: number,
    private readonly payloadType: 0 | 8,
  ) {
    this.timer = setInterval(() => this.frame(), 20);
  }

  /**
   * Presses `digit` for `ms` as telephone-events on `eventPayloadType` (RFC 4733 §2.5.1: one event
   * timestamp, growing duration, marker on the first packet, the end packet sent three times).
   */
  press(digit: string, eventPayloadType = 101, ms = 120): Promise<void> {
    const event = digitToEvent(digit);
    if (event === null) throw new Error(`not a DTMF digit: ${digit}`);
    if (this.key) throw new Error('a key is already down');
    return new Promise((done) => {
      this.key = { event, startTs: this.ts, frames: Math.max(1, Math.round(ms / 20)), sent: 0, payloadType: eventPayloadType, done };
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private frame(): void {
    if (!this.sink.connected) return;
    const key = this.key;
    if (key) {
      key.sent++;
      const end = key.sent >= key.frames;
      const body = Buffer.alloc(4);
      body[0] = key.event;
      body[1] = (end ? 0x80 : 0) | 10;
      body.writeUInt16BE(key.sent * 160, 2);
      for (let i = 0; i < (end ? 3 : 1); i++) this.sink.send(key.payloadType, key.sent === 1, key.startTs, body);
      this.ts += 160;
      if (end) {
        this.key = null;
        key.done();
      }
      return;
    }
    for (let i = 0; i < 160; i++) this.pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * this.hz * this.phase++) / 8000));
    encodeFrame(this.pcm, this.payloadType === 0 ? 'PCMU' : 'PCMA', this.payload);
    this.sink.send(this.payloadType, this.ts === 0, this.ts, this.payload);
    this.ts += 160;
  }
}

/** Sends a tone from `sink` into the call (20 ms frames) until stopped, once it knows where to send. */
export function speak(sink: RtpSink, hz: number, payloadType: 0 | 8): () => void {
  const speaker = new ToneSpeaker(sink, hz, payloadType);
  return () => speaker.stop();
}

/** The telephone-events (payload type `payloadType`) among the received packets. */
export function telephoneEvents(packets: ReceivedRtp[], payloadType = 101): (TelephoneEvent & { timestamp: number; marker: boolean })[] {
  return packets
    .filter((p) => p.payloadType === payloadType)
    .map((p) => ({ ...parseTelephoneEvent(p.payload)!, timestamp: p.timestamp, marker: p.marker }))
    .filter((e) => e.event !== undefined);
}

/** A SIPp callee on its own port. */
export async function callee(scenario: string, sinkPort = 9): Promise<{ uri: string; done: Promise<SippResult> }> {
  const port = await freePort();
  const done = runSipp({ scenario, target: '127.0.0.1:9', calls: 1, localPort: port, keys: { sink_port: String(sinkPort) }, timeoutSeconds: 60 });
  await new Promise((r) => setTimeout(r, 300)); // let SIPp bind before our INVITE
  return { uri: `sip:callee@127.0.0.1:${port}`, done };
}

/** Both people on a bridged call: a speaking test RTP endpoint each, SIPp doing each side's signalling. */
export interface BridgeParties {
  callerSink: RtpSink;
  calleeSink: RtpSink;
  callerVoice: ToneSpeaker;
  calleeVoice: ToneSpeaker;
  /** The SIPp caller's run (settles when its scenario ends). */
  caller: Promise<SippResult>;
  /** The SIPp callee's run. */
  callee: Promise<SippResult>;
  close(): Promise<void>;
}

export interface BridgePartiesOptions {
  /** Patchbay's SIP port. */
  sipPort: number;
  /** A uac scenario whose SDP offers [rtp_sink_port] (uac-te-hold.xml, uac-te-awaits-bye.xml). */
  callerScenario: string;
  /** -d for a scenario with a plain <pause/>. */
  holdMs?: number;
  /** A uas scenario whose SDP offers [sink_port] (default uas-answer.xml, PCMU). */
  calleeScenario?: string;
  callerHz: number;
  calleeHz: number;
  /** Called with the callee's URI before the caller dials in (so the app's document can name it). */
  beforeDial(calleeUri: string): void;
}

/** Starts the callee (waiting), then the caller calling Patchbay; both start speaking once Patchbay's RTP reaches them. */
export async function startParties(o: BridgePartiesOptions): Promise<BridgeParties> {
  const callerSink = await new RtpSink().start();
  const calleeSink = await new RtpSink().start();
  const calleeScenario = o.calleeScenario ?? 'uas-answer.xml';
  const target = await callee(calleeScenario, calleeSink.port);
  o.beforeDial(target.uri);
  const callerVoice = new ToneSpeaker(callerSink, o.callerHz, 0);
  const calleeVoice = new ToneSpeaker(calleeSink, o.calleeHz, calleeScenario.includes('pcma') ? 8 : 0);
  const caller = runSipp({
    scenario: o.callerScenario,
    target: `127.0.0.1:${o.sipPort}`,
    calls: 1,
    keys: { rtp_sink_port: String(callerSink.port) },
    extra: o.holdMs ? ['-d', String(o.holdMs)] : [],
    timeoutSeconds: 40,
  });
  return {
    callerSink,
    calleeSink,
    callerVoice,
    calleeVoice,
    caller,
    callee: target.done,
    async close() {
      callerVoice.stop();
      calleeVoice.stop();
      await callerSink.close();
      await calleeSink.close();
    },
  };
}
