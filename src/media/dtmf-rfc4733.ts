/**
 * DTMF as RTP telephone-events (RFC 4733, which obsoletes RFC 2833): the 4-byte event payload, a
 * receiver that turns the redundant packet stream into one digit per event, and a sender that
 * produces the packet sequence for a digit.
 *
 * An event is identified by its RTP timestamp (RFC 4733 §2.5.1.2: every packet of one event carries
 * the event's start timestamp; only the duration field grows). Senders retransmit the start and
 * send the end packet three times (§2.5.1.4), so a receiver must collapse all of them into one
 * digit, and must still finish an event whose end packets were all lost (§2.5.2).
 */

/** RFC 4733 §3.2: events 0-15 are DTMF digits 0-9, *, #, A-D. */
const DTMF_DIGITS = '0123456789*#ABCD';

/** The event code of a DTMF digit (0-9 * # A-D, lowercase a-d accepted), or null. */
export function digitToEvent(digit: string): number | null {
  if (digit.length !== 1) return null;
  const i = DTMF_DIGITS.indexOf(digit.toUpperCase());
  return i < 0 ? null : i;
}

/** The DTMF digit of an event code, or null for non-DTMF events (e.g. 16, flash). */
export function eventToDigit(event: number): string | null {
  return Number.isInteger(event) && event >= 0 && event < DTMF_DIGITS.length ? DTMF_DIGITS[event] : null;
}

export type TelephoneEventErrorCode = 'DTMF_BAD_DIGIT' | 'DTMF_BAD_DURATION' | 'DTMF_BAD_VOLUME' | 'DTMF_BAD_EVENT';

export class TelephoneEventError extends Error {
  override readonly name = 'TelephoneEventError';
  constructor(
    readonly code: TelephoneEventErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The fields of one telephone-event payload (RFC 4733 §2.3). */
export interface TelephoneEvent {
  event: number;
  /** E bit: this packet reports the end of the event. */
  end: boolean;
  /** Power level of the tone, expressed as 0..63 = 0..-63 dBm0. */
  volume: number;
  /** Duration so far, in RTP timestamp units, from the event's timestamp. */
  duration: number;
}

/** Parse the first event of a payload (a redundancy header, RFC 2198, is the caller's business). */
export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (payload.length < 4) return null;
  const flags = payload[1];
  return { event: payload[0], end: (flags & 0x80) !== 0, volume: flags & 0x3f, duration: payload.readUInt16BE(2) };
}

/** Marshal one event payload. The R bit is always 0 (§2.3: reserved, sent as zero). */
export function buildTelephoneEvent(ev: TelephoneEvent, out: Buffer = Buffer.alloc(4)): Buffer {
  if (!Number.isInteger(ev.event) || ev.event < 0 || ev.event > 255) throw new TelephoneEventError('DTMF_BAD_EVENT', `event ${ev.event} out of 0..255`);
  if (!Number.isInteger(ev.volume) || ev.volume < 0 || ev.volume > 63) throw new TelephoneEventError('DTMF_BAD_VOLUME', `volume ${ev.volume} out of 0..63`);
  if (!Number.isInteger(ev.duration) || ev.duration < 0 || ev.duration > 0xffff) throw new TelephoneEventError('DTMF_BAD_DURATION', `duration ${ev.duration} out of 0..65535`);
  out[0] = ev.event;
  out[1] = (ev.end ? 0x80 : 0) | ev.volume;
  out.writeUInt16BE(ev.duration, 2);
  return out;
}

/** A digit reported by TelephoneEventReceiver, once per event. */
export interface TelephoneEventDigit {
  digit: string;
  event: number;
  /** Longest duration seen for the event, in milliseconds. */
  durationMs: number;
  volume: number;
  /** The event's RTP timestamp. */
  timestamp: number;
  /** False when the event was finished without an end packet (next event, or timeout). */
  endReceived: boolean;
}

export interface TelephoneEventReceiverOptions {
  /** RTP clock rate of the telephone-event payload type (rtpmap). Default 8000. */
  clockRate?: number;
  /** An unfinished event with no packet for this long is finished. Default 200 ms. */
  timeoutMs?: number;
  /** Monotonic milliseconds, for `poll()`. Default: performance.now(). Inject a fake in tests. */
  now?: () => number;
}

interface ActiveEvent {
  timestamp: number;
  event: number;
  volume: number;
  /** Duration in RTP units including earlier long-event segments (§2.5.1.3). */
  duration: number;
  /** Duration field of the current segment (resets when a long event starts a new segment). */
  segmentDuration: number;
  segmentTimestamp: number;
  lastPacketMs: number;
}

/** How many finished event timestamps are remembered to drop their late redundant packets. */
const FINISHED_MEMORY = 16;

/** Signed distance a - b in 32-bit RTP timestamp arithmetic (RFC 3550 wrap-around). */
function tsDiff(a: number, b: number): number {
  return ((a - b) | 0);
}

export class TelephoneEventReceiver {
  private readonly clockRate: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private active: ActiveEvent | null = null;
  private readonly finished: number[] = [];
  /** Packets ignored because their payload was shorter than 4 bytes. */
  malformedPackets = 0;

