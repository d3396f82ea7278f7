/**
 * SRTP and SRTCP (RFC 3711) with the AES-CM cipher and HMAC-SHA1 authentication, i.e. the two
 * SDES crypto suites AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 (RFC 4568 §6.2).
 *
 * One `SrtpContext` holds the session keys derived from one master key (§4.3, key derivation rate
 * 0, no MKI) and the per-SSRC state that goes with them: rollover counter and highest sequence
 * number (§3.3.1), the 64-packet replay window (§3.3.2) and the SRTCP index (§3.4). With SDES
 * each side sends with its own key, so a call leg uses two contexts: one built from our key for
 * `protect*`, one built from the peer's key for `unprotect*`. Send and receive state are kept
 * apart, so one context can also do both (loopback, tests).
 *
 * `unprotect*` never throws on bad input: a datagram that is malformed, replayed or fails
 * authentication yields `null` and is counted in `stats`. State is only created or advanced by
 * packets that authenticated, so forged packets cannot move the ROC or grow the SSRC maps.
 */
import { createCipheriv, createHash, timingSafeEqual, type Cipher, type Hash } from 'node:crypto';

export type SrtpProfile = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';
export const SRTP_PROFILES: readonly SrtpProfile[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

/** Master key (16 bytes) and master salt (14 bytes), as carried in an SDES `inline:` key. */
export interface SrtpKeys {
  masterKey: Buffer;
  masterSalt: Buffer;
}

export interface SrtpOptions {
  /**
   * SRTCP tag length. RFC 4568 §6.2.2 and RFC 5764 §4.1.2 keep SRTCP at 80 bits for the _32
   * suite too (RFC 3711 §7.5: short tags are only for RTP), which is what libsrtp does. Some
   * stacks (libre/baresip) use the SRTP tag length for SRTCP as well; 32 interoperates with them.
   */
  srtcpAuthTagBits?: 80 | 32;
}

export type SrtpErrorCode = 'SRTP_BAD_KEY' | 'SRTP_BAD_PROFILE' | 'SRTP_BAD_PACKET';

export class SrtpError extends Error {
  readonly code: SrtpErrorCode;
  constructor(code: SrtpErrorCode, message: string) {
    super(message);
    this.name = 'SrtpError';
    this.code = code;
  }
}

export interface SrtpStats {
  /** Packets whose authentication tag did not verify. */
  authFailures: number;
  /** Packets already received, or older than the replay window (§3.3.2). */
  replays: number;
  /** Datagrams too short or otherwise not parseable as (S)RTP/(S)RTCP. */
  malformed: number;
}

export const SRTP_MASTER_KEY_LENGTH = 16;
export const SRTP_MASTER_SALT_LENGTH = 14;
const SESSION_AUTH_KEY_LENGTH = 20; // n_a = 160 bits for HMAC-SHA1 (§4.2.1, §8.2)
const REPLAY_WINDOW_SIZE = 64;
const SRTCP_E_BIT = 0x80000000;
const SRTCP_INDEX_MASK = 0x7fffffff;

/** Key derivation labels (§4.3.2 for SRTP, §4.3.2 and §3.4 for SRTCP). */
const enum Label {
  RtpEncryption = 0,
  RtpAuth = 1,
  RtpSalt = 2,
  RtcpEncryption = 3,
  RtcpAuth = 4,
  RtcpSalt = 5,
}

/**
 * AES in counter mode as SRTP defines it (§4.1.1): the 16-byte counter block is the 14-byte IV
 * followed by a 16-bit block counter, and the keystream is AES_k(block) for each block. One ECB
 * cipher object is kept for the whole session (never finalised) and fed counter blocks, so no
 * cipher is created per packet; the counter-block scratch buffer is reused.
 */
class AesCounterMode {
  private readonly ecb: Cipher;
  private blocks = Buffer.alloc(0);

  constructor(key: Buffer) {
    this.ecb = createCipheriv('aes-128-ecb', key, null);
    this.ecb.setAutoPadding(false);
  }

  /** Keystream for `length` bytes starting at block 0 of the given 14-byte IV prefix. */
  keystream(iv: Buffer, length: number): Buffer {
    const count = (length + 15) >>> 4;
    if (count > 0x10000) throw new SrtpError('SRTP_BAD_PACKET', 'keystream longer than 2^16 blocks');
    if (this.blocks.length < count * 16) this.blocks = Buffer.alloc(Math.max(count * 16, 1024));
    const blocks = this.blocks;
    // Plain index writes: a native copy per 16-byte block costs more than the bytes it moves.
    for (let j = 0, at = 0; j < count; j++, at += 16) {
      for (let b = 0; b < 14; b++) blocks[at + b] = iv[b];
      blocks[at + 14] = j >>> 8;
      blocks[at + 15] = j & 0xff;
    }
    return this.ecb.update(blocks.subarray(0, count * 16));
  }

  /** dst[dstAt..+length] = src[srcAt..+length] XOR keystream(iv). */
  xor(iv: Buffer, src: Buffer, srcAt: number, dst: Buffer, dstAt: number, length: number): void {
    if (length === 0) return;
    const ks = this.keystream(iv, length);
    for (let i = 0; i < length; i++) dst[dstAt + i] = src[srcAt + i] ^ ks[i];
  }
}

/**
 * HMAC-SHA1 (RFC 2104) with the key schedule done once: the inner and outer hashes are primed
 * with key XOR ipad / opad and copied per packet, which is the same computation as
 * `createHmac('sha1', key)` without re-keying every time.
 */
class HmacSha1 {
  private readonly inner: Hash;
  private readonly outer: Hash;

  constructor(key: Buffer) {
    const ipad = Buffer.alloc(64, 0x36);
    const opad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i] ^= key[i];
      opad[i] ^= key[i];
    }
    this.inner = createHash('sha1').update(ipad);
    this.outer = createHash('sha1').update(opad);
  }

  digest(data: Buffer, trailer: Buffer | null): Buffer {
    const inner = this.inner.copy().update(data);
    if (trailer) inner.update(trailer);
    return this.outer.copy().update(inner.digest()).digest();
  }
}

