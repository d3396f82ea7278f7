// RtpSession over REAL loopback UDP sockets, paced by a MediaClock we tick by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once, type EventEmitter } from 'node:events';
import { MediaClock } from '../../src/media/media-clock.js';
import { PortAllocator } from '../../src/media/port-allocator.js';
import { RtpSession } from '../../src/media/rtp-session.js';
import { RtpPacket } from '../../src/media/rtp-packet.js';
import { decodeFrame, encodeFrame } from '../../src/media/g711.js';
import type { RtcpPacket } from '../../src/media/rtcp.js';
import type { NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { manualClock } from './rtp-phone.js';
import { waitForEvent as waitFor } from '../helpers/wait-for-event.js';



function pcmu(port: number, extra: Partial<NegotiatedAudio> = {}): NegotiatedAudio {
  return { remoteAddress: '127.0.0.1', remotePort: port, codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101, ptime: 20, direction: 'sendrecv', ...extra };
}

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

const ports = new PortAllocator(47000, 47999);

test('two sessions exchange G.711 audio; frames are continuous and end in silence', async () => {
  const { clock, tick } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  try {
    assert.equal(a.localPort % 2, 0);
    a.configure(pcmu(b.localPort));
    b.configure(pcmu(a.localPort));
    const clip = new Int16Array(480);
    for (let i = 0; i < clip.length; i++) clip[i] = Math.round(Math.sin(i / 7) * 12000);
    const played = a.output.play(clip);
    const heard: { pcm: Int16Array; seq: number; timestamp: number }[] = [];
    b.on('audio', (pcm, info) => heard.push({ pcm, ...info }));
    const markers: boolean[] = [];
    b.on('rtp', (p) => markers.push(p.marker));
    const got4 = waitFor(b, 'audio', () => heard.length === 4);
    tick(4);
    assert.equal(await played, 'finished'); // all 480 samples pulled by the third tick
    await got4;
    // What B hears is exactly the clip through one G.711 encode/decode, then a silent frame.
    const coded = Buffer.alloc(480);
    encodeFrame(clip, 'PCMU', coded);
    const expected = new Int16Array(480);
    decodeFrame(coded, 'PCMU', expected);
    assert.deepEqual(Array.from(heard.slice(0, 3).flatMap((h) => [...h.pcm])), Array.from(expected));
    assert.ok(heard[3].pcm.every((s) => s === 0));
    for (let i = 1; i < 4; i++) {
      assert.equal(heard[i].seq, (heard[i - 1].seq + 1) & 0xffff);
      assert.equal(heard[i].timestamp, (heard[i - 1].timestamp + 160) >>> 0);
    }
    assert.deepEqual(markers, [true, false, false, false]);
    assert.equal(a.stats().packetsSent, 4);
    assert.equal(a.stats().bytesSent, 640);
    assert.equal(b.stats().packetsReceived, 4);
    assert.equal(b.stats().packetsLost, 0);
  } finally {
    await a.close();
    await b.close();
    clock.stop();
  }
});

test('symmetric RTP: replies go where packets come from, and follow the remote when it moves', async () => {
  const { clock, tick } = manualClock();
  const decoy = await udp(); // the address B's SDP claims; nobody sends from it
  const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  let c: RtpSession | null = null;
  try {
    const decoyPort = decoy.address().port;
    b.configure(pcmu(decoyPort));
    a.configure(pcmu(b.localPort));
    const decoyGot = once(decoy, 'message');
    const bHeardA = waitFor(b, 'first-packet');
    tick(); // B → decoy (nothing heard from anyone yet), A → B
    await decoyGot;
    const [rinfo] = (await bHeardA) as [{ port: number }];
    assert.equal(rinfo.port, a.localPort);
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: a.localPort });
    const aHearsB = waitFor(a, 'rtp', (p: RtpPacket) => p.ssrc === b.ssrc);
    tick();
    await aHearsB;

    // A's peer moves to a new port (NAT rebinding, or a new leg): B follows the new source.
    c = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
    c.configure(pcmu(b.localPort));
    a.configure(pcmu(0, { direction: 'inactive' }));
    const bHeardC = waitFor(b, 'rtp', (p: RtpPacket) => p.ssrc === c!.ssrc);
    tick();
    await bHeardC;
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: c.localPort });
    const cHearsB = waitFor(c, 'rtp', (p: RtpPacket) => p.ssrc === b.ssrc);
    tick();
    await cHearsB;

    // A re-INVITE with the same SDP address (hold/resume, session refresh) keeps the latch, which
    // matters behind NAT; one naming a different address starts over from the SDP.
    b.configure(pcmu(decoyPort, { direction: 'recvonly' }));
    b.configure(pcmu(decoyPort));
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: c.localPort });
    b.configure(pcmu(a.localPort));
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: a.localPort });
  } finally {
    await a.close();
    await b.close();
    await c?.close();
    decoy.close();
    clock.stop();
  }
});

