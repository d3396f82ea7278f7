/**
 * One direction of a media bridge: decoded audio from the source leg, re-chunked into the
 * destination's frame size and held in a small ring until the destination's next media tick.
 *
 * Packets need not carry exactly one frame (10 ms or 30 ms ptime, a peer that changes ptime): the
 * samples are copied into the frame being filled and a frame only becomes sendable once complete.
 * The ring is preallocated (depth + 1 frames: the sendable ones and the one being filled), so
 * relaying allocates nothing per packet.
 *
 * Latency is bounded two ways:
 *  - a hard cap: more than `maxDepthFrames` complete frames drops the oldest (a burst, or a source
 *    clock running fast);
 *  - a standing-queue trim: jitter can leave a frame waiting behind every tick for good (a late
 *    packet, then two in one tick), which is pure added delay. When at least one frame was left over
 *    after every pull for `trimWindowTicks` ticks in a row, the oldest is dropped once.
 */
import type { LiveAudioInput } from './rtp-session.js';
import type { RelayStats } from './media-bridge.js';

export interface RelayQueueOptions {
  /** Samples per frame of the destination leg (160 = 20 ms at 8 kHz). */
  frameSamples: number;
  /** Most complete frames held; the oldest is dropped beyond it. */
  maxDepthFrames: number;
  /** Ticks in a row with a frame left over before one is dropped to cut the standing delay. 0 disables. Default 50 (1 s). */
  trimWindowTicks?: number;
}

export class RelayQueue implements LiveAudioInput {
  readonly stats: RelayStats = { framesIn: 0, framesOut: 0, dropped: 0, underruns: 0 };
  private readonly frames: Int16Array[];
  private readonly frameSamples: number;
  private readonly maxDepth: number;
  private readonly trimWindow: number;
  /** Index of the oldest complete frame. */
  private head = 0;
  /** Complete frames waiting. The frame being filled is at (head + count) % frames.length. */
  private count = 0;
  /** Samples already in the frame being filled. */
  private fill = 0;
  /** Consecutive pulls that left at least one complete frame behind. */
  private standing = 0;

  constructor(opts: RelayQueueOptions) {
    if (!(opts.frameSamples > 0) || !Number.isInteger(opts.frameSamples)) throw new RangeError('frameSamples must be a positive integer');
    if (!(opts.maxDepthFrames >= 1) || !Number.isInteger(opts.maxDepthFrames)) throw new RangeError('maxDepthFrames must be an integer >= 1');
    this.frameSamples = opts.frameSamples;
    this.maxDepth = opts.maxDepthFrames;
    this.trimWindow = opts.trimWindowTicks ?? 50;
    this.frames = Array.from({ length: this.maxDepth + 1 }, () => new Int16Array(this.frameSamples));
  }

  /** Complete frames waiting to be sent. */
  get depth(): number {
    return this.count;
  }

  /** Append decoded samples from the source leg (any length). */
  push(pcm: Int16Array): void {
    const n = pcm.length;
    let i = 0;
    while (i < n) {
      const frame = this.frames[(this.head + this.count) % this.frames.length]!;
      const take = Math.min(n - i, this.frameSamples - this.fill);
      // A plain loop rather than set(subarray(...)): no view object per packet.
      for (let k = 0, j = this.fill; k < take; k++, j++) frame[j] = pcm[i + k]!;
      i += take;
      this.fill += take;
      if (this.fill === this.frameSamples) this.completeFrame();
    }
  }

  pullFrame(out: Int16Array): boolean {
    if (this.count === 0) {
      this.standing = 0;
      this.stats.underruns++;
      return false;
    }
    const frame = this.frames[this.head]!;
    const n = Math.min(out.length, frame.length);
    for (let i = 0; i < n; i++) out[i] = frame[i]!;
    if (n < out.length) out.fill(0, n);
    this.advance();
    this.stats.framesOut++;
    this.trackStanding();
    return true;
  }

  skipFrame(): void {
    // The destination's own playout took this tick: the relayed frame is superseded, not late.
    if (this.count > 0) this.advance();
    this.standing = 0;
  }

  /** Forget everything queued (counters are kept). */
  clear(): void {
    this.count = 0;
    this.fill = 0;
    this.standing = 0;
  }

  private completeFrame(): void {
    this.fill = 0;
    this.count++;
    this.stats.framesIn++;
    if (this.count > this.maxDepth) {
      // The frame being filled next would overwrite the oldest: drop it first.
      this.advance();
      this.stats.dropped++;
    }
  }

  private advance(): void {
    this.head = (this.head + 1) % this.frames.length;
    this.count--;
  }

  private trackStanding(): void {
    if (this.trimWindow <= 0) return;
    if (this.count === 0) {
      this.standing = 0;
      return;
    }
    if (++this.standing >= this.trimWindow) {
      this.advance();
      this.stats.dropped++;
      this.standing = 0;
    }
  }
}
