/**
 * Per-call playout queue of 8 kHz 16-bit PCM, drained one frame per media-clock tick.
 *
 * Clips are concatenated sample-accurately: when a clip ends in the middle of a frame, the next
 * queued clip continues in the same frame, so back-to-back prompts (TTS sentence after sentence)
 * play without gaps or clicks. A clip's promise settles when its last sample has been pulled
 * (i.e. handed to the RTP sender), when its AbortSignal fires, or when the queue is cleared.
 */

export type PlayResult = 'finished' | 'aborted' | 'cleared';

interface Clip {
  samples: Int16Array;
  offset: number;
  resolve: (r: PlayResult) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class AudioOutput {
  private clips: Clip[] = [];
  private queued = 0;

  /** Samples still waiting to be pulled, across all clips. */
  get queuedSamples(): number {
    return this.queued;
  }

  /** True when nothing is queued. */
  get idle(): boolean {
    return this.clips.length === 0;
  }

  /** Queue `samples` (8 kHz mono PCM) after whatever is already queued. */
  play(samples: Int16Array, signal?: AbortSignal): Promise<PlayResult> {
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<PlayResult>((resolve) => {
      const clip: Clip = { samples, offset: 0, resolve, signal, onAbort: undefined };
      if (signal) {
        clip.onAbort = () => this.abortClip(clip);
        signal.addEventListener('abort', clip.onAbort, { once: true });
      }
      this.clips.push(clip);
      this.queued += samples.length;
    });
  }

  /** Drop everything queued; pending plays resolve 'cleared'. */
  clear(): void {
    const clips = this.clips;
    this.clips = [];
    this.queued = 0;
    for (const c of clips) this.settle(c, 'cleared');
  }

  /**
   * Fill `out` (normally 160 samples = 20 ms) with the next queued audio, padding with silence
   * once the queue runs dry. Returns false, with `out` all zero, when nothing was queued.
   */
  pullFrame(out: Int16Array): boolean {
    if (this.clips.length === 0) {
      out.fill(0);
      return false;
    }
    let filled = 0;
    // Empty clips (markers) right behind the audio just pulled settle now, not a frame later.
    while (this.clips.length > 0 && (filled < out.length || this.clips[0]!.offset >= this.clips[0]!.samples.length)) {
      const clip = this.clips[0];
      const n = Math.min(out.length - filled, clip.samples.length - clip.offset);
      if (n > 0) {
        // A plain loop rather than set(subarray(...)): no view object per frame on the hot path.
        const src = clip.samples;
        for (let i = 0, j = clip.offset; i < n; i++, j++) out[filled + i] = src[j];
        clip.offset += n;
        filled += n;
        this.queued -= n;
      }
      if (clip.offset >= clip.samples.length) {
        this.clips.shift();
        this.settle(clip, 'finished');
      }
    }
    if (filled < out.length) out.fill(0, filled);
    return true;
  }

  private abortClip(clip: Clip): void {
    const i = this.clips.indexOf(clip);
    if (i < 0) return; // already finished or cleared
    this.clips.splice(i, 1);
    this.queued -= clip.samples.length - clip.offset;
    this.settle(clip, 'aborted');
  }

  private settle(clip: Clip, result: PlayResult): void {
    if (clip.signal && clip.onAbort) clip.signal.removeEventListener('abort', clip.onAbort);
    clip.resolve(result);
  }
}
