/**
 * Energy-based voice activity detector for 8 kHz 16-bit mono audio in 20 ms frames (any frame
 * length works; time advances by its duration).
 *
 * A frame is "active" when its level (dBFS, RMS) is at least `thresholdDb` above an adaptive noise
 * floor *and* above `minSpeechDb`. Speech starts after `attackFrames` consecutive active frames (so a
 * click or a single pop is not speech) and stops after `hangoverMs` without an active frame (so the
 * gaps between words do not split an utterance). Each utterance emits exactly one `speech-started` and
 * one `speech-stopped`.
 *
 * The noise floor follows quiet frames quickly downwards and slowly upwards; while frames are active it
 * still creeps up very slowly, so a sustained jump in background noise (a fan switched on) eventually
 * stops counting as speech instead of holding the detector on forever.
 */

export interface VoiceActivityDetectorOptions {
  sampleRate?: number;
  /** dB above the noise floor for a frame to be active. Default 10. */
  thresholdDb?: number;
  /** Absolute dBFS below which a frame is never active, whatever the floor. Default -55. */
  minSpeechDb?: number;
  /** Consecutive active frames before speech starts. Default 3 (60 ms). */
  attackFrames?: number;
  /** Inactive time after the last active frame before speech stops. Default 400 ms. */
  hangoverMs?: number;
  /** Noise floor assumed before any audio. Default -50 dBFS (quiet line, not digital zero). */
  initialFloorDb?: number;
  /** The floor never goes below this (digital silence would otherwise make any hiss "speech"). Default -70. */
  minFloorDb?: number;
  /** Floor rise per quiet frame, dB. Default 0.5 (25 dB/s). */
  floorRiseDb?: number;
  /** Floor rise per active frame, dB. Default 0.01 (0.5 dB/s). */
  floorRiseActiveDb?: number;
  /** Fraction of the gap closed per frame when the level is below the floor. Default 0.5. */
  floorFall?: number;
}

export interface VoiceActivityEvent {
  type: 'speech-started' | 'speech-stopped';
  /**
   * Stream time (ms) of the transition itself: for a start, the beginning of the first active frame
   * of the attack; for a stop, the end of the last active frame.
   */
  atMs: number;
  /** Stream time (ms) at the end of the frame that triggered the event (atMs + attack or hangover). */
  detectedAtMs: number;
}

const FULL_SCALE_SQ = 32768 * 32768;

export class VoiceActivityDetector {
  private readonly sampleRate: number;
  private readonly thresholdDb: number;
  private readonly minSpeechDb: number;
  private readonly attackFrames: number;
  private readonly hangoverMs: number;
  private readonly minFloorDb: number;
  private readonly floorRiseDb: number;
  private readonly floorRiseActiveDb: number;
  private readonly floorFall: number;
  private readonly initialFloorDb: number;

  private floorDb: number;
  private nowMs = 0;
  private inSpeech = false;
  private activeRun = 0;
  private runStartMs = 0;
  private lastActiveEndMs = 0;
  private lastLevelDb = -Infinity;

  constructor(options: VoiceActivityDetectorOptions = {}) {
    this.sampleRate = options.sampleRate ?? 8000;
    this.thresholdDb = options.thresholdDb ?? 10;
    this.minSpeechDb = options.minSpeechDb ?? -55;
    this.attackFrames = options.attackFrames ?? 3;
    this.hangoverMs = options.hangoverMs ?? 400;
    this.initialFloorDb = options.initialFloorDb ?? -50;
    this.minFloorDb = options.minFloorDb ?? -70;
    this.floorRiseDb = options.floorRiseDb ?? 0.5;
    this.floorRiseActiveDb = options.floorRiseActiveDb ?? 0.01;
    this.floorFall = options.floorFall ?? 0.5;
    if (this.attackFrames < 1) throw new RangeError('attackFrames must be ≥ 1');
    if (!(this.floorFall > 0 && this.floorFall <= 1)) throw new RangeError('floorFall must be in (0, 1]');
    this.floorDb = this.initialFloorDb;
  }

  /** True between speech-started and speech-stopped. */
  get speaking(): boolean {
    return this.inSpeech;
  }

  get noiseFloorDb(): number {
    return this.floorDb;
  }

  /** Level of the last frame, dBFS. */
  get levelDb(): number {
    return this.lastLevelDb;
  }

  /** Stream time (ms) at the end of the last processed frame. */
  get timeMs(): number {
    return this.nowMs;
  }

  /** Feed one frame; returns the transition it caused, if any (at most one per frame). */
  process(frame: Int16Array): VoiceActivityEvent | null {
    if (frame.length === 0) return null;
    let sum = 0;
    for (let i = 0; i < frame.length; i++) {
      const v = frame[i]!;
      sum += v * v;
    }
    const level = 10 * Math.log10(sum / frame.length / FULL_SCALE_SQ + 1e-12);
    this.lastLevelDb = level;
    const startMs = this.nowMs;
    this.nowMs += (frame.length * 1000) / this.sampleRate;

    const active = level >= this.floorDb + this.thresholdDb && level >= this.minSpeechDb;
    this.adaptFloor(level, active);

    let event: VoiceActivityEvent | null = null;
    if (active) {
      if (this.activeRun === 0) this.runStartMs = startMs;
      this.activeRun++;
      this.lastActiveEndMs = this.nowMs;
      if (!this.inSpeech && this.activeRun >= this.attackFrames) {
        this.inSpeech = true;
        event = { type: 'speech-started', atMs: this.runStartMs, detectedAtMs: this.nowMs };
      }
    } else {
      this.activeRun = 0;
      if (this.inSpeech && this.nowMs - this.lastActiveEndMs >= this.hangoverMs) {
        this.inSpeech = false;
        event = { type: 'speech-stopped', atMs: this.lastActiveEndMs, detectedAtMs: this.nowMs };
      }
    }
    return event;
  }

  /** Forget all state (new stream); time restarts at 0. */
  reset(): void {
    this.floorDb = this.initialFloorDb;
    this.nowMs = 0;
    this.inSpeech = false;
    this.activeRun = 0;
    this.lastActiveEndMs = 0;
    this.lastLevelDb = -Infinity;
  }

  private adaptFloor(level: number, active: boolean): void {
    if (level < this.floorDb) {
      this.floorDb += (level - this.floorDb) * this.floorFall;
    } else {
      const rise = active ? this.floorRiseActiveDb : this.floorRiseDb;
      this.floorDb = Math.min(level, this.floorDb + rise);
    }
    if (this.floorDb < this.minFloorDb) this.floorDb = this.minFloorDb;
  }
}
