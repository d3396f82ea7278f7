/**
 * The SRTP hook of an RtpSession: every RTP and RTCP packet it sends goes through `protect*`, every
 * one it receives through `unprotect*` (RFC 3711). With SDES (RFC 4568) each side sends with its
 * own master key, so a transform holds two SrtpContexts: `outbound` (our key) and `inbound` (the
 * peer's key).
 *
 * SRTCP tag length with AES_CM_128_HMAC_SHA1_32: RFC 4568 §6.2.2 keeps the SRTCP tag at 80 bits,
 * which libsrtp does; libre/baresip uses 32 bits. We accept both on receive (a second inbound
 * context checks the short tag when the long one fails) and, once the peer's SRTCP authenticated
 * with one length, send ours with the same length. Until then we send the RFC's 80 bits.
 *
 * Packets that fail (authentication, replay, malformed) are dropped and counted, never thrown.
 */
import { SrtpContext, type SrtpKeys, type SrtpProfile } from './srtp-context.js';

export interface SrtpTransformStats {
  profile: SrtpProfile;
  rtpProtected: number;
  rtpUnprotected: number;
  rtcpProtected: number;
  rtcpUnprotected: number;
  /** Received packets dropped: tag did not verify (includes plain RTP arriving on a secure session). */
  authFailures: number;
  /** Received packets dropped as replays or too old for the window (RFC 3711 §3.3.2). */
  replays: number;
  /** Received datagrams too short to be SRTP/SRTCP. */
  malformed: number;
}

/** Master key and salt of each direction: `local` is ours (we protect with it), `remote` the peer's. */
export interface SrtpKeyPair {
  local: SrtpKeys;
  remote: SrtpKeys;
}

export class SrtpTransform {
  readonly profile: SrtpProfile;
  private readonly counts = { rtpProtected: 0, rtpUnprotected: 0, rtcpProtected: 0, rtcpUnprotected: 0, authFailures: 0, replays: 0, malformed: 0 };
  /** _32 only: SRTCP with a 32-bit tag, libre's way (see header). */
  private readonly inboundShortRtcp: SrtpContext | null;
  private readonly outboundShortRtcp: SrtpContext | null;
  private sendShortRtcp = false;
  private replaysBefore = 0;
  private malformedBefore = 0;

  constructor(
    readonly outbound: SrtpContext,
    readonly inbound: SrtpContext,
    shortRtcp: { outbound: SrtpContext; inbound: SrtpContext } | null = null,
  ) {
    if (outbound.profile !== inbound.profile) throw new RangeError('SrtpTransform: both directions must use one profile');
    this.profile = outbound.profile;
    this.inboundShortRtcp = shortRtcp?.inbound ?? null;
    this.outboundShortRtcp = shortRtcp?.outbound ?? null;
  }

  /** Both directions' contexts from SDES keys; for _32 also the 32-bit-SRTCP pair. */
  static fromKeys(profile: SrtpProfile, keys: SrtpKeyPair): SrtpTransform {
    const short =
      profile === 'AES_CM_128_HMAC_SHA1_32'
        ? { outbound: new SrtpContext(profile, keys.local, { srtcpAuthTagBits: 32 }), inbound: new SrtpContext(profile, keys.remote, { srtcpAuthTagBits: 32 }) }
        : null;
    return new SrtpTransform(new SrtpContext(profile, keys.local), new SrtpContext(profile, keys.remote), short);
  }

  protectRtp(packet: Buffer): Buffer {
    this.counts.rtpProtected++;
    return this.outbound.protectRtp(packet);
  }

  unprotectRtp(packet: Buffer): Buffer | null {
    this.mark();
    const plain = this.inbound.unprotectRtp(packet);
    if (plain) this.counts.rtpUnprotected++;
    else this.countDrop();
    return plain;
  }

  protectRtcp(packet: Buffer): Buffer {
    this.counts.rtcpProtected++;
    const context = this.sendShortRtcp && this.outboundShortRtcp ? this.outboundShortRtcp : this.outbound;
    return context.protectRtcp(packet);
  }

  unprotectRtcp(packet: Buffer): Buffer | null {
    this.mark();
    let plain = this.inbound.unprotectRtcp(packet);
    if (this.inboundShortRtcp) {
      if (plain) this.sendShortRtcp = false;
      else {
        plain = this.inboundShortRtcp.unprotectRtcp(packet);
        if (plain) this.sendShortRtcp = true; // answer in the peer's dialect
      }
    }
    if (plain) this.counts.rtcpUnprotected++;
    else this.countDrop();
    return plain;
  }

  /** Before an unprotect: the primary inbound context's counters, to tell why it dropped a packet. */
  private mark(): void {
    this.replaysBefore = this.inbound.stats.replays;
    this.malformedBefore = this.inbound.stats.malformed;
  }

  /** Counts come from the primary inbound context's verdict; a packet is counted once. */
  private countDrop(): void {
    const s = this.inbound.stats;
    if (s.replays > this.replaysBefore) this.counts.replays++;
    else if (s.malformed > this.malformedBefore) this.counts.malformed++;
    else this.counts.authFailures++;
  }

  stats(): SrtpTransformStats {
    return { profile: this.profile, ...this.counts };
  }
}
