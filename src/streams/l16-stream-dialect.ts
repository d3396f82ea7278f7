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
  private readonly fromApp: RateConverter;
  /** An odd trailing byte of the app's last binary frame, completed by the next one. */
  private carry: number | null = null;

  constructor(
    private readonly info: StreamStartInfo,
    private readonly sampleRate: 8000 | 16000 | 24000,
  ) {
    this.toApp = info.tracks.map(() => new RateConverter(CALL_RATE, sampleRate));
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
    const channels: Int16Array[] = [];
    if (this.info.tracks.includes('inbound')) channels.push(this.toApp[channels.length]!.convert(inbound?.pcm ?? new Int16Array(160)));
    if (this.info.tracks.includes('outbound')) channels.push(this.toApp[channels.length]!.convert(outbound?.pcm ?? new Int16Array(160)));
    const n = Math.min(...channels.map((c) => c.length));
    const frame = Buffer.allocUnsafe(n * channels.length * 2);
    for (let i = 0, o = 0; i < n; i++) for (const c of channels) frame.writeInt16LE(c[i]!, (o++) * 2);
    return [frame];
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
