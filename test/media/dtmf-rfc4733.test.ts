// RFC 4733 telephone-events: payload codec, the receiver against SIPp's real captures, and
// sender -> receiver round trips through loss, duplication and reordering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildTelephoneEvent,
  digitToEvent,
  eventToDigit,
  parseTelephoneEvent,
  TelephoneEventError,
  TelephoneEventReceiver,
  TelephoneEventSender,
  type TelephoneEventDigit,
  type TelephoneEventPacket,
} from '../../src/media/dtmf-rfc4733.js';
import { RtpPacket } from '../../src/media/rtp-packet.js';

/** SIPp's own RFC 2833/4733 captures (Debian sip-tester, /usr/share/sip-tester), copied byte for byte. */
const SIPP_PCAP_DIR = fileURLToPath(new URL('../fixtures/dtmf', import.meta.url));

/** Minimal libpcap reader: Ethernet / IPv4 / UDP -> UDP payloads (enough for SIPp's captures). */
function readPcapUdpPayloads(file: Buffer): Buffer[] {
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4;
  assert.ok(le || magic === 0xd4c3b2a1, 'pcap magic');
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  assert.equal(u32(20), 1, 'link type Ethernet');
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const inclLen = u32(off + 8);
    const frame = file.subarray(off + 16, off + 16 + inclLen);
    off += 16 + inclLen;
    if (frame.readUInt16BE(12) !== 0x0800) continue; // IPv4 only
    const ip = frame.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] !== 17) continue; // UDP
    const udp = ip.subarray(ihl, ip.readUInt16BE(2));
    out.push(udp.subarray(8, udp.readUInt16BE(4)));
  }
  return out;
}

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function feed(rx: TelephoneEventReceiver, packets: TelephoneEventPacket[]): TelephoneEventDigit[] {
  return packets.flatMap((p) => rx.push(p.timestamp, p.marker, p.payload));
}

test('payload: parse and build per RFC 4733 §2.3', () => {
  const b = buildTelephoneEvent({ event: 11, end: true, volume: 10, duration: 800 });
  assert.deepEqual([...b], [11, 0x8a, 0x03, 0x20]);
  assert.deepEqual(parseTelephoneEvent(b), { event: 11, end: true, volume: 10, duration: 800 });
  // R bit set by a sloppy peer is ignored, volume is the low 6 bits.
  assert.deepEqual(parseTelephoneEvent(Buffer.from([5, 0x7f, 0xff, 0xff])), { event: 5, end: false, volume: 63, duration: 65535 });
  assert.equal(parseTelephoneEvent(Buffer.from([5, 0x0a, 0])), null);
  assert.throws(() => buildTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 }), (e: unknown) => e instanceof TelephoneEventError && e.code === 'DTMF_BAD_VOLUME');
  assert.throws(() => buildTelephoneEvent({ event: 1, end: false, volume: 1, duration: 70000 }), (e: unknown) => e instanceof TelephoneEventError && e.code === 'DTMF_BAD_DURATION');
});

test('digit <-> event mapping for 0-9 * # A-D', () => {
  const digits = '0123456789*#ABCD';
  for (let i = 0; i < 16; i++) {
    assert.equal(digitToEvent(digits[i]), i);
    assert.equal(eventToDigit(i), digits[i]);
  }
  assert.equal(digitToEvent('a'), 12);
  assert.equal(digitToEvent('E'), null);
  assert.equal(digitToEvent('12'), null);
  assert.equal(eventToDigit(16), null);
});

const captures: [string, string][] = [...'0123456789'].map((d) => [`dtmf_2833_${d}.pcap`, d]);
captures.push(['dtmf_2833_pound.pcap', '#'], ['dtmf_2833_star.pcap', '*']);

for (const [name, digit] of captures) {
  test(`SIPp capture ${name} yields exactly '${digit}' once`, () => {
    const datagrams = readPcapUdpPayloads(readFileSync(`${SIPP_PCAP_DIR}/${name}`));
    assert.ok(datagrams.length >= 5);
    const clock = fakeClock();
    const rx = new TelephoneEventReceiver({ now: clock.now });
    const got: TelephoneEventDigit[] = [];
    for (const d of datagrams) {
      const p = RtpPacket.parse(d);
      assert.equal(p.payloadType, 101);
      got.push(...rx.push(p.timestamp, p.marker, p.payload));
      clock.advance(20);
    }
    clock.advance(1000);
    got.push(...rx.poll(), ...rx.flush());
    assert.equal(got.length, 1, JSON.stringify(got));
    assert.equal(got[0].digit, digit);
    assert.equal(got[0].endReceived, true);
    // The captures report 2240 units = 280 ms; any DTMF between 40 ms and 1 s is plausible.
    assert.ok(got[0].durationMs >= 40 && got[0].durationMs <= 1000, `duration ${got[0].durationMs}`);
    assert.equal(got[0].durationMs, 280);
  });
}

test('sender: marker, timestamp, 20 ms duration progression and three end packets', () => {
  const burst = new TelephoneEventSender().packetsFor('5', 0xfffffff0);
  assert.equal(burst.durationUnits, 800);
  const fields = burst.packets.map((p) => ({ ...parseTelephoneEvent(p.payload), marker: p.marker, ts: p.timestamp, at: p.offsetMs }));
  assert.deepEqual(fields, [
    { event: 5, end: false, volume: 10, duration: 160, marker: true, ts: 0xfffffff0, at: 0 },
    { event: 5, end: false, volume: 10, duration: 320, marker: false, ts: 0xfffffff0, at: 20 },
    { event: 5, end: false, volume: 10, duration: 480, marker: false, ts: 0xfffffff0, at: 40 },
    { event: 5, end: false, volume: 10, duration: 640, marker: false, ts: 0xfffffff0, at: 60 },
    { event: 5, end: true, volume: 10, duration: 800, marker: false, ts: 0xfffffff0, at: 80 },
    { event: 5, end: true, volume: 10, duration: 800, marker: false, ts: 0xfffffff0, at: 100 },
    { event: 5, end: true, volume: 10, duration: 800, marker: false, ts: 0xfffffff0, at: 120 },
  ]);
  assert.throws(() => new TelephoneEventSender().packetsFor('x', 0), (e: unknown) => e instanceof TelephoneEventError && e.code === 'DTMF_BAD_DIGIT');
  assert.throws(() => new TelephoneEventSender().packetsFor('1', 0, { durationMs: 10_000 }), (e: unknown) => e instanceof TelephoneEventError && e.code === 'DTMF_BAD_DURATION');
});

