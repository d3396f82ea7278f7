/**
 * RTCP (RFC 3550 §6): sender reports (SR, §6.4.1), receiver reports (RR, §6.4.2), source
 * descriptions (SDES, §6.5) and BYE (§6.6), parsed from and marshalled to compound packets (§6.1).
 *
 * Unknown packet types (APP, feedback messages...) survive parsing as `unknown` with their body,
 * so a caller can log or forward them.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
/** SDES item type CNAME (§6.5.1); the only item an endpoint is required to send. */
export const SDES_CNAME = 1;

export type RtcpErrorCode = 'RTCP_TOO_SHORT' | 'RTCP_BAD_VERSION' | 'RTCP_BAD_LENGTH';

export class RtcpError extends Error {
  readonly code: RtcpErrorCode;
  constructor(code: RtcpErrorCode, message: string) {
    super(message);
    this.name = 'RtcpError';
    this.code = code;
  }
}

/** One report block (§6.4.1), 24 bytes on the wire. */
export interface ReceptionReport {
  ssrc: number;
  /** Fraction of packets lost since the previous report, in 1/256 units (0..255). */
  fractionLost: number;
  /** Cumulative number of packets lost, signed 24 bits (duplicates can make it negative). */
  packetsLost: number;
  /** Extended highest sequence number received (cycles << 16 | seq). */
  highestSequence: number;
  /** Interarrival jitter in timestamp units (§6.4.1, A.8). */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received (LSR), 0 if none. */
  lastSenderReport: number;
  /** Delay since that SR in 1/65536 s (DLSR), 0 if none. */
  delaySinceLastSenderReport: number;
}

