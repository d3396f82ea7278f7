/**
 * Writes RTP streams as pcap files (Ethernet/IPv4/UDP framing, libpcap format) that SIPp can replay
 * with `play_pcap_audio`: SIPp rewrites addresses and ports, and keeps each packet's capture time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MULAW_ENCODE_TABLE } from '../../../src/media/g711.js';

export interface RtpPacketSpec {
  payloadType: number;
  marker?: boolean;
  timestamp: number;
  payload: Buffer;
  /** Capture time relative to the first packet. */
  atMs: number;
}

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function writeRtpPcap(path: string, packets: RtpPacketSpec[], ssrc = 0x5eed1234): void {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const records: Buffer[] = [global];
  const base = 1_700_000_000;
  packets.forEach((p, i) => {
    const rtp = Buffer.alloc(12 + p.payload.length);
    rtp[0] = 0x80;
    rtp[1] = (p.marker ? 0x80 : 0) | p.payloadType;
    rtp.writeUInt16BE((1000 + i) & 0xffff, 2);
    rtp.writeUInt32BE(p.timestamp >>> 0, 4);
    rtp.writeUInt32BE(ssrc, 8);
    p.payload.copy(rtp, 12);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(6000, 0);
    udp.writeUInt16BE(7000, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + rtp.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.set([127, 0, 0, 1], 12);
    ip.set([127, 0, 0, 1], 16);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, udp, rtp]);
    const rec = Buffer.alloc(16);
    const us = Math.round(p.atMs * 1000);
    rec.writeUInt32LE(base + Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    records.push(rec, frame);
  });
  writeFileSync(path, Buffer.concat(records));
}

/**
 * A capture of PCMU RTP carrying `pcm` (8 kHz) with `leadMs` of silence before and `tailMs` after, one
 * 20 ms packet per frame at real-time spacing. Returns the file path and its duration.
 */
export function writeAudioPcap(pcm: Int16Array, leadMs = 0, tailMs = 0): { path: string; durationMs: number } {
  const all = new Int16Array(Math.round(((leadMs + tailMs) * 8000) / 1000) + pcm.length);
  all.set(pcm, Math.round((leadMs * 8000) / 1000));
  const packets: RtpPacketSpec[] = [];
  for (let i = 0; i * 160 < all.length; i++) {
    const payload = Buffer.alloc(160, 0xff);
    for (let j = 0; j < 160 && i * 160 + j < all.length; j++) payload[j] = MULAW_ENCODE_TABLE[all[i * 160 + j]! & 0xffff]!;
    packets.push({ payloadType: 0, marker: i === 0, timestamp: 8000 + i * 160, payload, atMs: i * 20 });
  }
  const path = join(mkdtempSync(join(tmpdir(), 'audio-pcap-')), 'audio.pcap');
  writeRtpPcap(path, packets);
  return { path, durationMs: packets.length * 20 };
}
