/**
 * Relays audio between two RTP sessions (a bridged call's two legs), through each session's own
 * clock-paced send path: what leg A receives is decoded, queued in a small bounded buffer and sent
 * on leg B at B's next media tick (and the other way round), so each leg's outgoing cadence stays
 * the media clock's whatever the other side's jitter, and PCMU↔PCMA transcoding falls out of
 * decode → PCM → encode. Audio a session plays itself (its AudioOutput: ringback, whisper,
 * prompts) wins over relayed audio for as long as it plays.
 *
 * CONTRACT (written before the implementation; keep the exported names and shapes).
 */
import type { RtpSession } from './rtp-session.js';

export interface RelayStats {
  /** Frames received from the source leg. */
  framesIn: number;
  /** Frames sent on the destination leg. */
  framesOut: number;
  /** Frames dropped because the buffer was full (the source runs fast or bursts). */
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

export declare class MediaBridge {
  constructor(a: RtpSession, b: RtpSession, opts?: MediaBridgeOptions);
  /** Stops relaying both ways; each session goes back to its own output (silence when idle). Idempotent. */
  stop(): void;
  get stopped(): boolean;
  /** A→B and B→A counters. */
  stats(): { aToB: RelayStats; bToA: RelayStats };
  /**
   * Per media tick, the frames both legs were sent (for recordings: dual channel = [sentToB, sentToA],
   * i.e. caller then callee, when A is the caller). Arrays are reused: copy what you keep. Returns an unsubscribe.
   */
  onFrames(listener: BridgeFramesListener): () => void;
}
