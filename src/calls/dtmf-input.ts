/**
 * The caller's DTMF, whichever way their side sends it, as one stream of digits:
 * - RFC 4733 telephone-events in the RTP stream (redundant end packets counted once, lost ends
 *   finished by the audio that follows or by a timeout);
 * - SIP INFO with application/dtmf-relay or application/dtmf bodies (the Call feeds them in);
 * - in-band tones found in the audio by a Goertzel detector, only when the call negotiated no
 *   telephone-event (otherwise the same key would count twice, once per method).
 */
import { EventEmitter } from 'node:events';
import type { RtpPacket } from '../media/rtp-packet.js';
import type { RtpSession } from '../media/rtp-session.js';
import { TelephoneEventReceiver } from '../media/dtmf-rfc4733.js';
import { GoertzelDtmfDetector } from '../media/dtmf-goertzel.js';

export type DtmfSource = 'rfc4733' | 'info' | 'inband';

export interface DtmfDigit {
  digit: string;
  source: DtmfSource;
  /** Key press length when the method tells it. */
  durationMs: number | null;
}

export interface DtmfInputEvents {
  digit: [DtmfDigit];
  /**
   * A key went down: the first packet of an RFC 4733 event. Its digit is reported when the key is
   * released, but prompts must stop as soon as the caller presses (barge-in).
   */
  'key-down': [];
}

/** How often an unfinished telephone-event is checked for a lost end (no packets for 200 ms). */
const END_POLL_MS = 50;

export class DtmfInput extends EventEmitter<DtmfInputEvents> {
  private readonly receiver = new TelephoneEventReceiver();
  private readonly tones = new GoertzelDtmfDetector();
  private pollTimer: NodeJS.Timeout | null = null;
  /** RTP timestamp of the last event that reported key-down (its later packets share it, §2.5.1.2). */
  private lastKeyDownTimestamp: number | null = null;
  private readonly onRtp = (packet: RtpPacket): void => this.handleRtp(packet);
  private readonly onAudio = (pcm: Int16Array, info: { timestamp: number }): void => this.handleAudio(pcm, info.timestamp);

  constructor(
    private readonly rtp: RtpSession,
    /** The negotiated telephone-event payload type, read at each packet (a re-INVITE may change it). */
    private readonly telephoneEventPt: () => number | null,
  ) {
    super();
    rtp.on('rtp', this.onRtp);
    rtp.on('audio', this.onAudio);
  }

  /** A digit from a SIP INFO request. */
  pushInfo(digit: string, durationMs: number | null): void {
    this.emit('digit', { digit, source: 'info', durationMs });
  }

  close(): void {
    this.rtp.off('rtp', this.onRtp);
    this.rtp.off('audio', this.onAudio);
    this.stopPolling();
    for (const d of this.receiver.flush()) this.emit('digit', { digit: d.digit, source: 'rfc4733', durationMs: d.durationMs });
  }

  private handleRtp(packet: RtpPacket): void {
    const pt = this.telephoneEventPt();
    if (pt === null || packet.payloadType !== pt) return;
    const event = packet.payload.length >= 4 ? packet.payload[0]! : 0xff;
    if (event <= 15 && packet.timestamp !== this.lastKeyDownTimestamp) {
      this.lastKeyDownTimestamp = packet.timestamp;
      this.emit('key-down');
    }
    this.report(this.receiver.push(packet.timestamp, packet.marker, packet.payload));
    // Polled only while an event is open: a lost end packet must not leave the digit hanging.
    if (this.receiver.pending && !this.pollTimer) {
      this.pollTimer = setInterval(() => {
        this.report(this.receiver.poll());
        if (!this.receiver.pending) this.stopPolling();
      }, END_POLL_MS);
      this.pollTimer.unref();
    } else if (!this.receiver.pending) {
      this.stopPolling();
    }
  }

  private handleAudio(pcm: Int16Array, timestamp: number): void {
    if (this.telephoneEventPt() !== null) {
      // Audio well past an unfinished event means its end packets were lost.
      this.report(this.receiver.observeTimestamp(timestamp));
      return;
    }
    for (const digit of this.tones.push(pcm)) this.emit('digit', { digit, source: 'inband', durationMs: null });
  }

  private report(digits: { digit: string; durationMs: number }[]): void {
    for (const d of digits) this.emit('digit', { digit: d.digit, source: 'rfc4733', durationMs: d.durationMs });
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
