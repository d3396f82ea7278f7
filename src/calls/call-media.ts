/**
 * A call's media once answered: its RTP session, the caller's DTMF (every method) and audio, and
 * what the call plays and sends (prompts, digits). The Call owns one of these from the 200 OK to the
 * end of the call and delegates every media operation of CallControl to it.
 */
import { RtpSession } from '../media/rtp-session.js';
import type { PlaybackOutcome } from '../verbs/call-control.js';
import type { NegotiatedAudio } from '../sip/offer-answer.js';
import { dtmfTone } from '../media/dtmf-tone-generator.js';
import { DtmfInput, type DtmfDigit } from './dtmf-input.js';

/** Key press and gap lengths for outgoing digits (about ten keys a second, like Twilio). */
const DIGIT_TONE_MS = 100;
const DIGIT_GAP_MS = 60;

export interface CallMediaEvents {
  /** A key the caller pressed (reported when released, for RFC 4733). */
  digit(d: DtmfDigit): void;
  /** The caller started pressing a key (RFC 4733 only; other methods report the digit at once). */
  keyDown(): void;
  /** A digit we sent. */
  sent(digit: string, method: 'rfc4733' | 'inband'): void;
}

export class CallMedia {
  private audio: NegotiatedAudio;
  private readonly dtmf: DtmfInput;

  constructor(
    readonly rtp: RtpSession,
    audio: NegotiatedAudio,
    private readonly events: CallMediaEvents,
  ) {
    this.audio = audio;
    rtp.configure(audio);
    this.dtmf = new DtmfInput(rtp, () => this.audio.telephoneEventPayloadType);
    this.dtmf.on('digit', (d) => events.digit(d));
    this.dtmf.on('key-down', () => events.keyDown());
  }

  /** What the last offer/answer settled: codec, payload types, remote address. */
  get negotiated(): NegotiatedAudio {
    return this.audio;
  }

  get localPort(): number {
    return this.rtp.localPort;
  }

  /** A re-INVITE's new description (address, hold, codec, telephone-event). */
  configure(audio: NegotiatedAudio): void {
    this.audio = audio;
    this.rtp.configure(audio);
  }

  /** A digit from a SIP INFO request. */
  pushInfoDigit(digit: string, durationMs: number | null): void {
    this.dtmf.pushInfo(digit, durationMs);
  }

  play(samples: Int16Array, signal: AbortSignal): Promise<PlaybackOutcome> {
    return this.rtp.output.play(samples, signal);
  }

  onAudio(listener: (samples: Int16Array) => void): () => void {
    const handler = (pcm: Int16Array): void => listener(pcm);
    this.rtp.on('audio', handler);
    return () => this.rtp.off('audio', handler);
  }

  /**
   * Sends one DTMF key: an RFC 4733 event when the far end negotiated telephone-event, else the
   * key's tones in the audio. Resolves after the key and a short inter-digit gap; rejects with the
   * signal's reason when aborted.
   */
  async sendDigit(key: string, signal: AbortSignal, sleep: (ms: number, signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.rtp.canSendTelephoneEvents) {
      const onAbort = (): void => this.rtp.telephoneEvents.clear();
      signal.addEventListener('abort', onAbort, { once: true });
      const sent = await this.rtp.telephoneEvents.enqueue(key, DIGIT_TONE_MS).finally(() => signal.removeEventListener('abort', onAbort));
      if (!sent) throw signal.reason ?? new Error('digit cleared');
      await sleep(DIGIT_GAP_MS, signal);
      this.events.sent(key, 'rfc4733');
      return;
    }
    const tone = new Int16Array(Math.round(((DIGIT_TONE_MS + DIGIT_GAP_MS) * 8000) / 1000));
    tone.set(dtmfTone(key, DIGIT_TONE_MS));
    if ((await this.play(tone, signal)) !== 'finished') throw signal.reason ?? new Error('digit cleared');
    this.events.sent(key, 'inband');
  }

  stats(): ReturnType<RtpSession['stats']> {
    return this.rtp.stats();
  }

  async close(): Promise<void> {
    this.dtmf.close();
    await this.rtp.close();
  }
}
