/**
 * Twilio's Media Streams protocol (twilio-voice.md §6): JSON text frames, base64 µ-law at 8 kHz,
 * counters as strings. Messages come from MediaStreamEncoder, so key order and types are exactly
 * Twilio's. `speech-started`/`speech-stopped` are Patchbay's only additions, sent only to streams
 * that asked for them (`speechEvents`), so unmodified Twilio apps never see them.
 */
import { mulawToLinear } from '../media/g711.js';
import { MediaStreamEncoder, parseAppMessage } from './media-stream-messages.js';
import type { AppFrame, AudioFrame, Frame, StreamDialect, StreamStartInfo } from './stream-dialect.js';

/** µ-law byte → linear sample, once. */
const ULAW_TO_PCM = Int16Array.from({ length: 256 }, (_, b) => mulawToLinear(b));

export class TwilioStreamDialect implements StreamDialect {
  private readonly encoder: MediaStreamEncoder;

  constructor(
    private readonly info: StreamStartInfo,
    private readonly maxMessageBytes?: number,
  ) {
    this.encoder = new MediaStreamEncoder({ ...info, customParameters: info.customParameters });
  }

  opening(): Frame[] {
    return [this.encoder.connected(), this.encoder.start()];
  }

  audio(timestampMs: number, inbound: AudioFrame | null, outbound: AudioFrame | null): Frame[] {
    const out: Frame[] = [];
    if (inbound) out.push(this.encoder.media('inbound', timestampMs, inbound.ulaw));
    if (outbound) out.push(this.encoder.media('outbound', timestampMs, outbound.ulaw));
    return out;
  }

  dtmf(digit: string): Frame {
    return this.encoder.dtmf(digit);
  }

  mark(name: string | undefined): Frame {
    return this.encoder.mark(name);
  }

  speech(type: 'speech-started' | 'speech-stopped', atMs: number): Frame {
    // Same envelope as Twilio's messages; the sequence number stays continuous.
    const seq = this.encoder.nextSequenceNumber();
    return `{"event":"${type}","sequenceNumber":"${seq}","streamSid":${JSON.stringify(this.info.streamSid)},"speech":{"timestamp":"${Math.max(0, Math.round(atMs))}"}}`;
  }

  stop(): Frame {
    return this.encoder.stop();
  }

  parse(data: Buffer, isBinary: boolean): AppFrame {
    if (isBinary) return { kind: 'invalid', message: 'binary frames are not part of the Twilio protocol' };
    const r = parseAppMessage(data, this.maxMessageBytes !== undefined ? { maxBytes: this.maxMessageBytes } : {});
    if (!r.ok) return { kind: 'invalid', message: r.error.message };
    const m = r.message;
    if (m.event === 'mark') return { kind: 'mark', name: m.name };
    if (m.event === 'clear') return { kind: 'clear' };
    const pcm = new Int16Array(m.payload.length);
    for (let i = 0; i < pcm.length; i++) pcm[i] = ULAW_TO_PCM[m.payload[i]!]!;
    return { kind: 'audio', pcm };
  }
}
