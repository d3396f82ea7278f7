/**
 * A small, fixed-delay jitter buffer for one inbound RTP audio source, placed before audio is forked
 * (to a Media Stream, recorder, STT). Packets are inserted in arrival order; the shared 20 ms media
 * clock pops exactly one frame per tick, in RTP sequence order.
 *
 * Policy (deliberately simple, for voice agents where a few tens of ms matter more than smoothness):
 * - Playout starts once `targetDelayFrames` consecutive-or-later frames are buffered (prebuffering).
 * - A missing frame is declared lost when its tick comes and a *later* frame is already buffered; the
 *   buffer then returns a concealment frame of **silence** (`silenceByte`, 0xFF = µ-law silence) with
 *   the length of the last real frame. Silence rather than a repeat: the buffer is codec-agnostic and
 *   repeating would need decoding; agents' STT/VAD are unaffected by 20 ms of silence.
 * - When nothing at all is buffered the tick is an underrun (returns null) and the buffer prebuffers
 *   again. This is also how a new talkspurt after silence suppression (RFC 3551 §4.1 marker bit,
 *   timestamp jump with contiguous sequence numbers) is handled: no losses are invented for the pause.
 * - Sequence numbers are 16-bit and wrap (RFC 3550 §A.1); they are extended to a monotonic counter.
 *   A jump larger than `maxJump` either way (sender restart) resynchronises instead of reporting
 *   thousands of losses or late packets.
 * - Memory is bounded: `capacityFrames` slots of `maxPayloadBytes`, preallocated. A packet too far
 *   ahead of the playout point (but within `maxJump`) slides the window, dropping the oldest frames.
 */

export interface JitterBufferOptions {
  /** Frames to hold before playout starts (the added delay, in 20 ms frames). Default 3. */
  targetDelayFrames?: number;
  /** Reorder window in frames; must be ≥ targetDelayFrames. Default 8. */
  capacityFrames?: number;
  /** Largest payload stored; bigger packets are dropped and counted. Default 320 (40 ms of G.711). */
  maxPayloadBytes?: number;
  /** Byte used for concealment frames. Default 0xFF (µ-law silence; use 0xD5 for A-law). */
  silenceByte?: number;
  /** RTP timestamp units per frame, used to stamp concealment frames. Default 160 (20 ms at 8 kHz). */
  samplesPerFrame?: number;
  /** Sequence jump (either direction) treated as a sender restart. Default 100 (2 s). */
  maxJump?: number;
}

export interface JitterBufferFrame {
  /** `audio` = a received packet; `concealed` = silence in place of a lost packet. */
  kind: 'audio' | 'concealed';
  /** 16-bit RTP sequence number this frame stands for. */
  seq: number;
  timestamp: number;
  /** Valid until the next pop() (a view of the buffer's own output memory). */
  payload: Buffer;
}

export interface JitterBufferStats {
  received: number;
  played: number;
  /** Frames whose packet never came in time (concealed, or skipped when the window slid). */
  lost: number;
  /** Packets that arrived after their frame was played or concealed. */
  late: number;
  duplicate: number;
  /** Buffered frames dropped because a newer packet pushed the window past them. */
  overflow: number;
  /** Packets larger than maxPayloadBytes. */
  oversize: number;
  underruns: number;
  resyncs: number;
}

export class JitterBuffer {
  readonly targetDelayFrames: number;
  readonly capacityFrames: number;
  private readonly maxPayload: number;
  private readonly silenceByte: number;
  private readonly samplesPerFrame: number;
  private readonly maxJump: number;

  // Slot i holds extended sequence slotExt[i] (-1 = empty); ring index = ext % capacity.
  private readonly slotExt: Float64Array;
  private readonly slotTs: Uint32Array;
  private readonly slotLen: Uint16Array;
  private readonly store: Buffer;
  private readonly out: Buffer;
  private count = 0;

  /** Extended sequence of the next frame to play; -1 before the first packet. */
  private nextExt = -1;
  /** Highest extended sequence seen (reference for unwrapping). */
  private highestExt = -1;
  /** Extended sequence of the last frame played, concealed or skipped. */
  private lastOutExt = -1;
  private playing = false;
  private lastTimestamp = 0;
  private lastLen = 160;
  private readonly s: JitterBufferStats = {
    received: 0, played: 0, lost: 0, late: 0, duplicate: 0, overflow: 0, oversize: 0, underruns: 0, resyncs: 0,
  };

  constructor(options: JitterBufferOptions = {}) {
    this.targetDelayFrames = options.targetDelayFrames ?? 3;
    this.capacityFrames = options.capacityFrames ?? 8;
    this.maxPayload = options.maxPayloadBytes ?? 320;
    this.silenceByte = options.silenceByte ?? 0xff;
    this.samplesPerFrame = options.samplesPerFrame ?? 160;
    this.maxJump = options.maxJump ?? 100;
    if (this.targetDelayFrames < 1 || this.capacityFrames < this.targetDelayFrames) {
      throw new RangeError('need 1 ≤ targetDelayFrames ≤ capacityFrames');
    }
    if (this.maxJump <= this.capacityFrames) throw new RangeError('maxJump must exceed capacityFrames');
    this.slotExt = new Float64Array(this.capacityFrames).fill(-1);
    this.slotTs = new Uint32Array(this.capacityFrames);
    this.slotLen = new Uint16Array(this.capacityFrames);
    this.store = Buffer.alloc(this.capacityFrames * this.maxPayload);
    this.out = Buffer.alloc(this.maxPayload);
  }