/**
 * The key derivation function of §4.3.1 with key_derivation_rate 0: r = 0, so
 * x = (label << 48) XOR master_salt and the session key is AES-CM(master_key, x * 2^16).
 */
export function deriveSrtpSessionKey(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  assertKeys({ masterKey, masterSalt });
  const iv = Buffer.alloc(14);
  masterSalt.copy(iv);
  iv[7] ^= label; // label sits 48 bits (6 bytes) from the right of the 112-bit salt
  return Buffer.from(new AesCounterMode(masterKey).keystream(iv, length).subarray(0, length));
}

/**
 * The raw SRTP keystream for a session key and salt at one SSRC and packet index (§4.1.1).
 * Exposed for the RFC 3711 Appendix B.2 vector; packet code uses `SrtpContext`.
 */
export function srtpKeystream(sessionKey: Buffer, sessionSalt: Buffer, ssrc: number, index: number, length: number): Buffer {
  const iv = Buffer.alloc(14);
  writeRtpIv(iv, sessionSalt, ssrc, Math.floor(index / 0x10000), index & 0xffff);
  return Buffer.from(new AesCounterMode(sessionKey).keystream(iv, length).subarray(0, length));
}

/** IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), without the low 16 counter bits (§4.1.1). */
function writeRtpIv(iv: Buffer, salt: Buffer, ssrc: number, roc: number, seq: number): void {
  salt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  iv.writeUInt32BE((iv.readUInt32BE(8) ^ roc) >>> 0, 8);
  iv.writeUInt16BE(iv.readUInt16BE(12) ^ seq, 12);
}

/** The SRTCP IV has the same shape with the 31-bit SRTCP index as i (§3.4, §4.1.1). */
function writeRtcpIv(iv: Buffer, salt: Buffer, ssrc: number, index: number): void {
  salt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ index) >>> 0, 10);
}

