/**
 * Relays audio between two RTP sessions (a bridged call's two legs), through each session's own
 * clock-paced send path: what leg A receives is decoded, queued in a small bounded buffer and sent
 * on leg B at B's next media tick (and the other way round), so each leg's outgoing cadence stays
 * the media clock's whatever the other side's jitter, and PCMU↔PCMA transcoding falls out of
 * decode → PCM → encode. Audio a session plays itself (its AudioOutput: ringback, whisper,
 * prompts) wins over relayed audio for as long as it plays.
 *
 * Each direction is a RelayQueue (bounded, re-chunking, allocation-free); each session pulls from
 * its queue through `setLiveInput`, so RTCP, keep-alive silence and timestamps stay the session's.
 */
import type { RtpSession } from './rtp-session.js';
import { RelayQueue } from './relay-queue.js';

export interface RelayStats {
  /** Frames received from the source leg. */
  framesIn: number;
  /** Frames sent on the destination leg. */
  framesOut: number;
  /** Frames dropped because the buffer was full (the source runs fast or bursts), or to cut a standing backlog (see RelayQueue). */
  dropped: number;
  /** Ticks with nothing to relay (source late or silent): silence went out instead. */
  underruns: number;
}

export interface MediaBridgeOptions {
  /** Most 20 ms frames buffered per direction before the oldest are dropped (bounds the added latency). Default 3. */
  maxDepthFrames?: number;
}

/** Both legs' audio of one media tick: what was sent to A (from B, or A's own playout) and what was sent to B. */
export type BridgeFramesListener = (tick: number, sentToA: Int16Array, sentToB: Int16Array) => void;

export type MediaBridgeErrorCode = 'MEDIA_BRIDGE_SAME_SESSION' | 'MEDIA_BRIDGE_BUSY';

export class MediaBridgeError extends Error {
  readonly code: MediaBridgeErrorCode;
  constructor(code: MediaBridgeErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'MediaBridgeError';
  }
}

export class MediaBridge {
  private readonly a: RtpSession;
  private readonly b: RtpSession;
  /** Audio heard on A, to be sent on B. */
  private readonly aToB: RelayQueue;
  /** Audio heard on B, to be sent on A. */
  private readonly bToA: RelayQueue;
  private readonly onAudioA = (pcm: Int16Array): void => this.aToB.push(pcm);
  private readonly onAudioB = (pcm: Int16Array): void => this.bToA.push(pcm);
  private listeners: BridgeFramesListener[] = [];
  private readonly sentToA: Int16Array;
  private readonly sentToB: Int16Array;
  private tickA = -1;
  private tickB = -1;
  private readonly onTickA = (pcm: Int16Array, tick: number): void => {
    this.sentToA.set(pcm);
    this.tickA = tick;
    if (this.tickB === tick) this.emitFrames(tick);
  };
  private readonly onTickB = (pcm: Int16Array, tick: number): void => {
    this.sentToB.set(pcm);
    this.tickB = tick;
    if (this.tickA === tick) this.emitFrames(tick);
  };
  private isStopped = false;

  constructor(a: RtpSession, b: RtpSession, opts: MediaBridgeOptions = {}) {
    if (a === b) throw new MediaBridgeError('MEDIA_BRIDGE_SAME_SESSION', 'cannot bridge a session to itself');
    if (a.liveInput || b.liveInput) throw new MediaBridgeError('MEDIA_BRIDGE_BUSY', 'a session is already fed by another bridge');
    const maxDepthFrames = opts.maxDepthFrames ?? 3;
    this.a = a;
    this.b = b;
    this.aToB = new RelayQueue({ frameSamples: b.samplesPerFrame, maxDepthFrames });
    this.bToA = new RelayQueue({ frameSamples: a.samplesPerFrame, maxDepthFrames });
    this.sentToA = new Int16Array(a.samplesPerFrame);
    this.sentToB = new Int16Array(b.samplesPerFrame);
    a.on('audio', this.onAudioA);
    b.on('audio', this.onAudioB);
    a.setLiveInput(this.bToA);
    b.setLiveInput(this.aToB);
  }

  stop(): void {
    if (this.isStopped) return;
    this.isStopped = true;
    this.a.off('audio', this.onAudioA);
    this.b.off('audio', this.onAudioB);
    if (this.a.liveInput === this.bToA) this.a.setLiveInput(null);
    if (this.b.liveInput === this.aToB) this.b.setLiveInput(null);
    this.aToB.clear();
    this.bToA.clear();
    this.listeners = [];
    this.watchTicks(false);
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  stats(): { aToB: RelayStats; bToA: RelayStats } {
    return { aToB: { ...this.aToB.stats }, bToA: { ...this.bToA.stats } };
  }

  onFrames(listener: BridgeFramesListener): () => void {
    if (this.isStopped) return () => undefined;
    this.listeners = [...this.listeners, listener];
    // 'tick' is only emitted (and its frame only copied here) while someone listens.
    if (this.listeners.length === 1) this.watchTicks(true);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      if (this.listeners.length === 0) this.watchTicks(false);
    };
  }

  private watchTicks(on: boolean): void {
    this.a.off('tick', this.onTickA);
    this.b.off('tick', this.onTickB);
    this.tickA = -1;
    this.tickB = -1;
    if (!on) return;
    this.a.on('tick', this.onTickA);
    this.b.on('tick', this.onTickB);
  }

  /**
   * Runs inside the second session's tick handler. A listener that throws is not caught here: it
   * propagates to the MediaClock, whose onError reports it (that leg's packet of this tick is lost).
   */
  private emitFrames(tick: number): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(tick, this.sentToA, this.sentToB);
  }
}