test('round trip: every digit, back to back, each reported once with its duration', () => {
  const tx = new TelephoneEventSender();
  const rx = new TelephoneEventReceiver({ now: fakeClock().now });
  const got: TelephoneEventDigit[] = [];
  let ts = 12345;
  for (const digit of '0123456789*#ABCD') {
    const burst = tx.packetsFor(digit, ts, { durationMs: 160, volume: 7 });
    got.push(...feed(rx, burst.packets));
    ts += burst.durationUnits + 800; // 100 ms of audio between digits
  }
  assert.equal(got.map((d) => d.digit).join(''), '0123456789*#ABCD');
  for (const d of got) assert.deepEqual([d.durationMs, d.volume, d.endReceived], [160, 7, true]);
});

test('duplicated packets and reordered redundant ends count once', () => {
  const rx = new TelephoneEventReceiver({ now: fakeClock().now });
  const { packets } = new TelephoneEventSender().packetsFor('7', 1000);
  const ends = packets.filter((p) => parseTelephoneEvent(p.payload)?.end);
  const updates = packets.filter((p) => !parseTelephoneEvent(p.payload)?.end);
  // Start retransmitted, an end overtaking the last update, the other ends and an update late.
  const order = [updates[0], updates[0], updates[1], ends[0], updates[3], updates[2], ends[1], ends[2], updates[1], ends[0]];
  const got = feed(rx, order);
  assert.equal(got.length, 1);
  assert.deepEqual([got[0].digit, got[0].durationMs], ['7', 100]);
  assert.deepEqual(rx.flush(), []);
});

test('lost end packets: the next event finishes the previous one', () => {
  const tx = new TelephoneEventSender();
  const rx = new TelephoneEventReceiver({ now: fakeClock().now });
  const first = tx.packetsFor('1', 8000, { durationMs: 120 }).packets.filter((p) => !parseTelephoneEvent(p.payload)?.end);
  const second = tx.packetsFor('2', 16000).packets;
  assert.deepEqual(feed(rx, first), []);
  const got = feed(rx, second);
  assert.deepEqual(got.map((d) => [d.digit, d.endReceived, d.durationMs]), [['1', false, 100], ['2', true, 100]]);
});

test('lost end packets: finished by the injected clock after the timeout, not before', () => {
  const clock = fakeClock();
  const rx = new TelephoneEventReceiver({ now: clock.now, timeoutMs: 200 });
  const updates = new TelephoneEventSender().packetsFor('9', 0).packets.slice(0, 3);
  assert.deepEqual(feed(rx, updates), []);
  clock.advance(199);
  assert.deepEqual(rx.poll(), []);
  clock.advance(1);
  const got = rx.poll();
  assert.deepEqual(got.map((d) => [d.digit, d.endReceived, d.durationMs]), [['9', false, 60]]);
  // The late end packets of that event are then ignored.
  const ends = new TelephoneEventSender().packetsFor('9', 0).packets.slice(4);
  assert.deepEqual(feed(rx, ends), []);
  assert.deepEqual(rx.poll(), []);
});

test('lost end packets: finished by audio timestamps of the same stream', () => {
  const rx = new TelephoneEventReceiver({ now: fakeClock().now, timeoutMs: 200 });
  feed(rx, new TelephoneEventSender().packetsFor('#', 0xffffff00).packets.slice(0, 2)); // duration 320
  // 320 + 1600 units is still within the timeout (timestamps wrap past 2^32 here).
  assert.deepEqual(rx.observeTimestamp((0xffffff00 + 1920) >>> 0), []);
  const got = rx.observeTimestamp((0xffffff00 + 1921) >>> 0);
  assert.deepEqual(got.map((d) => d.digit), ['#']);
});

test('non-DTMF events (flash) and short payloads are not reported', () => {
  const rx = new TelephoneEventReceiver({ now: fakeClock().now });
  assert.deepEqual(rx.push(100, true, buildTelephoneEvent({ event: 16, end: true, volume: 10, duration: 800 })), []);
  assert.deepEqual(rx.push(200, true, Buffer.from([1, 2])), []);
  assert.equal(rx.malformedPackets, 1);
});

test('an event longer than 0xFFFF units continues in a new segment (§2.5.1.3)', () => {
  const rx = new TelephoneEventReceiver({ now: fakeClock().now });
  const pkt = (ts: number, marker: boolean, duration: number, end = false): TelephoneEventDigit[] =>
    rx.push(ts, marker, buildTelephoneEvent({ event: 4, end, volume: 10, duration }));
  assert.deepEqual(pkt(0, true, 160), []);
  assert.deepEqual(pkt(0, false, 65535), []);
  assert.deepEqual(pkt(65535, false, 160), []);
  const got = pkt(65535, false, 800, true);
  assert.deepEqual(got.map((d) => [d.digit, d.durationMs, d.timestamp]), [['4', Math.round(((65535 + 800) * 1000) / 8000), 0]]);
});
