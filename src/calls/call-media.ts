/**
 * A call's media once answered: its RTP session, the caller's DTMF (every method) and audio, and
 * what the call plays and sends (prompts, digits). The Call owns one of these from the 200 OK to the
 * end of the call and delegates every media operation of CallControl to it.
 *
 * SRTP: what offer/answer agreed (`NegotiatedAudio.srtp`, SDES keys) becomes the RTP session's
 * SrtpTransform. A re-INVITE that keeps both keys keeps the transform (and its rollover counters
 * and replay windows); a changed key starts new contexts (RFC 4568 §7.1.4). A secure call never
 * falls back to plain RTP: a later description without SRTP leaves the transform in place, so a
 * downgrade costs audio, never confidentiality.
 */
import { RtpSession } from '../media/rtp-session.js';
import { SrtpTransform } from '../media/srtp-transform.js';
import type { PlaybackOutcome } from '../verbs/call-control.js';
import type { LocalSrtp, NegotiatedAudio } from '../sip/offer-answer.js';
import { cryptoKeys, type CryptoSuite } from '../sip/sdp-crypto.js';
import type { NegotiatedSrtp, SrtpPolicy } from '../sip/sdes-negotiation.js';
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

/** Same key material (key and salt) in two SDES lines. */
function sameKey(a: NegotiatedSrtp['local'], b: NegotiatedSrtp['local']): boolean {
  return a.keyParams[0].keySalt.equals(b.keyParams[0].keySalt);
}

export class CallMedia {
  private audio: NegotiatedAudio;
  private readonly dtmf: DtmfInput;
  private srtp: NegotiatedSrtp | null = null;

  /** `srtpPolicy`: the call's SRTP policy, which later offers on the call are answered under. */
  constructor(
    readonly rtp: RtpSession,
    audio: NegotiatedAudio,
    private readonly events: CallMediaEvents,
    readonly srtpPolicy: SrtpPolicy = 'optional',
  ) {
    this.audio = audio;
    this.applySrtp(audio.srtp ?? null);
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

  /** A re-INVITE's new description (address, hold, codec, telephone-event, SRTP keys). */
  configure(audio: NegotiatedAudio): void {
    this.audio = audio;
    this.applySrtp(audio.srtp ?? null);
    this.rtp.configure(audio);
  }

  /** The SRTP suite protecting the media; null for plain RTP. */
  get srtpSuite(): CryptoSuite | null {
    return this.srtp?.suite ?? null;
  }

  /** What a re-INVITE on this call is answered with: the call's policy and the keys in force (kept, §7.1.4). */
  get localSrtp(): LocalSrtp {
    return { policy: this.srtpPolicy, current: this.srtp };
  }

  private applySrtp(next: NegotiatedSrtp | null): void {
    const current = this.srtp;
    if (!next) return; // never downgrade (see header); a plain call stays plain
    if (current && current.suite === next.suite && sameKey(current.local, next.local) && sameKey(current.remote, next.remote)) {
      this.srtp = next; // same keys: keep the contexts and their ROC/replay state
      return;
    }
    this.srtp = next;
    this.rtp.setSecure(SrtpTransform.fromKeys(next.suite, { local: cryptoKeys(next.local), remote: cryptoKeys(next.remote) }));
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