function assertKeys(keys: SrtpKeys): void {
  if (!Buffer.isBuffer(keys.masterKey) || keys.masterKey.length !== SRTP_MASTER_KEY_LENGTH) {
    throw new SrtpError('SRTP_BAD_KEY', `SRTP master key must be ${SRTP_MASTER_KEY_LENGTH} bytes`);
  }
  if (!Buffer.isBuffer(keys.masterSalt) || keys.masterSalt.length !== SRTP_MASTER_SALT_LENGTH) {
    throw new SrtpError('SRTP_BAD_KEY', `SRTP master salt must be ${SRTP_MASTER_SALT_LENGTH} bytes`);
  }
}

/**
 * Sliding replay window over packet indices (§3.3.2): bit k of the 64-bit mask (two 32-bit
 * halves) records that index `highest - k` has been accepted.
 */
class ReplayWindow {
  private highest = -1;
  private low = 0;
  private high = 0;

  /** True when `index` is new: ahead of the window, or inside it and not yet seen. */
  accepts(index: number): boolean {
    if (this.highest < 0 || index > this.highest) return true;
    const k = this.highest - index;
    if (k >= REPLAY_WINDOW_SIZE) return false;
    return k < 32 ? (this.low & (1 << k)) === 0 : (this.high & (1 << (k - 32))) === 0;
  }

  /** Record an authenticated index (call only after `accepts` returned true). */
  mark(index: number): void {
    if (index > this.highest) {
      const shift = this.highest < 0 ? REPLAY_WINDOW_SIZE : index - this.highest;
      if (shift >= REPLAY_WINDOW_SIZE) {
        this.low = 0;
        this.high = 0;
      } else if (shift >= 32) {
        this.high = this.low << (shift - 32);
        this.low = 0;
      } else {
        this.high = (this.high << shift) | (this.low >>> (32 - shift));
        this.low = this.low << shift;
      }
      this.highest = index;
      this.low |= 1;
      return;
    }
    const k = this.highest - index;
    if (k < 32) this.low |= 1 << k;
    else this.high |= 1 << (k - 32);
  }
}

/** ROC and highest sequence number s_l of one SSRC (§3.3.1). */
interface RtpStreamState {
  roc: number;
  highestSeq: number;
  window: ReplayWindow;
}

/**
 * Index estimation of Appendix A: the ROC value v that puts SEQ closest to s_l. May return
 * roc - 1 (a late packet from before the last wrap), which is -1 when no wrap happened yet.
 */
function estimateRoc(state: RtpStreamState, seq: number): number {
  if (state.highestSeq < 0x8000) return seq - state.highestSeq > 0x8000 ? state.roc - 1 : state.roc;
  return state.highestSeq - 0x8000 > seq ? state.roc + 1 : state.roc;
}

/** After an authenticated packet, move s_l and the ROC forward (§3.3.1, Appendix A). */
function advance(state: RtpStreamState, v: number, seq: number): void {
  if (v === state.roc + 1) {
    state.roc = v >>> 0;
    state.highestSeq = seq;
  } else if (v === state.roc && seq > state.highestSeq) {
    state.highestSeq = seq;
  }
}

/** Header length of an RTP packet (fixed header, CSRCs, extension), or -1 if it does not fit. */
function rtpHeaderLength(packet: Buffer, limit: number): number {
  if (limit < 12 || packet[0] >> 6 !== 2) return -1;
  let length = 12 + (packet[0] & 0x0f) * 4;
  if (packet[0] & 0x10) {
    if (length + 4 > limit) return -1;
    length += 4 + packet.readUInt16BE(length + 2) * 4;
  }
  return length <= limit ? length : -1;
}

interface SessionKeys {
  cipher: AesCounterMode;
  salt: Buffer;
  auth: HmacSha1;
}