test('RTCP: sender reports with CNAME and a report block reach the peer\'s RTCP port', async () => {
  const { clock, tick } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock, rtcpIntervalMs: 100 });
  const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock, rtcpIntervalMs: 100 });
  try {
    a.configure(pcmu(b.localPort));
    b.configure(pcmu(a.localPort));
    const srFromB = waitFor(a, 'rtcp', (pkts: RtcpPacket[]) => pkts.some((p) => p.type === 'sr' && p.ssrc === b.ssrc && p.reports.length === 1));
    // Tick in small batches so packets arrive between ticks, as they would in real time.
    for (let i = 0; i < 20; i++) {
      tick();
      await new Promise((r) => setImmediate(r));
    }
    const [pkts] = await srFromB;
    const sr = pkts[0];
    assert.equal(sr.type, 'sr');
    if (sr.type !== 'sr') return;
    assert.ok(sr.senderInfo.packetCount > 0);
    assert.equal(sr.senderInfo.octetCount, sr.senderInfo.packetCount * 160);
    assert.equal(sr.reports[0].ssrc, a.ssrc);
    const sdes = pkts.find((p) => p.type === 'sdes');
    assert.deepEqual(sdes?.type === 'sdes' && sdes.chunks[0], { ssrc: b.ssrc, items: [{ type: 1, text: b.cname }] });
  } finally {
    await a.close();
    await b.close();
    clock.stop();
  }
});

test('hold stops sending but keeps time; resume marks the talkspurt and jumps the timestamp', async () => {
  const { clock, tick } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const peer = await udp();
  try {
    const packets: RtpPacket[] = [];
    peer.on('message', (m) => packets.push(RtpPacket.parse(Buffer.from(m))));
    a.configure(pcmu(peer.address().port));
    tick();
    await waitFor(peer, 'message', () => packets.length === 1);
    const played = a.output.play(new Int16Array(320).fill(1000));
    a.configure(pcmu(peer.address().port, { direction: 'recvonly' })); // remote put us on hold
    tick(3);
    assert.equal(await played, 'finished'); // playout kept time while held
    assert.equal(a.stats().packetsSent, 1);
    a.configure(pcmu(peer.address().port, { direction: 'sendrecv' }));
    tick();
    await waitFor(peer, 'message', () => packets.length === 2);
    assert.equal(packets[1].marker, true);
    assert.equal(packets[1].sequenceNumber, (packets[0].sequenceNumber + 1) & 0xffff);
    assert.equal(packets[1].timestamp, (packets[0].timestamp + 4 * 160) >>> 0);
  } finally {
    await a.close();
    peer.close();
    clock.stop();
  }
});

test('telephone-event arrives as "rtp" only; garbage is counted, not fatal', async () => {
  const { clock } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const peer = await udp();
  try {
    a.configure(pcmu(peer.address().port));
    let audio = 0;
    a.on('audio', () => audio++);
    const firsts: unknown[] = [];
    a.on('first-packet', (r) => firsts.push(r));
    const ev = new RtpPacket({ payloadType: 101, sequenceNumber: 1, timestamp: 0, ssrc: 9, payload: Buffer.from([5, 0x80, 0, 160]) });
    const gotEvent = waitFor(a, 'rtp', (p: RtpPacket) => p.payloadType === 101 && p.sequenceNumber === 2);
    peer.send(Buffer.from('not rtp at all'), a.localPort, '127.0.0.1');
    peer.send(ev.marshal(), a.localPort, '127.0.0.1');
    ev.sequenceNumber = 2;
    peer.send(ev.marshal(), a.localPort, '127.0.0.1');
    await gotEvent;
    assert.equal(audio, 0);
    assert.equal(firsts.length, 1);
    assert.equal(a.stats().invalidPackets, 1);
    assert.equal(a.stats().packetsReceived, 2);
  } finally {
    await a.close();
    peer.close();
    clock.stop();
  }
});

test('open skips port pairs held by other processes; close releases ports and leaves the clock', async () => {
  const { clock } = manualClock();
  const range = new PortAllocator(47900, 47903, () => 0); // pairs 47900 and 47902, tried in that order
  const squatter = createSocket('udp4');
  squatter.bind(47901, '127.0.0.1'); // RTCP port of the first pair
  await once(squatter, 'listening');
  try {
    const s = await RtpSession.open({ bindAddress: '127.0.0.1', ports: range, clock });
    assert.equal(s.localPort, 47902);
    assert.equal(range.inUse, 1);
    assert.equal(clock.subscriberCount, 1);
    await s.close();
    await s.close(); // idempotent
    assert.equal(range.inUse, 0);
    assert.equal(clock.subscriberCount, 0);
    squatter.close();
    const again = await RtpSession.open({ bindAddress: '127.0.0.1', ports: range, clock, maxBindAttempts: 1 });
    await again.close();
  } finally {
    clock.stop();
  }
});

test('with the real media clock, audio flows at the clock\'s cadence (no strict timing)', async () => {
  const clock = new MediaClock();
  clock.start();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  try {
    a.configure(pcmu(b.localPort));
    b.configure(pcmu(a.localPort));
    let frames = 0;
    b.on('audio', () => frames++);
    const started = performance.now();
    assert.equal(await a.output.play(new Int16Array(800).fill(3000)), 'finished'); // 5 frames
    await waitFor(b, 'audio', () => frames >= 5);
    // 100 ms of audio cannot have been sent faster than the clock allows (a few ms of slack).
    assert.ok(performance.now() - started >= 60);
    assert.ok(a.stats().lastSendLatenessMs >= 0);
  } finally {
    await a.close();
    await b.close();
    clock.stop();
  }
});

test('an SDP address of the other IP family is reported, and nothing is sent to it', async () => {
  const { clock, tick } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  try {
    const errors: Error[] = [];
    a.on('socket-error', (e) => errors.push(e));
    a.configure(pcmu(5000, { remoteAddress: '::1' }));
    tick(2);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error & { code?: string }).code, 'RTP_ADDRESS_FAMILY');
    assert.equal(a.stats().packetsSent, 0);
  } finally {
    await a.close();
    clock.stop();
  }
});
