/**
 * Reception statistics for one RTP source (RFC 3550 Appendix A.1, A.3, A.8): extended highest
 * sequence number, cumulative and interval loss, and interarrival jitter — the numbers an RTCP
 * report block carries.
 */
import type { ReceptionReport } from './rtcp.js';

export class RtpReceiveStats {
  /** SSRC of the source being tracked, null before the first packet. */
  ssrc: number | null = null;
  received = 0;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private jitter = 0;
  private lastTransit: number | null = null;
  private expectedPrior = 0;
  private receivedPrior = 0;

  /**
   * Account for one packet. `arrival` is its arrival time in timestamp units (ms × clock rate
   * / 1000), so jitter comes out in timestamp units as §6.4.1 requires.
   */
  update(ssrc: number, seq: number, timestamp: number, arrival: number): void {
    if (this.ssrc !== ssrc) this.reset(ssrc, seq);
    this.received++;
    // A.1: a forward step of less than half the sequence space advances maxSeq (wrapping counts
    // a cycle); anything else is a duplicate or reordered packet.
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    // A.8: J += (|D| - J) / 16, with D the change in transit time between consecutive packets.
    const transit = arrival - timestamp;
    if (this.lastTransit !== null) {
      let d = transit - this.lastTransit;
      // RTP timestamps wrap at 2^32; fold the difference back into range.
      if (d > 0x80000000) d -= 0x100000000;
      else if (d < -0x80000000) d += 0x100000000;
      this.jitter += (Math.abs(d) - this.jitter) / 16;
    }
    this.lastTransit = transit;
  }

  get extendedHighestSequence(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.ssrc === null ? 0 : this.extendedHighestSequence - this.baseSeq + 1;
  }

  /** Cumulative packets lost (A.3); negative when duplicates arrived. */
  get lost(): number {
    return this.expected - this.received;
  }

  /** Interarrival jitter in timestamp units. */
  get jitterUnits(): number {
    return this.jitter;
  }

  /** Build a report block and start a new reporting interval (A.3 fraction lost). */
  report(lastSenderReport: number, delaySinceLastSenderReport: number): ReceptionReport | null {
    if (this.ssrc === null) return null;
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    return {
      ssrc: this.ssrc,
      fractionLost: Math.min(255, fractionLost),
      packetsLost: this.lost,
      highestSequence: this.extendedHighestSequence >>> 0,
      jitter: Math.round(this.jitter),
      lastSenderReport,
      delaySinceLastSenderReport,
    };
  }

  /** A new SSRC is a new source (A.1): statistics start over. */
  private reset(ssrc: number, seq: number): void {
    this.ssrc = ssrc;
    this.received = 0;
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.cycles = 0;
    this.jitter = 0;
    this.lastTransit = null;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
  }
}
