/**
 * Patchbay's wideband protocol (docs/media-streams.md): binary frames of 16-bit little-endian PCM
 * at 8, 16 or 24 kHz both ways, JSON text frames for everything else. The first frame is a JSON
 * `start` with the stream's identity and `mediaFormat`; with both tracks, audio frames are
 * interleaved stereo (channel 0 the caller, channel 1 what the caller hears). Call audio is 8 kHz,
 * so it is resampled with a windowed-sinc filter on the way out, and the app's audio on the way in.
 */
import { Resampler } from '../media/resampler.js';
import type { AppFrame, AudioFrame, Frame, StreamDialect, StreamStartInfo } from './stream-dialect.js';

const CALL_RATE = 8000;
const SILENT_FRAME = new Int16Array(160);

/** A FIFO of samples. */
class SampleQueue {
  private buf = new Int16Array(1024);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(samples: Int16Array): void {
    if (this.end + samples.length > this.buf.length) {
      const live = this.buf.subarray(this.start, this.end);
      const next = this.buf.length - this.length >= samples.length ? this.buf : new Int16Array((this.length + samples.length) * 2);
      next.set(live, 0);
      this.buf = next;
      this.end = live.length;
      this.start = 0;
    }
    this.buf.set(samples, this.end);
    this.end += samples.length;
  }

  take(n: number): Int16Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Streams between the call's 8 kHz and the app's rate (a no-op at 8 kHz). */
class RateConverter {
  private readonly resampler: Resampler | null;

  constructor(from: number, to: number) {
    this.resampler = from === to ? null : new Resampler(from, to, { quality: 'fast' });
  }

  convert(pcm: Int16Array): Int16Array {
    if (!this.resampler) return pcm;
    const input = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) input[i] = pcm[i]! / 32768;
    const out = this.resampler.process(input);
    const result = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) result[i] = Math.max(-32768, Math.min(32767, Math.round(out[i]! * 32768)));
    return result;
  }
}

export class L16StreamDialect implements StreamDialect {
  private readonly toApp: RateConverter[];
  private readonly pending: SampleQueue[];
  private readonly fromApp: RateConverter;
  /** An odd trailing byte of the app's last binary frame, completed by the next one. */
  private carry: number | null = null;

  constructor(
    private readonly info: StreamStartInfo,
    private readonly sampleRate: 8000 | 16000 | 24000,
  ) {
    this.toApp = info.tracks.map(() => new RateConverter(CALL_RATE, sampleRate));
    this.pending = info.tracks.map(() => new SampleQueue());
    this.fromApp = new RateConverter(sampleRate, CALL_RATE);
  }

  opening(): Frame[] {
    const params = `{${this.info.customParameters.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
    return [
      `{"event":"start","streamSid":${JSON.stringify(this.info.streamSid)},"accountSid":${JSON.stringify(this.info.accountSid)},` +
        `"callSid":${JSON.stringify(this.info.callSid)},"tracks":${JSON.stringify(this.info.tracks)},"customParameters":${params},` +
        `"mediaFormat":{"encoding":"audio/l16","sampleRate":${this.sampleRate},"channels":${this.info.tracks.length}}}`,
    ];
  }

  audio(_timestampMs: number, inbound: AudioFrame | null, outbound: AudioFrame | null): Frame[] {
    const inputs: Int16Array[] = [];
    if (this.info.tracks.includes('inbound')) inputs.push(inbound?.pcm ?? SILENT_FRAME);
    if (this.info.tracks.includes('outbound')) inputs.push(outbound?.pcm ?? SILENT_FRAME);
    inputs.forEach((pcm, c) => this.pending[c]!.push(this.toApp[c]!.convert(pcm)));
    // The resampler's output per input block varies by a sample or two: frames go out at exactly 20 ms.
    const perFrame = this.sampleRate / 50;
    const frames: Frame[] = [];
    while (this.pending.every((q) => q.length >= perFrame)) {
      const channels = this.pending.map((q) => q.take(perFrame));
      const frame = Buffer.allocUnsafe(perFrame * channels.length * 2);
      for (let i = 0, o = 0; i < perFrame; i++) for (const c of channels) frame.writeInt16LE(c[i]!, (o++) * 2);
      frames.push(frame);
    }
    return frames;
  }

  dtmf(digit: string): Frame {
    return `{"event":"dtmf","digit":${JSON.stringify(digit)}}`;
  }

  mark(name: string | undefined): Frame {
    return name === undefined ? '{"event":"mark"}' : `{"event":"mark","name":${JSON.stringify(name)}}`;
  }

  speech(type: 'speech-started' | 'speech-stopped', atMs: number): Frame {
    return `{"event":"${type}","timestamp":${Math.max(0, Math.round(atMs))}}`;
  }

  stop(): Frame {
    return '{"event":"stop"}';
  }

  parse(data: Buffer, isBinary: boolean): AppFrame {
    if (isBinary) {
      let bytes = data;
      if (this.carry !== null) {
        bytes = Buffer.concat([Buffer.from([this.carry]), data]);
        this.carry = null;
      }
      if (bytes.length % 2 === 1) {
        this.carry = bytes[bytes.length - 1]!;
        bytes = bytes.subarray(0, bytes.length - 1);
      }
      const pcm = new Int16Array(bytes.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(i * 2);
      return { kind: 'audio', pcm: this.fromApp.convert(pcm) };
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return { kind: 'invalid', message: 'text frame is not JSON' };
    }
    if (!isObject(msg) || typeof msg.event !== 'string') return { kind: 'invalid', message: 'text frame has no "event"' };
    if (msg.event === 'clear') return { kind: 'clear' };
    if (msg.event === 'mark') {
      if (msg.name !== undefined && typeof msg.name !== 'string') return { kind: 'invalid', message: 'mark name must be a string' };
      return { kind: 'mark', name: msg.name };
    }
    return { kind: 'invalid', message: `unknown event ${JSON.stringify(msg.event).slice(0, 64)}` };
  }
}