  get stats(): Readonly<JitterBufferStats> {
    return this.s;
  }

  /** Frames currently held. */
  get size(): number {
    return this.count;
  }

  /** Add one RTP packet's payload; it is copied, so the caller may reuse its receive buffer. */
  insert(seq: number, timestamp: number, payload: Uint8Array): void {
    if (payload.length > this.maxPayload) {
      this.s.oversize++;
      return;
    }
    this.s.received++;
    if (this.highestExt < 0) {
      // Start one cycle up so a packet just before the first one never has a negative index.
      this.highestExt = this.nextExt = (seq & 0xffff) + 0x10000;
      this.put(this.nextExt, timestamp, payload);
      return;
    }
    // RFC 3550 §A.1: the signed 16-bit distance from the highest sequence seen decides the cycle.
    const delta = ((((seq & 0xffff) - (this.highestExt & 0xffff)) & 0xffff) ^ 0x8000) - 0x8000;
    const ext = this.highestExt + delta;
    if (ext >= this.nextExt + this.maxJump || ext < this.nextExt - this.maxJump) {
      this.resync();
      this.highestExt = this.nextExt = ext;
    }
    // While prebuffering, a packet that overtook an earlier one moves the playout point back to it,
    // unless that frame was already played or concealed.
    if (ext < this.nextExt && !this.playing && ext > this.lastOutExt && this.highestExt - ext < this.capacityFrames) {
      this.nextExt = ext;
    }
    if (ext < this.nextExt) {
      this.s.late++;
      return;
    }
    if (ext > this.highestExt) this.highestExt = ext;
    // Too far ahead for the window: slide playout forward, dropping (and counting) what falls out.
    const minNext = ext - this.capacityFrames + 1;
    while (this.nextExt < minNext) {
      if (this.take(this.nextExt)) this.s.overflow++;
      else this.s.lost++;
      this.lastOutExt = this.nextExt++;
    }
    const i = ext % this.capacityFrames;
    if (this.slotExt[i] === ext) {
      this.s.duplicate++;
      return;
    }
    this.put(ext, timestamp, payload);
  }

  /** Called once per 20 ms tick. Returns the next frame, or null while prebuffering / on underrun. */
  pop(): JitterBufferFrame | null {
    if (this.count === 0) {
      if (this.playing) {
        this.playing = false;
        this.s.underruns++;
      }
      return null;
    }
    if (!this.playing) {
      // Depth counts from the next frame to play up to the newest one buffered.
      if (this.highestExt - this.nextExt + 1 < this.targetDelayFrames) return null;
      this.playing = true;
    }
    const ext = this.nextExt++;
    this.lastOutExt = ext;
    const i = ext % this.capacityFrames;
    if (this.slotExt[i] === ext) {
      const len = this.slotLen[i]!;
      this.store.copy(this.out, 0, i * this.maxPayload, i * this.maxPayload + len);
      this.take(ext);
      this.lastTimestamp = this.slotTs[i]!;
      this.lastLen = len;
      this.s.played++;
      return { kind: 'audio', seq: ext & 0xffff, timestamp: this.lastTimestamp, payload: this.out.subarray(0, len) };
    }
    // A later frame is buffered (count > 0), so this one is lost, not merely not-yet-sent.
    this.s.lost++;
    this.lastTimestamp = (this.lastTimestamp + this.samplesPerFrame) >>> 0;
    this.out.fill(this.silenceByte, 0, this.lastLen);
    return { kind: 'concealed', seq: ext & 0xffff, timestamp: this.lastTimestamp, payload: this.out.subarray(0, this.lastLen) };
  }

  /** Drop everything (e.g. on SSRC change); the next packet starts a new prebuffer. */
  reset(): void {
    this.slotExt.fill(-1);
    this.count = 0;
    this.playing = false;
    this.highestExt = -1;
    this.nextExt = -1;
    this.lastOutExt = -1;
  }

  private resync(): void {
    this.s.resyncs++;
    this.slotExt.fill(-1);
    this.count = 0;
    this.playing = false;
    this.lastOutExt = -1;
  }

  private put(ext: number, timestamp: number, payload: Uint8Array): void {
    const i = ext % this.capacityFrames;
    if (this.slotExt[i] === -1) this.count++;
    this.slotExt[i] = ext;
    this.slotTs[i] = timestamp >>> 0;
    this.slotLen[i] = payload.length;
    this.store.set(payload, i * this.maxPayload);
  }

  private take(ext: number): boolean {
    const i = ext % this.capacityFrames;
    if (this.slotExt[i] !== ext) return false;
    this.slotExt[i] = -1;
    this.count--;
    return true;
  }
}
