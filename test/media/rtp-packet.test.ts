// RTP packets (RFC 3550 §5.1) against hand-assembled byte vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeRtcp, RtpPacket, RtpPacketError, writeRtpHeader } from '../../src/media/rtp-packet.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// V=2 M=1 PT=0 seq=0x1234 ts=0xdeadbeef ssrc=0x01020304, payload ff fe
const SIMPLE = hex('8080 1234 deadbeef 01020304 fffe');
// V=2 P=1 X=1 CC=2, PT=8, seq=0xffff ts=0 ssrc=0xffffffff, CSRCs 0x11111111 0x22222222,
// extension profile 0xbede with one word, payload d5 d5, 4 padding octets.
const FULL = hex('b208 ffff 00000000 ffffffff 11111111 22222222 bede0001 10aa0000 d5d5 00000004');

test('RFC 3550 §5.1: parse a minimal packet', () => {
  const p = RtpPacket.parse(SIMPLE);
  assert.equal(p.marker, true);
  assert.equal(p.payloadType, 0);
  assert.equal(p.sequenceNumber, 0x1234);
  assert.equal(p.timestamp, 0xdeadbeef);
  assert.equal(p.ssrc, 0x01020304);
  assert.deepEqual(p.csrc, []);
  assert.equal(p.extension, null);
  assert.deepEqual([...p.payload], [0xff, 0xfe]);
  assert.equal(p.paddingSize, 0);
});

test('RFC 3550 §5.1/§5.3.1: parse CSRC list, header extension and padding', () => {
  const p = RtpPacket.parse(FULL);
  assert.equal(p.marker, false);
  assert.equal(p.payloadType, 8);
  assert.equal(p.sequenceNumber, 0xffff);
  assert.equal(p.ssrc, 0xffffffff);
  assert.deepEqual(p.csrc, [0x11111111, 0x22222222]);
  assert.equal(p.extension?.profile, 0xbede);
  assert.deepEqual(p.extension?.data, hex('10aa0000'));
  assert.deepEqual([...p.payload], [0xd5, 0xd5]);
  assert.equal(p.paddingSize, 4);
});

test('marshal reproduces the vectors byte for byte, and marshalTo writes at an offset', () => {
  assert.deepEqual(RtpPacket.parse(SIMPLE).marshal(), SIMPLE);
  const full = RtpPacket.parse(FULL);
  assert.equal(full.marshalSize, FULL.length);
  assert.deepEqual(full.marshal(), FULL);
  const buf = Buffer.alloc(FULL.length + 3, 0x77);
  assert.equal(full.marshalTo(buf, 3), FULL.length);
  assert.deepEqual(buf.subarray(3), FULL);
  assert.equal(buf[0], 0x77);
  assert.throws(() => full.marshalTo(Buffer.alloc(10)), (e: unknown) => e instanceof RtpPacketError && e.code === 'RTP_BUFFER_TOO_SMALL');
});

test('writeRtpHeader writes the same 12 bytes as a full marshal', () => {
  const buf = Buffer.alloc(14);
  writeRtpHeader(buf, true, 0, 0x1234, 0xdeadbeef, 0x01020304);
  buf[12] = 0xff;
  buf[13] = 0xfe;
  assert.deepEqual(buf, SIMPLE);
  // Values wrap rather than throw: seq is 16 bits, timestamp 32.
  writeRtpHeader(buf, false, 8, 0x10001, 0x100000005, 1);
  assert.equal(RtpPacket.parse(buf).sequenceNumber, 1);
  assert.equal(RtpPacket.parse(buf).timestamp, 5);
});

test('rejects short packets, wrong versions and bad padding', () => {
  const code = (c: string) => (e: unknown) => e instanceof RtpPacketError && e.code === c;
  assert.throws(() => RtpPacket.parse(SIMPLE.subarray(0, 11)), code('RTP_TOO_SHORT'));
  assert.throws(() => RtpPacket.parse(hex('4000 0000 00000000 00000000')), code('RTP_BAD_VERSION'));
  assert.throws(() => RtpPacket.parse(hex('8200 0000 00000000 00000000')), code('RTP_TOO_SHORT')); // CC=2, no CSRCs
  assert.throws(() => RtpPacket.parse(hex('a000 0000 00000000 00000000 00')), code('RTP_BAD_PADDING')); // count 0
  assert.throws(() => RtpPacket.parse(hex('a000 0000 00000000 00000000 0009')), code('RTP_BAD_PADDING')); // overruns
  assert.throws(() => RtpPacket.parse(hex('9000 0000 00000000 00000000 bede0002 0000')), code('RTP_TOO_SHORT'));
});

test('RFC 5761 §4: RTCP packet types are told apart from RTP', () => {
  assert.equal(looksLikeRtcp(hex('80c8 0006')), true); // SR
  assert.equal(looksLikeRtcp(hex('81c9 0007')), true); // RR
  assert.equal(looksLikeRtcp(SIMPLE), false);
  assert.equal(looksLikeRtcp(hex('8065')), false); // PT 101 telephone-event
});
