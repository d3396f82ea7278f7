// RTCP SR/RR/SDES/BYE (RFC 3550 §6.4-6.6) against hand-assembled byte vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactNtp, marshalRtcp, ntpFromUnixMs, parseRtcp, RtcpError, type RtcpPacket } from '../../src/media/rtcp.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const RR = hex(`81c9 0007 00000001
  00000002 40 000005 00010010 00000020 12345678 00010000`);
const SR = hex('80c8 0006 0000000a e8000000 80000000 00000640 00000032 00001f40');
const SDES = hex('81ca 0003 00000001 0103616263 000000');
const BYE = hex('81cb 0002 00000001 01780000');

test('RFC 3550 §6.4.2: receiver report with one report block', () => {
  const [rr] = parseRtcp(RR);
  assert.deepEqual(rr, {
    type: 'rr',
    ssrc: 1,
    reports: [
      {
        ssrc: 2,
        fractionLost: 0x40,
        packetsLost: 5,
        highestSequence: 0x00010010,
        jitter: 0x20,
        lastSenderReport: 0x12345678,
        delaySinceLastSenderReport: 0x10000,
      },
    ],
  });
  assert.deepEqual(marshalRtcp([rr]), RR);
});

test('RFC 3550 §6.4.1: sender report, SDES CNAME and BYE in one compound packet', () => {
  const compound = Buffer.concat([SR, SDES, BYE]);
  const packets = parseRtcp(compound);
  const expected: RtcpPacket[] = [
    {
      type: 'sr',
      ssrc: 10,
      senderInfo: { ntpSeconds: 0xe8000000, ntpFraction: 0x80000000, rtpTimestamp: 1600, packetCount: 50, octetCount: 8000 },
      reports: [],
    },
    { type: 'sdes', chunks: [{ ssrc: 1, items: [{ type: 1, text: 'abc' }] }] },
    { type: 'bye', sources: [1], reason: 'x' },
  ];
  assert.deepEqual(packets, expected);
  assert.deepEqual(marshalRtcp(expected), compound);
});

test('cumulative loss is a signed 24-bit field', () => {
  const rr: RtcpPacket = {
    type: 'rr',
    ssrc: 1,
    reports: [{ ssrc: 2, fractionLost: 0, packetsLost: -2, highestSequence: 0, jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0 }],
  };
  const buf = marshalRtcp([rr]);
  assert.deepEqual(buf.subarray(13, 16), hex('fffffe'));
  const [back] = parseRtcp(buf);
  assert.equal(back.type === 'rr' && back.reports[0].packetsLost, -2);
});

test('unknown packet types (APP, feedback) survive a round trip', () => {
  const app = hex('80cc 0002 00000001 6e616d65'); // APP, name "name"
  const packets = parseRtcp(Buffer.concat([RR, app]));
  assert.equal(packets[1].type, 'unknown');
  assert.deepEqual(marshalRtcp(packets), Buffer.concat([RR, app]));
});

test('malformed RTCP is rejected with a code', () => {
  const code = (c: string) => (e: unknown) => e instanceof RtcpError && e.code === c;
  assert.throws(() => parseRtcp(hex('81c9')), code('RTCP_TOO_SHORT'));
  assert.throws(() => parseRtcp(hex('41c9 0001 00000001')), code('RTCP_BAD_VERSION'));
  assert.throws(() => parseRtcp(hex('81c9 0009 00000001')), code('RTCP_BAD_LENGTH')); // length overruns
  assert.throws(() => parseRtcp(hex('81c9 0001 00000001')), code('RTCP_BAD_LENGTH')); // RC=1 but no block
  assert.throws(() => parseRtcp(Buffer.concat([RR, hex('81')])), code('RTCP_TOO_SHORT'));
});

test('NTP timestamps (§4) and the compact LSR form', () => {
  const ntp = ntpFromUnixMs(1_700_000_000_500);
  assert.equal(ntp.ntpSeconds, 1_700_000_000 + 2208988800);
  assert.equal(ntp.ntpFraction, 0x80000000);
  assert.equal(compactNtp(0xe8001234, 0xabcd0000), 0x1234abcd);
});