  constructor(options: TelephoneEventReceiverOptions = {}) {
    this.clockRate = options.clockRate ?? 8000;
    this.timeoutMs = options.timeoutMs ?? 200;
    this.now = options.now ?? (() => performance.now());
  }

  /** True while an event has started and not yet finished. */
  get pending(): boolean {
    return this.active !== null;
  }

  /** Feed one telephone-event RTP packet. Returns the digits finished by it (usually 0 or 1). */
  push(rtpTimestamp: number, marker: boolean, payload: Buffer): TelephoneEventDigit[] {
    const ev = parseTelephoneEvent(payload);
    if (!ev) {
      this.malformedPackets++;
      return [];
    }
    const ts = rtpTimestamp >>> 0;
    // Late redundant end packets and retransmitted starts of an event already reported.
    if (this.finished.includes(ts)) return [];
    const out: TelephoneEventDigit[] = [];
    const cur = this.active;
    if (cur && cur.segmentTimestamp !== ts) {
      if (!marker && ev.event === cur.event && this.isNextSegment(cur, ts)) {
        // §2.5.1.3: an event longer than 0xFFFF units continues under a new timestamp, no marker.
        cur.duration += tsDiff(ts, cur.segmentTimestamp) - cur.segmentDuration;
        cur.segmentTimestamp = ts;
        cur.segmentDuration = 0;
      } else if (tsDiff(ts, cur.segmentTimestamp) < 0) {
        // A stray packet of an older event we never saw start: reporting it now would reorder digits.
        return [];
      } else {
        // A new event while the previous one never ended: its end packets were lost (receiver procedures, §2.5.2).
        out.push(this.finish(false));
      }
    }
    const active = this.active ?? this.start(ts, ev);
    active.lastPacketMs = this.now();
    if (ev.duration > active.segmentDuration) {
      active.duration += ev.duration - active.segmentDuration;
      active.segmentDuration = ev.duration;
    }
    if (ev.end) out.push(this.finish(true));
    return out.filter((d) => d.digit !== '');
  }

  /**
   * Note the timestamp of another packet of the same RTP stream (audio). Audio well past the end of
   * an unfinished event means its end packets were lost. Returns the digit finished, if any.
   */
  observeTimestamp(rtpTimestamp: number): TelephoneEventDigit[] {
    const cur = this.active;
    if (!cur) return [];
    const limit = cur.segmentDuration + (this.timeoutMs * this.clockRate) / 1000;
    if (tsDiff(rtpTimestamp >>> 0, cur.segmentTimestamp) <= limit) return [];
    return [this.finish(false)].filter((d) => d.digit !== '');
  }

  /** Finish an event that has had no packet for `timeoutMs` of the injected clock. */
  poll(): TelephoneEventDigit[] {
    const cur = this.active;
    if (!cur || this.now() - cur.lastPacketMs < this.timeoutMs) return [];
    return [this.finish(false)].filter((d) => d.digit !== '');
  }

  /** Finish whatever event is in progress (e.g. at hangup). */
  flush(): TelephoneEventDigit[] {
    return this.active ? [this.finish(false)].filter((d) => d.digit !== '') : [];
  }

  private isNextSegment(cur: ActiveEvent, ts: number): boolean {
    // The new segment starts where the previous one's duration field saturated.
    const d = tsDiff(ts, cur.segmentTimestamp);
    return cur.segmentDuration >= 0xffff - 2 * this.clockRate && d > 0 && d <= 0xffff;
  }

