/**
 * Outgoing RFC 4733 DTMF for one RTP session: digits wait in a queue and go out one packet per
 * media-clock tick, in place of the audio frame of that tick, so events share the audio stream's
 * SSRC, sequence numbers and timestamp clock (§2.5.1.2). The RTP session asks `next()` on every tick.
 */
import { TelephoneEventSender, type TelephoneEventPacket } from './dtmf-rfc4733.js';

interface QueuedDigit {
  digit: string;
  durationMs: number;
  done: (sent: boolean) => void;
}

interface ActiveBurst {
  packets: TelephoneEventPacket[];
  index: number;
  done: (sent: boolean) => void;
}

export class TelephoneEventOutput {
  private readonly sender: TelephoneEventSender;
  private readonly queue: QueuedDigit[] = [];
  private current: ActiveBurst | null = null;

  constructor(frameMs: number, clockRate = 8000) {
    this.sender = new TelephoneEventSender({ clockRate, packetIntervalMs: frameMs });
  }

  /** True while a digit is being sent or waits to be. */
  get busy(): boolean {
    return this.current !== null || this.queue.length > 0;
  }

  /**
   * Queues one digit (`0-9 * # A-D`). Resolves true when its last end packet has been handed to the
   * socket, false when it was cleared first. Throws TelephoneEventError for a non-DTMF character.
   */
  enqueue(digit: string, durationMs: number): Promise<boolean> {
    // Validate now, so a bad digit fails its caller instead of a later clock tick.
    this.sender.packetsFor(digit, 0, { durationMs });
    return new Promise<boolean>((done) => this.queue.push({ digit, durationMs, done }));
  }

  /**
   * The packet to send on this tick instead of audio, or null. `timestamp` is the RTP timestamp the
   * tick's audio frame would have had: a new event starts there.
   */
  next(timestamp: number): TelephoneEventPacket | null {
    if (!this.current) {
      const queued = this.queue.shift();
      if (!queued) return null;
      const burst = this.sender.packetsFor(queued.digit, timestamp, { durationMs: queued.durationMs });
      this.current = { packets: burst.packets, index: 0, done: queued.done };
    }
    const burst = this.current;
    const packet = burst.packets[burst.index++]!;
    if (burst.index >= burst.packets.length) {
      this.current = null;
      burst.done(true);
    }
    return packet;
  }

  /** Drops everything queued or in progress (hangup, barge-in); their promises resolve false. */
  clear(): void {
    const pending = [...(this.current ? [this.current.done] : []), ...this.queue.map((q) => q.done)];
    this.current = null;
    this.queue.length = 0;
    for (const done of pending) done(false);
  }
}