function sessionKeys(keys: SrtpKeys, encLabel: Label, authLabel: Label, saltLabel: Label): SessionKeys {
  return {
    cipher: new AesCounterMode(deriveSrtpSessionKey(keys.masterKey, keys.masterSalt, encLabel, 16)),
    auth: new HmacSha1(deriveSrtpSessionKey(keys.masterKey, keys.masterSalt, authLabel, SESSION_AUTH_KEY_LENGTH)),
    salt: deriveSrtpSessionKey(keys.masterKey, keys.masterSalt, saltLabel, 14),
  };
}

export class SrtpContext {
  readonly profile: SrtpProfile;
  /** SRTP tag bytes (10 or 4) and SRTCP tag bytes (10 unless `srtcpAuthTagBits: 32`). */
  readonly rtpTagLength: number;
  readonly rtcpTagLength: number;
  readonly stats: SrtpStats = { authFailures: 0, replays: 0, malformed: 0 };

  private readonly rtp: SessionKeys;
  private readonly rtcp: SessionKeys;
  private readonly sendStreams = new Map<number, RtpStreamState>();
  private readonly receiveStreams = new Map<number, RtpStreamState>();
  private readonly rtcpSendIndex = new Map<number, number>();
  private readonly rtcpReceiveWindows = new Map<number, ReplayWindow>();
  // Per-packet scratch: the 14-byte IV prefix and the 4-byte ROC / E||index trailer.
  private readonly iv = Buffer.alloc(14);
  private readonly word = Buffer.alloc(4);

  constructor(profile: SrtpProfile, keys: SrtpKeys, options: SrtpOptions = {}) {
    if (!SRTP_PROFILES.includes(profile)) throw new SrtpError('SRTP_BAD_PROFILE', `unsupported SRTP profile ${String(profile)}`);
    assertKeys(keys);
    this.profile = profile;
    this.rtpTagLength = profile === 'AES_CM_128_HMAC_SHA1_80' ? 10 : 4;
    this.rtcpTagLength = options.srtcpAuthTagBits === 32 ? 4 : 10;
    this.rtp = sessionKeys(keys, Label.RtpEncryption, Label.RtpAuth, Label.RtpSalt);
    this.rtcp = sessionKeys(keys, Label.RtcpEncryption, Label.RtcpAuth, Label.RtcpSalt);
  }

  /** Plain RTP in, SRTP out (a new buffer: encrypted payload, then the tag; §3.1, §4.2). */
  protectRtp(packet: Buffer): Buffer {
    const headerLength = rtpHeaderLength(packet, packet.length);
    if (headerLength < 0) throw new SrtpError('SRTP_BAD_PACKET', 'not an RTP packet (short, version or header length)');
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let state = this.sendStreams.get(ssrc);
    if (!state) {
      state = { roc: 0, highestSeq: seq, window: new ReplayWindow() };
      this.sendStreams.set(ssrc, state);
    }
    // The sender uses the same estimate so a packet handed in slightly out of order keeps its ROC.
    const v = Math.max(0, estimateRoc(state, seq));
    advance(state, v, seq);
    const out = Buffer.allocUnsafe(packet.length + this.rtpTagLength);
    packet.copy(out, 0, 0, headerLength);
    writeRtpIv(this.iv, this.rtp.salt, ssrc, v, seq);
    this.rtp.cipher.xor(this.iv, packet, headerLength, out, headerLength, packet.length - headerLength);
    this.word.writeUInt32BE(v >>> 0, 0);
    const tag = this.rtp.auth.digest(out.subarray(0, packet.length), this.word);
    tag.copy(out, packet.length, 0, this.rtpTagLength);
    return out;
  }

