/**
 * A call's Media Streams: up to four listen-only forks (`<Start><Stream>`, REST) and one
 * bidirectional stream (`<Connect><Stream>`). Every media tick it takes one frame of the caller's
 * audio from a small jitter buffer (reordered, losses and silences filled so timestamps stay
 * continuous) and the frame the caller heard, and hands them to each open stream. It also reports
 * the caller's DTMF and, for streams that ask, voice activity (speech-started / -stopped, optional
 * automatic clear). Each stream's life goes to the call's events and its status callback.
 */
import { newSid } from '../ids.js';
import { JitterBuffer } from '../media/jitter-buffer.js';
import { VoiceActivityDetector, type VoiceActivityEvent } from '../media/voice-activity-detector.js';
import { decodeFrame, encodeFrame, silenceByte } from '../media/g711.js';
import type { RtpPacket } from '../media/rtp-packet.js';
import type { CallMedia } from './call-media.js';
import { MediaStreamSession, type StreamEgress, type StreamEnd } from '../streams/media-stream-session.js';
import { TwilioStreamDialect } from '../streams/twilio-stream-dialect.js';
import { L16StreamDialect } from '../streams/l16-stream-dialect.js';
import type { AudioFrame, StreamStartInfo } from '../streams/stream-dialect.js';
import type { MediaStreamTrack } from '../streams/media-stream-messages.js';
import type { HttpMethod, StreamNoun } from '../verbs/verb-model.js';

/** Skipped clock ticks made up for in one tick, at most (a longer stall is a gap, not a burst). */
const MAX_CATCH_UP_FRAMES = 5;
const SILENT_OUT: AudioFrame = { ulaw: Buffer.alloc(160, 0xff), pcm: new Int16Array(160) };

/** Twilio: at most 4 forks and exactly one bidirectional stream per call. */
export const MAX_FORKS = 4;

export class StreamLimitError extends Error {
  override readonly name = 'StreamLimitError';
  readonly code = 82004;
}

export interface CallStreamsDeps {
  callSid: string;
  accountSid: string;
  media: CallMedia;
  /** The call's event stream. */
  note(type: string, detail: Record<string, unknown>): void;
  /** Status callbacks (signed, queued with the call's other callbacks). */
  callback(url: string, method: HttpMethod, params: Record<string, string>): void;
  /** Handshake headers for a stream URL (X-Twilio-Signature). */
  handshakeHeaders(url: string): Record<string, string>;
  connectTimeoutMs: number;
  /** Where stream URLs may connect (blocked private addresses, extra CAs); default: anywhere, certificates verified. */
  egress?: StreamEgress;
  /** Jitter buffer depth before audio is forked, in 20 ms frames; default 2. */
  jitterFrames?: number;
}

export interface LiveStream {
  sid: string;
  name: string | null;
  bidirectional: boolean;
  /** Settles when the stream has ended, however it ended. */
  ended: Promise<StreamEnd>;
}

interface Entry extends LiveStream {
  spec: StreamNoun;
  session: MediaStreamSession;
  inbound: boolean;
  outbound: boolean;
}

const TRACKS: Record<StreamNoun['track'], MediaStreamTrack[]> = {
  inbound_track: ['inbound'],
  outbound_track: ['outbound'],
  both_tracks: ['inbound', 'outbound'],
};

export class CallStreams {
  private readonly live = new Map<string, Entry>();
  private jitter: JitterBuffer | null = null;
  private vad: VoiceActivityDetector | null = null;
  private vadStartFrame = -1;
  /** Frames of the caller's audio handed to the streams (20 ms each): the streams' time base. */
  private frameIndex = 0;
  private lastTick = -1;
  private readonly inPcm = new Int16Array(160);
  private readonly inUlaw = Buffer.alloc(160);
  private readonly outUlaw = Buffer.alloc(160);
  private readonly onRtp = (p: RtpPacket): void => this.insert(p);
  private readonly onTick = (pcm: Int16Array, tick: number): void => this.tick(pcm, tick);
  private closed = false;

  constructor(private readonly deps: CallStreamsDeps) {}

  get size(): number {
    return this.live.size;
  }

  list(): LiveStream[] {
    return [...this.live.values()].map(({ sid, name, bidirectional, ended }) => ({ sid, name, bidirectional, ended }));
  }

