/**
 * RTP packets (RFC 3550 §5.1): parse and marshal the fixed header, CSRC list, header extension
 * (§5.3.1) and padding.
 *
 * Parsing returns views (`subarray`) into the received datagram rather than copies. Marshalling
 * writes into a caller-supplied buffer (`marshalTo`) so the send path can reuse one buffer per
 * session; `writeRtpHeader` is the even cheaper path for the common 12-byte header.
 */

export const RTP_VERSION = 2;
export const RTP_HEADER_SIZE = 12;

export type RtpPacketErrorCode = 'RTP_TOO_SHORT' | 'RTP_BAD_VERSION' | 'RTP_BAD_PADDING' | 'RTP_BUFFER_TOO_SMALL';

export class RtpPacketError extends Error {
  readonly code: RtpPacketErrorCode;
  constructor(code: RtpPacketErrorCode, message: string) {
    super(message);
    this.name = 'RtpPacketError';
    this.code = code;
  }
}

/** Header extension (RFC 3550 §5.3.1): 16-bit profile-defined value, then 32-bit-word-aligned data. */
export interface RtpHeaderExtension {
  profile: number;
  /** Length must be a multiple of 4 bytes. */
  data: Buffer;
}

export interface RtpPacketFields {
  marker?: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrc?: number[];
  extension?: RtpHeaderExtension | null;
  payload: Buffer;
  /** Number of padding octets to append (including the count octet itself), 0 for none. */
  paddingSize?: number;
}

