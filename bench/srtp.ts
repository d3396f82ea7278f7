/**
 * SRTP throughput on one core: protect and unprotect of 172-byte RTP packets (12-byte header,
 * 160 bytes of G.711 = 20 ms), for both SDES suites, printed as a table. Each row runs for about
 * `--seconds` (default 2) after a warm-up. "legs/core" divides protect+unprotect by 50: a G.711
 * leg protects 50 packets/s and unprotects 50 packets/s.
 *
 *   npx tsx bench/srtp.ts [--seconds 2]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SrtpContext, type SrtpProfile } from '../src/media/srtp-context.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 2;
const PACKET_SIZE = 172;
const BATCH = 1000;

function rtp(seq: number): Buffer {
  const packet = randomBytes(PACKET_SIZE);
  packet[0] = 0x80;
  packet[1] = 0;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(0x12345678, 8);
  return packet;
}

/** Runs `step` in batches until `seconds` elapsed; returns operations per second. */
function rate(step: (i: number) => void): number {
  for (let i = 0; i < 20 * BATCH; i++) step(i);
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < BATCH; i++) step(count + i);
    count += BATCH;
  }
  return count / ((performance.now() - start) / 1000);
}

const rows: string[][] = [];
for (const profile of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as SrtpProfile[]) {
  const keys = { masterKey: randomBytes(16), masterSalt: randomBytes(14) };
  const plain = Array.from({ length: 0x10000 }, (_, i) => rtp(i));
  const tx = new SrtpContext(profile, keys);
  const protectRate = rate((i) => tx.protectRtp(plain[i & 0xffff]));
  // Unprotect needs packets it has not seen (replay window): protect one sequence cycle (ROC 0)
  // and start a fresh receiver each time the cycle repeats (one key derivation per 65536 packets).
  const sender = new SrtpContext(profile, keys);
  const cycle = plain.map((p) => sender.protectRtp(p));
  let rx = new SrtpContext(profile, keys);
  let rejected = 0;
  const unprotectRate = rate((i) => {
    const seq = i & 0xffff;
    if (seq === 0) rx = new SrtpContext(profile, keys);
    if (rx.unprotectRtp(cycle[seq]) === null) rejected++;
  });
  const both = 1 / (1 / protectRate + 1 / unprotectRate);
  rows.push([
    profile,
    Math.round(protectRate).toLocaleString('en'),
    Math.round(unprotectRate).toLocaleString('en'),
    Math.round(both).toLocaleString('en'),
    Math.round(both / 50).toLocaleString('en'),
    String(rejected),
  ]);
}

const header = ['profile', 'protect pkt/s', 'unprotect pkt/s', 'protect+unprotect pkt/s', 'legs/core (50 pkt/s each way)', 'rejected'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(`SRTP, ${PACKET_SIZE}-byte packets, one core, node ${process.version}, ~${seconds} s per measurement`);
console.log(line(header));
for (const r of rows) console.log(line(r));