  private start(ts: number, ev: TelephoneEvent): ActiveEvent {
    this.active = {
      timestamp: ts,
      event: ev.event,
      volume: ev.volume,
      duration: 0,
      segmentDuration: 0,
      segmentTimestamp: ts,
      lastPacketMs: 0,
    };
    return this.active;
  }

  /** Ends the active event; non-DTMF events come back with digit '' and are filtered out. */
  private finish(endReceived: boolean): TelephoneEventDigit {
    const cur = this.active;
    if (!cur) throw new Error('finish() without an active event');
    this.active = null;
    this.finished.push(cur.timestamp);
    if (cur.segmentTimestamp !== cur.timestamp) this.finished.push(cur.segmentTimestamp);
    while (this.finished.length > FINISHED_MEMORY) this.finished.shift();
    return {
      digit: eventToDigit(cur.event) ?? '',
      event: cur.event,
      durationMs: Math.round((cur.duration * 1000) / this.clockRate),
      volume: cur.volume,
      timestamp: cur.timestamp,
      endReceived,
    };
  }
}

/** One packet of a telephone-event burst. Sequence numbers and SSRC are the RTP session's. */
export interface TelephoneEventPacket {
  payload: Buffer;
  marker: boolean;
  /** RTP timestamp: the event's start for every packet (§2.5.1.2). */
  timestamp: number;
  /** When to send it, relative to the first packet. */
  offsetMs: number;
}

export interface TelephoneEventBurst {
  event: number;
  /** Total duration in RTP units: the audio timestamp should resume this far after `timestamp`. */
  durationUnits: number;
  packets: TelephoneEventPacket[];
}

export interface TelephoneEventSenderOptions {
  clockRate?: number;
  /** Interval between updates. Default 20 ms (§2.5.1.2 leaves it to the sender; match ptime). */
  packetIntervalMs?: number;
  /** Default volume, 0..63 (-dBm0). Default 10. */
  volume?: number;
  /** Times the end packet is sent (§2.5.1.4 recommends three). Default 3. */
  endPackets?: number;
}

export class TelephoneEventSender {
  private readonly clockRate: number;
  private readonly intervalMs: number;
  private readonly volume: number;
  private readonly endPackets: number;

  constructor(options: TelephoneEventSenderOptions = {}) {
    this.clockRate = options.clockRate ?? 8000;
    this.intervalMs = options.packetIntervalMs ?? 20;
    this.volume = options.volume ?? 10;
    this.endPackets = options.endPackets ?? 3;
  }

  /**
   * The packets for one digit starting at `timestamp`: the first has the marker bit (§2.5.1.2),
   * each update reports the duration so far, and the final duration goes out `endPackets` times
   * with the E bit, one packet interval apart.
   */
  packetsFor(digit: string, timestamp: number, opts: { durationMs?: number; volume?: number } = {}): TelephoneEventBurst {
    const event = digitToEvent(digit);
    if (event === null) throw new TelephoneEventError('DTMF_BAD_DIGIT', `not a DTMF digit: ${JSON.stringify(digit)}`);
    const durationMs = opts.durationMs ?? 100;
    const volume = opts.volume ?? this.volume;
    const step = Math.round((this.intervalMs * this.clockRate) / 1000);
    const total = Math.round((durationMs * this.clockRate) / 1000);
    // One segment only: longer events would need §2.5.1.3 segmentation, which no DTMF needs.
    if (!(total >= step && total <= 0xffff)) {
      throw new TelephoneEventError('DTMF_BAD_DURATION', `duration ${durationMs} ms out of ${this.intervalMs}..${Math.floor((0xffff * 1000) / this.clockRate)} ms`);
    }
    const ts = timestamp >>> 0;
    const packets: TelephoneEventPacket[] = [];
    let n = 0;
    for (let d = step; d < total; d += step, n++) {
      packets.push({ payload: buildTelephoneEvent({ event, end: false, volume, duration: d }), marker: n === 0, timestamp: ts, offsetMs: n * this.intervalMs });
    }
    for (let i = 0; i < this.endPackets; i++, n++) {
      packets.push({ payload: buildTelephoneEvent({ event, end: true, volume, duration: total }), marker: n === 0, timestamp: ts, offsetMs: n * this.intervalMs });
    }
    return { event, durationUnits: total, packets };
  }
}