export class RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrc: number[];
  extension: RtpHeaderExtension | null;
  payload: Buffer;
  paddingSize: number;

  constructor(fields: RtpPacketFields) {
    this.marker = fields.marker ?? false;
    this.payloadType = fields.payloadType;
    this.sequenceNumber = fields.sequenceNumber;
    this.timestamp = fields.timestamp;
    this.ssrc = fields.ssrc;
    this.csrc = fields.csrc ?? [];
    this.extension = fields.extension ?? null;
    this.payload = fields.payload;
    this.paddingSize = fields.paddingSize ?? 0;
  }

  /** Parse a datagram. `payload` and `extension.data` are views into `buf` (no copy). */
  static parse(buf: Buffer): RtpPacket {
    if (buf.length < RTP_HEADER_SIZE) throw new RtpPacketError('RTP_TOO_SHORT', `RTP packet too short: ${buf.length} bytes`);
    const b0 = buf[0];
    const version = b0 >> 6;
    if (version !== RTP_VERSION) throw new RtpPacketError('RTP_BAD_VERSION', `RTP version ${version}, expected 2`);
    const hasPadding = (b0 & 0x20) !== 0;
    const hasExtension = (b0 & 0x10) !== 0;
    const csrcCount = b0 & 0x0f;
    const b1 = buf[1];
    let offset = RTP_HEADER_SIZE;
    if (buf.length < offset + csrcCount * 4) throw new RtpPacketError('RTP_TOO_SHORT', 'RTP packet too short for its CSRC list');
    const csrc: number[] = [];
    for (let i = 0; i < csrcCount; i++, offset += 4) csrc.push(buf.readUInt32BE(offset));
    let extension: RtpHeaderExtension | null = null;
    if (hasExtension) {
      if (buf.length < offset + 4) throw new RtpPacketError('RTP_TOO_SHORT', 'RTP packet too short for its extension header');
      const profile = buf.readUInt16BE(offset);
      const words = buf.readUInt16BE(offset + 2);
      offset += 4;
      if (buf.length < offset + words * 4) throw new RtpPacketError('RTP_TOO_SHORT', 'RTP packet too short for its extension');
      extension = { profile, data: buf.subarray(offset, offset + words * 4) };
      offset += words * 4;
    }
    let end = buf.length;
    let paddingSize = 0;
    if (hasPadding) {
      // §5.1: the last octet of the padding counts how many padding octets to ignore, itself included.
      paddingSize = buf[buf.length - 1];
      if (paddingSize === 0 || end - paddingSize < offset) {
        throw new RtpPacketError('RTP_BAD_PADDING', `invalid RTP padding count ${paddingSize}`);
      }
      end -= paddingSize;
    }
    return new RtpPacket({
      marker: (b1 & 0x80) !== 0,
      payloadType: b1 & 0x7f,
      sequenceNumber: buf.readUInt16BE(2),
      timestamp: buf.readUInt32BE(4),
      ssrc: buf.readUInt32BE(8),
      csrc,
      extension,
      payload: buf.subarray(offset, end),
      paddingSize,
    });
  }

  /** Size in bytes of the marshalled packet. */
  get marshalSize(): number {
    const ext = this.extension ? 4 + this.extension.data.length : 0;
    return RTP_HEADER_SIZE + this.csrc.length * 4 + ext + this.payload.length + this.paddingSize;
  }

  /** Write the packet into `buf` at `offset`; returns the number of bytes written. */
  marshalTo(buf: Buffer, offset = 0): number {
    const size = this.marshalSize;
    if (buf.length - offset < size) throw new RtpPacketError('RTP_BUFFER_TOO_SMALL', `need ${size} bytes, have ${buf.length - offset}`);
    if (this.csrc.length > 15) throw new RangeError('at most 15 CSRC identifiers');
    if (this.extension && this.extension.data.length % 4 !== 0) throw new RangeError('RTP extension data must be a multiple of 4 bytes');
    if (this.paddingSize < 0 || this.paddingSize > 255) throw new RangeError('RTP padding must be 0..255 bytes');
    buf[offset] =
      (RTP_VERSION << 6) | (this.paddingSize > 0 ? 0x20 : 0) | (this.extension ? 0x10 : 0) | this.csrc.length;
    buf[offset + 1] = (this.marker ? 0x80 : 0) | (this.payloadType & 0x7f);
    buf.writeUInt16BE(this.sequenceNumber & 0xffff, offset + 2);
    buf.writeUInt32BE(this.timestamp >>> 0, offset + 4);
    buf.writeUInt32BE(this.ssrc >>> 0, offset + 8);
    let o = offset + RTP_HEADER_SIZE;
    for (const id of this.csrc) {
      buf.writeUInt32BE(id >>> 0, o);
      o += 4;
    }
    if (this.extension) {
      buf.writeUInt16BE(this.extension.profile, o);
      buf.writeUInt16BE(this.extension.data.length / 4, o + 2);
      o += 4;
      o += this.extension.data.copy(buf, o);
    }
    // Buffer.copy is a memmove, so a payload that is already a view of `buf` at `o` is harmless.
    o += this.payload.copy(buf, o);
    if (this.paddingSize > 0) {
      buf.fill(0, o, o + this.paddingSize - 1);
      buf[o + this.paddingSize - 1] = this.paddingSize;
      o += this.paddingSize;
    }
    return o - offset;
  }

  /** Allocate and return the marshalled packet (convenience; the send path uses `marshalTo`). */
  marshal(): Buffer {
    const buf = Buffer.allocUnsafe(this.marshalSize);
    this.marshalTo(buf, 0);
    return buf;
  }
}

/**
 * Write a plain 12-byte header (no CSRC, extension or padding) at the start of `buf`.
 * This is the per-packet send path: no objects, no allocation.
 */
export function writeRtpHeader(
  buf: Buffer,
  marker: boolean,
  payloadType: number,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
): void {
  buf[0] = RTP_VERSION << 6;
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf.writeUInt16BE(sequenceNumber & 0xffff, 2);
  buf.writeUInt32BE(timestamp >>> 0, 4);
  buf.writeUInt32BE(ssrc >>> 0, 8);
}

/**
 * RFC 5761 §4: on a multiplexed port, RTCP packet types 200-204 land in the RTP payload-type
 * range 72-76 with the marker bit set; those PTs are never used for RTP.
 */
export function looksLikeRtcp(buf: Buffer): boolean {
  return buf.length >= 2 && buf[1] >= 192 && buf[1] <= 223;
}