export interface SenderInfo {
  /** NTP timestamp (§4): seconds since 1900 and 32-bit binary fraction. */
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export interface SdesChunk {
  ssrc: number;
  items: { type: number; text: string }[];
}

export type RtcpPacket =
  | { type: 'sr'; ssrc: number; senderInfo: SenderInfo; reports: ReceptionReport[] }
  | { type: 'rr'; ssrc: number; reports: ReceptionReport[] }
  | { type: 'sdes'; chunks: SdesChunk[] }
  | { type: 'bye'; sources: number[]; reason?: string }
  | { type: 'unknown'; packetType: number; count: number; body: Buffer };

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2208988800;

/** Convert Unix milliseconds to an NTP timestamp (§4). */
export function ntpFromUnixMs(ms: number): { ntpSeconds: number; ntpFraction: number } {
  const secs = Math.floor(ms / 1000);
  const frac = Math.floor(((ms - secs * 1000) / 1000) * 0x100000000);
  return { ntpSeconds: (secs + NTP_UNIX_OFFSET) >>> 0, ntpFraction: frac >>> 0 };
}

/** The "middle 32 bits" of an NTP timestamp, as used in LSR (§6.4.1). */
export function compactNtp(ntpSeconds: number, ntpFraction: number): number {
  return (((ntpSeconds & 0xffff) << 16) | (ntpFraction >>> 16)) >>> 0;
}

function readReports(buf: Buffer, offset: number, count: number): ReceptionReport[] {
  const reports: ReceptionReport[] = [];
  for (let i = 0; i < count; i++, offset += 24) {
    const lostRaw = buf.readUIntBE(offset + 5, 3);
    reports.push({
      ssrc: buf.readUInt32BE(offset),
      fractionLost: buf[offset + 4],
      packetsLost: lostRaw & 0x800000 ? lostRaw - 0x1000000 : lostRaw,
      highestSequence: buf.readUInt32BE(offset + 8),
      jitter: buf.readUInt32BE(offset + 12),
      lastSenderReport: buf.readUInt32BE(offset + 16),
      delaySinceLastSenderReport: buf.readUInt32BE(offset + 20),
    });
  }
  return reports;
}

function parseSdes(body: Buffer, count: number): SdesChunk[] {
  const chunks: SdesChunk[] = [];
  let o = 0;
  for (let c = 0; c < count; c++) {
    if (o + 4 > body.length) throw new RtcpError('RTCP_BAD_LENGTH', 'SDES chunk truncated');
    const chunk: SdesChunk = { ssrc: body.readUInt32BE(o), items: [] };
    o += 4;
    // Items run until a zero type octet; the chunk is then padded to a 32-bit boundary (§6.5).
    while (o < body.length && body[o] !== 0) {
      if (o + 2 > body.length || o + 2 + body[o + 1] > body.length) throw new RtcpError('RTCP_BAD_LENGTH', 'SDES item truncated');
      chunk.items.push({ type: body[o], text: body.toString('utf8', o + 2, o + 2 + body[o + 1]) });
      o += 2 + body[o + 1];
    }
    o = (o + 4) & ~3; // skip the null terminator and padding
    chunks.push(chunk);
  }
  return chunks;
}

function parseOne(pt: number, count: number, body: Buffer): RtcpPacket {
  switch (pt) {
    case RTCP_SR:
      if (body.length < 24 + count * 24) throw new RtcpError('RTCP_BAD_LENGTH', 'SR shorter than its report count');
      return {
        type: 'sr',
        ssrc: body.readUInt32BE(0),
        senderInfo: {
          ntpSeconds: body.readUInt32BE(4),
          ntpFraction: body.readUInt32BE(8),
          rtpTimestamp: body.readUInt32BE(12),
          packetCount: body.readUInt32BE(16),
          octetCount: body.readUInt32BE(20),
        },
        reports: readReports(body, 24, count),
      };
    case RTCP_RR:
      if (body.length < 4 + count * 24) throw new RtcpError('RTCP_BAD_LENGTH', 'RR shorter than its report count');
      return { type: 'rr', ssrc: body.readUInt32BE(0), reports: readReports(body, 4, count) };
    case RTCP_SDES:
      return { type: 'sdes', chunks: parseSdes(body, count) };
    case RTCP_BYE: {
      if (body.length < count * 4) throw new RtcpError('RTCP_BAD_LENGTH', 'BYE shorter than its source count');
      const sources: number[] = [];
      for (let i = 0; i < count; i++) sources.push(body.readUInt32BE(i * 4));
      const o = count * 4;
      if (o < body.length && o + 1 + body[o] <= body.length) {
        return { type: 'bye', sources, reason: body.toString('utf8', o + 1, o + 1 + body[o]) };
      }
      return { type: 'bye', sources };
    }
    default:
      return { type: 'unknown', packetType: pt, count, body: Buffer.from(body) };
  }
}

/** Parse a compound RTCP datagram (§6.1) into its packets, in order. */
export function parseRtcp(buf: Buffer): RtcpPacket[] {
  const packets: RtcpPacket[] = [];
  let offset = 0;
  if (buf.length < 4) throw new RtcpError('RTCP_TOO_SHORT', `RTCP packet too short: ${buf.length} bytes`);
  while (offset < buf.length) {
    if (buf.length - offset < 4) throw new RtcpError('RTCP_TOO_SHORT', 'trailing bytes after last RTCP packet');
    const b0 = buf[offset];
    if (b0 >> 6 !== 2) throw new RtcpError('RTCP_BAD_VERSION', `RTCP version ${b0 >> 6}, expected 2`);
    const count = b0 & 0x1f;
    const pt = buf[offset + 1];
    // §6.4.1: length is in 32-bit words minus one, header included.
    const size = (buf.readUInt16BE(offset + 2) + 1) * 4;
    if (offset + size > buf.length) throw new RtcpError('RTCP_BAD_LENGTH', `RTCP length ${size} overruns datagram`);
    let end = offset + size;
    if (b0 & 0x20) {
      const pad = buf[end - 1];
      if (pad === 0 || pad > size - 4) throw new RtcpError('RTCP_BAD_LENGTH', `invalid RTCP padding ${pad}`);
      end -= pad;
    }
    packets.push(parseOne(pt, count, buf.subarray(offset + 4, end)));
    offset += size;
  }
  return packets;
}

function bodySize(p: RtcpPacket): number {
  switch (p.type) {
    case 'sr':
      return 24 + p.reports.length * 24;
    case 'rr':
      return 4 + p.reports.length * 24;
    case 'sdes': {
      let n = 0;
      for (const c of p.chunks) {
        let items = 4;
        for (const it of c.items) items += 2 + Buffer.byteLength(it.text, 'utf8');
        n += (items + 4) & ~3; // at least one null octet, then pad to a word
      }
      return n;
    }
    case 'bye':
      return p.sources.length * 4 + (p.reason === undefined ? 0 : (Buffer.byteLength(p.reason, 'utf8') + 4) & ~3);
    case 'unknown':
      return (p.body.length + 3) & ~3;
  }
}

function writeReports(buf: Buffer, o: number, reports: ReceptionReport[]): void {
  for (const r of reports) {
    buf.writeUInt32BE(r.ssrc >>> 0, o);
    buf[o + 4] = r.fractionLost & 0xff;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, r.packetsLost));
    buf.writeUIntBE(lost < 0 ? lost + 0x1000000 : lost, o + 5, 3);
    buf.writeUInt32BE(r.highestSequence >>> 0, o + 8);
    buf.writeUInt32BE(r.jitter >>> 0, o + 12);
    buf.writeUInt32BE(r.lastSenderReport >>> 0, o + 16);
    buf.writeUInt32BE(r.delaySinceLastSenderReport >>> 0, o + 20);
    o += 24;
  }
}