  /**
   * Starts a stream whose URL is already absolute. Throws StreamLimitError when the call has no
   * room for it or its name is taken; connection failures arrive later, through `ended`.
   */
  start(spec: StreamNoun, bidirectional: boolean): LiveStream {
    if (this.closed) throw new StreamLimitError('the call has ended');
    const entries = [...this.live.values()];
    if (bidirectional && entries.some((e) => e.bidirectional)) throw new StreamLimitError('the call already has a bidirectional stream');
    if (!bidirectional && entries.filter((e) => !e.bidirectional).length >= MAX_FORKS) throw new StreamLimitError(`the call already has ${MAX_FORKS} streams`);
    if (spec.name !== null && entries.some((e) => e.name === spec.name)) throw new StreamLimitError(`a stream named "${spec.name}" is already running`);

    const sid = newSid('MZ');
    const tracks = TRACKS[spec.track];
    const info: StreamStartInfo = { streamSid: sid, accountSid: this.deps.accountSid, callSid: this.deps.callSid, tracks, customParameters: spec.parameters };
    const dialect = spec.format === 'l16' ? new L16StreamDialect(info, spec.sampleRate) : new TwilioStreamDialect(info);
    const session = new MediaStreamSession({
      url: spec.url,
      headers: this.deps.handshakeHeaders(spec.url),
      connectTimeoutMs: this.deps.connectTimeoutMs,
      ...(this.deps.egress ? { egress: this.deps.egress } : {}),
      dialect,
      playout: bidirectional ? this.deps.media.rtp.output : null,
    });
    const ended = new Promise<StreamEnd>((resolve) => session.once('ended', resolve));
    const entry: Entry = { sid, name: spec.name, bidirectional, ended, spec, session, inbound: tracks.includes('inbound'), outbound: tracks.includes('outbound') };
    this.live.set(sid, entry);
    this.attachMedia();

    const status = (event: 'stream-started' | 'stream-stopped' | 'stream-error', error?: string): void => {
      if (!spec.statusCallback) return;
      this.deps.callback(spec.statusCallback, spec.statusCallbackMethod, {
        AccountSid: this.deps.accountSid,
        CallSid: this.deps.callSid,
        StreamSid: sid,
        StreamName: spec.name ?? sid,
        StreamEvent: event,
        ...(error !== undefined ? { StreamError: error } : {}),
        Timestamp: new Date().toISOString(),
      });
    };
    session.on('started', () => {
      this.deps.note('stream.started', { streamSid: sid, name: spec.name, url: spec.url, track: spec.track, format: spec.format, bidirectional });
      status('stream-started');
    });
    // Overflow and invalid messages do not end the stream, but the app hears of them (stream-error).
    session.on('warning', (w) => {
      this.deps.note('stream.warning', { streamSid: sid, code: w.code, message: w.message });
      status('stream-error', w.message);
    });
    session.on('ended', (end) => {
      this.live.delete(sid);
      this.detachMediaIfIdle();
      if (end.reason === 'failed') {
        this.deps.note('error', { code: end.code, message: `stream ${spec.name ?? sid}: ${end.message}`, streamSid: sid });
        status('stream-error', end.message);
      }
      this.deps.note('stream.stopped', { streamSid: sid, reason: end.reason, ...session.counters });
      if (end.reason !== 'failed') status('stream-stopped');
    });
    void session.start();
    return { sid, name: spec.name, bidirectional, ended };
  }

  /** Stops a stream by name or SID; false when there is none. */
  stop(nameOrSid: string): boolean {
    for (const e of this.live.values()) {
      if (e.sid === nameOrSid || e.name === nameOrSid) {
        e.session.stop();
        return true;
      }
    }
    return false;
  }

  /** The caller's DTMF goes to bidirectional streams (Twilio sends `dtmf` on those only). */
  dtmf(digit: string): void {
    for (const e of this.live.values()) if (e.bidirectional) e.session.dtmf(digit);
  }

  /** The call ended: every stream gets `stop` and is closed. */
  close(): void {
    this.closed = true;
    for (const e of [...this.live.values()]) e.session.stop();
    this.detachMediaIfIdle();
  }