  /** SRTP in, plain RTP out; null when malformed, replayed or not authentic (§3.3). */
  unprotectRtp(packet: Buffer): Buffer | null {
    const authLength = packet.length - this.rtpTagLength;
    const headerLength = rtpHeaderLength(packet, authLength);
    if (headerLength < 0) {
      this.stats.malformed++;
      return null;
    }
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const known = this.receiveStreams.get(ssrc);
    // §3.3.1: a new SSRC starts with ROC 0 and s_l = SEQ of its first packet.
    const state = known ?? { roc: 0, highestSeq: seq, window: new ReplayWindow() };
    const v = estimateRoc(state, seq);
    const index = v * 0x10000 + seq;
    if (v < 0 || !state.window.accepts(index)) {
      this.stats.replays++;
      return null;
    }
    this.word.writeUInt32BE(v >>> 0, 0);
    const tag = this.rtp.auth.digest(packet.subarray(0, authLength), this.word);
    if (!timingSafeEqual(tag.subarray(0, this.rtpTagLength), packet.subarray(authLength))) {
      this.stats.authFailures++;
      return null;
    }
    state.window.mark(index);
    advance(state, v, seq);
    if (!known) this.receiveStreams.set(ssrc, state);
    const out = Buffer.allocUnsafe(authLength);
    packet.copy(out, 0, 0, headerLength);
    writeRtpIv(this.iv, this.rtp.salt, ssrc, v, seq);
    this.rtp.cipher.xor(this.iv, packet, headerLength, out, headerLength, authLength - headerLength);
    return out;
  }

  /**
   * Plain (compound) RTCP in, SRTCP out (§3.4): everything after the first 8 bytes encrypted,
   * then E=1 || 31-bit SRTCP index, then the tag over all of it. The index counts per sender
   * SSRC from 0 and wraps at 2^31 (re-keying before that is the caller's business).
   */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8 || packet[0] >> 6 !== 2) throw new SrtpError('SRTP_BAD_PACKET', 'not an RTCP packet (short or version)');
    const ssrc = packet.readUInt32BE(4);
    const index = this.rtcpSendIndex.get(ssrc) ?? 0;
    this.rtcpSendIndex.set(ssrc, (index + 1) & SRTCP_INDEX_MASK);
    const out = Buffer.allocUnsafe(packet.length + 4 + this.rtcpTagLength);
    packet.copy(out, 0, 0, 8);
    writeRtcpIv(this.iv, this.rtcp.salt, ssrc, index);
    this.rtcp.cipher.xor(this.iv, packet, 8, out, 8, packet.length - 8);
    out.writeUInt32BE((SRTCP_E_BIT | index) >>> 0, packet.length);
    const tag = this.rtcp.auth.digest(out.subarray(0, packet.length + 4), null);
    tag.copy(out, packet.length + 4, 0, this.rtcpTagLength);
    return out;
  }

  /** SRTCP in, plain RTCP out; null when malformed, replayed or not authentic. Honours E=0. */
  unprotectRtcp(packet: Buffer): Buffer | null {
    const authLength = packet.length - this.rtcpTagLength;
    const plainLength = authLength - 4;
    if (plainLength < 8 || packet[0] >> 6 !== 2) {
      this.stats.malformed++;
      return null;
    }
    const ssrc = packet.readUInt32BE(4);
    const word = packet.readUInt32BE(plainLength);
    const index = word & SRTCP_INDEX_MASK;
    const known = this.rtcpReceiveWindows.get(ssrc);
    const window = known ?? new ReplayWindow();
    if (!window.accepts(index)) {
      this.stats.replays++;
      return null;
    }
    const tag = this.rtcp.auth.digest(packet.subarray(0, authLength), null);
    if (!timingSafeEqual(tag.subarray(0, this.rtcpTagLength), packet.subarray(authLength))) {
      this.stats.authFailures++;
      return null;
    }
    window.mark(index);
    if (!known) this.rtcpReceiveWindows.set(ssrc, window);
    const out = Buffer.allocUnsafe(plainLength);
    packet.copy(out, 0, 0, 8);
    if (word & SRTCP_E_BIT) {
      writeRtcpIv(this.iv, this.rtcp.salt, ssrc, index);
      this.rtcp.cipher.xor(this.iv, packet, 8, out, 8, plainLength - 8);
    } else {
      packet.copy(out, 8, 8, plainLength);
    }
    return out;
  }
}