function writeBody(p: RtcpPacket, buf: Buffer, o: number): void {
  switch (p.type) {
    case 'sr': {
      buf.writeUInt32BE(p.ssrc >>> 0, o);
      const s = p.senderInfo;
      buf.writeUInt32BE(s.ntpSeconds >>> 0, o + 4);
      buf.writeUInt32BE(s.ntpFraction >>> 0, o + 8);
      buf.writeUInt32BE(s.rtpTimestamp >>> 0, o + 12);
      buf.writeUInt32BE(s.packetCount >>> 0, o + 16);
      buf.writeUInt32BE(s.octetCount >>> 0, o + 20);
      writeReports(buf, o + 24, p.reports);
      return;
    }
    case 'rr':
      buf.writeUInt32BE(p.ssrc >>> 0, o);
      writeReports(buf, o + 4, p.reports);
      return;
    case 'sdes':
      for (const c of p.chunks) {
        const start = o;
        buf.writeUInt32BE(c.ssrc >>> 0, o);
        o += 4;
        for (const it of c.items) {
          const len = Buffer.byteLength(it.text, 'utf8');
          if (len > 255) throw new RangeError('SDES item longer than 255 bytes');
          buf[o] = it.type;
          buf[o + 1] = len;
          o += 2 + buf.write(it.text, o + 2, 'utf8');
        }
        const end = start + ((o - start + 4) & ~3);
        buf.fill(0, o, end);
        o = end;
      }
      return;
    case 'bye':
      for (const s of p.sources) {
        buf.writeUInt32BE(s >>> 0, o);
        o += 4;
      }
      if (p.reason !== undefined) {
        const len = Buffer.byteLength(p.reason, 'utf8');
        if (len > 255) throw new RangeError('BYE reason longer than 255 bytes');
        buf[o] = len;
        const w = buf.write(p.reason, o + 1, 'utf8');
        buf.fill(0, o + 1 + w, o + ((len + 4) & ~3));
      }
      return;
    case 'unknown':
      p.body.copy(buf, o);
      buf.fill(0, o + p.body.length, o + ((p.body.length + 3) & ~3));
      return;
  }
}

function countField(p: RtcpPacket): number {
  switch (p.type) {
    case 'sr':
    case 'rr':
      return p.reports.length;
    case 'sdes':
      return p.chunks.length;
    case 'bye':
      return p.sources.length;
    case 'unknown':
      return p.count;
  }
}

const PACKET_TYPE: Record<RtcpPacket['type'], number> = { sr: RTCP_SR, rr: RTCP_RR, sdes: RTCP_SDES, bye: RTCP_BYE, unknown: 0 };

/** Marshal packets into one compound datagram (§6.1: the caller puts SR/RR first). */
export function marshalRtcp(packets: RtcpPacket[]): Buffer {
  let total = 0;
  for (const p of packets) total += 4 + bodySize(p);
  const buf = Buffer.alloc(total);
  let o = 0;
  for (const p of packets) {
    const count = countField(p);
    if (count > 31) throw new RangeError('an RTCP packet holds at most 31 reports/chunks/sources');
    const size = 4 + bodySize(p);
    buf[o] = (2 << 6) | count;
    buf[o + 1] = p.type === 'unknown' ? p.packetType : PACKET_TYPE[p.type];
    buf.writeUInt16BE(size / 4 - 1, o + 2);
    writeBody(p, buf, o + 4);
    o += size;
  }
  return buf;
}