  private attachMedia(): void {
    if (this.jitter) return;
    const codec = this.deps.media.negotiated.codec;
    this.jitter = new JitterBuffer({ targetDelayFrames: this.deps.jitterFrames ?? 2, silenceByte: silenceByte(codec) });
    this.deps.media.rtp.on('rtp', this.onRtp);
    this.deps.media.rtp.on('tick', this.onTick);
  }

  private detachMediaIfIdle(): void {
    if (this.live.size > 0 || !this.jitter) return;
    this.deps.media.rtp.off('rtp', this.onRtp);
    this.deps.media.rtp.off('tick', this.onTick);
    this.jitter = null;
    this.vad = null;
    this.lastTick = -1;
  }

  private insert(packet: RtpPacket): void {
    if (packet.payloadType !== this.deps.media.negotiated.payloadType || packet.payload.length === 0) return;
    this.jitter?.insert(packet.sequenceNumber, packet.timestamp, packet.payload);
  }

  /**
   * Frames owed to the streams this tick: one per clock tick, plus the ticks the clock skipped
   * (so a late tick does not leave the caller's audio a frame deeper in the buffer for good), plus
   * one while the buffer holds more than its target after a burst (a stall then a flood of
   * packets drains back to the target instead of adding its length to every later frame).
   */
  private tick(heard: Int16Array, tick: number): void {
    const skipped = this.lastTick < 0 ? 0 : Math.min(tick - this.lastTick - 1, MAX_CATCH_UP_FRAMES);
    this.lastTick = tick;
    const entries = [...this.live.values()];
    let wantIn = false;
    let wantOut = false;
    let wantVad = false;
    for (const e of entries) {
      wantIn ||= e.inbound;
      wantOut ||= e.outbound;
      wantVad ||= e.spec.speechEvents || e.spec.clearOnSpeech;
    }
    let outbound: AudioFrame | null = null;
    if (wantOut) {
      encodeFrame(heard, 'PCMU', this.outUlaw);
      outbound = { ulaw: this.outUlaw.subarray(0, heard.length), pcm: heard };
    }
    const target = this.jitter?.targetDelayFrames ?? 0;
    const draining = (this.jitter?.size ?? 0) > target + 1 ? 1 : 0;
    for (let i = 0, n = 1 + Math.max(0, skipped) + draining; i < n; i++) {
      const inbound = wantIn || wantVad ? this.callerFrame() : null;
      const frame = this.frameIndex++;
      if (wantVad && inbound) this.detectVoice(inbound.pcm, frame, entries);
      // What the caller heard exists once per tick: extra frames carry only the caller's track.
      const heardNow = i === 0 ? outbound : null;
      for (const e of entries) e.session.sendAudio(frame, e.inbound ? inbound : null, e.outbound ? heardNow ?? SILENT_OUT : null);
    }
  }

  /** The caller's frame for this tick: from the jitter buffer, or silence when it has none. */
  private callerFrame(): AudioFrame {
    const frame = this.jitter?.pop() ?? null;
    if (!frame) {
      this.inPcm.fill(0);
      this.inUlaw.fill(0xff);
      return { ulaw: this.inUlaw, pcm: this.inPcm };
    }
    const n = Math.min(frame.payload.length, 160);
    const payload = frame.payload.subarray(0, n);
    const pcm = this.inPcm.subarray(0, n);
    decodeFrame(payload, this.deps.media.negotiated.codec, pcm);
    // µ-law callers' bytes go to the app as they came: no transcoding on the common path.
    if (this.deps.media.negotiated.codec === 'PCMU') return { ulaw: payload, pcm };
    encodeFrame(pcm, 'PCMU', this.inUlaw);
    return { ulaw: this.inUlaw.subarray(0, n), pcm };
  }

  private detectVoice(pcm: Int16Array, frame: number, entries: Entry[]): void {
    if (!this.vad) {
      this.vad = new VoiceActivityDetector();
      this.vadStartFrame = frame;
    }
    const event: VoiceActivityEvent | null = this.vad.process(pcm);
    if (!event) return;
    const eventFrame = this.vadStartFrame + Math.round(event.atMs / 20);
    for (const e of entries) {
      if (e.spec.clearOnSpeech && event.type === 'speech-started') e.session.clearPlayout();
      if (e.spec.speechEvents) e.session.speech(event.type, e.session.timeOf(eventFrame));
    }
  }
}

