// SRTP on a real RtpSession pair over loopback UDP: what goes on the wire is encrypted and
// authenticated, the peer hears the audio, RTCP travels as SRTCP, and forged or tampered packets
// are dropped and counted. The media clock is ticked by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once, type EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { PortAllocator } from '../../src/media/port-allocator.js';
import { RtpSession } from '../../src/media/rtp-session.js';
import { SrtpContext, type SrtpKeys, type SrtpProfile } from '../../src/media/srtp-context.js';
import { SrtpTransform } from '../../src/media/srtp-transform.js';
import { RtpPacket } from '../../src/media/rtp-packet.js';
import { encodeFrame } from '../../src/media/g711.js';
import { marshalRtcp, SDES_CNAME, type RtcpPacket } from '../../src/media/rtcp.js';
import type { NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { manualClock } from './rtp-phone.js';
import { waitForEvent as waitFor } from '../helpers/wait-for-event.js';

const ports = new PortAllocator(47400, 47599);

/** A receiver report and its CNAME: the smallest compound RTCP packet a real peer sends (RFC 3550 §6.1). */
function receiverReport(ssrc: number): Buffer {
  return marshalRtcp([
    { type: 'rr', ssrc, reports: [] },
    { type: 'sdes', chunks: [{ ssrc, items: [{ type: SDES_CNAME, text: 'peer@127.0.0.1' }] }] },
  ]);
}

function keys(): SrtpKeys {
  return { masterKey: randomBytes(16), masterSalt: randomBytes(14) };
}

function pcmu(port: number): NegotiatedAudio {
  return { remoteAddress: '127.0.0.1', remotePort: port, codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101, ptime: 20, direction: 'sendrecv' };
}


async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

function tone(n: number): Int16Array {
  const clip = new Int16Array(n);
  for (let i = 0; i < n; i++) clip[i] = Math.round(Math.sin(i / 5) * 10000);
  return clip;
}

for (const profile of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as SrtpProfile[]) {
  test(`${profile}: a session pair exchanges audio and SRTCP; the wire carries no plain payload`, async () => {
    const { clock, tick } = manualClock();
    const ka = keys();
    const kb = keys();
    const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock, rtcpIntervalMs: 60, secure: SrtpTransform.fromKeys(profile, { local: ka, remote: kb }) });
    const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock, rtcpIntervalMs: 60 });
    b.setSecure(SrtpTransform.fromKeys(profile, { local: kb, remote: ka }));
    // A sniffer stands where B would be for A's first packet: it sees exactly what A puts on the wire.
    const sniffer = await udp();
    try {
      a.configure(pcmu(sniffer.address().port));
      b.configure(pcmu(a.localPort));
      const clip = tone(160);
      const plainPayload = Buffer.alloc(160);
      encodeFrame(clip, 'PCMU', plainPayload);
      void a.output.play(clip);
      const sniffed = once(sniffer, 'message') as Promise<[Buffer]>;
      tick(1);
      const [wire] = await sniffed;
      const tagLength = profile === 'AES_CM_128_HMAC_SHA1_80' ? 10 : 4;
      assert.equal(wire.length, 12 + 160 + tagLength, 'RTP header, encrypted payload, auth tag');
      assert.notDeepEqual(wire.subarray(12, 172), plainPayload, 'the payload on the wire is not the G.711 frame');
      assert.equal(RtpPacket.parse(wire).payloadType, 0, 'the header stays in the clear (RFC 3711 §3.1)');

      // Now point A at B: B decrypts, hears the audio and A's SRTCP reports.
      a.configure(pcmu(b.localPort));
      void a.output.play(clip);
      const heard = waitFor<[Int16Array]>(b, 'audio', (pcm) => pcm.some((s) => s !== 0));
      const report = waitFor<[RtcpPacket[]]>(b, 'rtcp', (pkts) => pkts.some((p) => (p.type === 'sr' || p.type === 'rr') && p.ssrc === a.ssrc));
      const reportBack = waitFor<[RtcpPacket[]]>(a, 'rtcp', (pkts) => pkts.some((p) => (p.type === 'sr' || p.type === 'rr') && p.ssrc === b.ssrc));
      for (let i = 0; i < 10; i++) {
        tick(1);
        await new Promise((r) => setImmediate(r));
      }
      const [pcm] = await heard;
      assert.equal(pcm.length, 160);
      await report;
      await reportBack;
      const sb = b.stats().srtp;
      assert.ok(sb);
      assert.equal(sb.profile, profile);
      assert.ok(sb.rtpUnprotected >= 1, 'B decrypted RTP');
      assert.ok(sb.rtcpUnprotected >= 1, 'B decrypted SRTCP');
      assert.equal(sb.authFailures, 0);
      assert.ok((a.stats().srtp?.rtpProtected ?? 0) >= 2);
    } finally {
      sniffer.close();
      await a.close();
      await b.close();
    }
  });
}

test('plain, forged, tampered and replayed packets are dropped and counted, never delivered', async () => {
  const { clock } = manualClock();
  const kPeer = keys();
  const peer = new SrtpContext('AES_CM_128_HMAC_SHA1_80', kPeer);
  const session = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock, secure: SrtpTransform.fromKeys('AES_CM_128_HMAC_SHA1_80', { local: keys(), remote: kPeer }) });
  const sock = await udp();
  try {
    session.configure(pcmu(sock.address().port));
    const delivered: RtpPacket[] = [];
    session.on('rtp', (p) => delivered.push(p));
    const rtcpDelivered: RtcpPacket[][] = [];
    session.on('rtcp', (p) => rtcpDelivered.push(p));
    const plain = new RtpPacket({ payloadType: 0, sequenceNumber: 100, timestamp: 1000, ssrc: 0x1234, payload: Buffer.alloc(160, 0xff) }).marshal();
    const send = (buf: Buffer, port = session.localPort): Promise<void> => new Promise((r) => sock.send(buf, port, '127.0.0.1', () => r()));
    await send(plain); // plain RTP on a secure session: no tag verifies
    const forged = Buffer.concat([plain, randomBytes(10)]);
    await send(forged); // SRTP-shaped, wrong key
    const good = peer.protectRtp(plain);
    const tampered = Buffer.from(good);
    tampered[20] ^= 0x01;
    await send(tampered);
    const goodDelivered = waitFor(session, 'rtp');
    await send(good);
    await goodDelivered;
    await send(good); // replay
    const rtcp = receiverReport(0x1234);
    await send(rtcp, session.localPort + 1); // plain RTCP: dropped
    const srtcpOk = waitFor(session, 'rtcp');
    await send(peer.protectRtcp(rtcp), session.localPort + 1);
    await srtcpOk;
    // Datagrams are in order on loopback; one more good packet flushes the receive queue.
    const last = waitFor(session, 'rtp');
    await send(peer.protectRtp(new RtpPacket({ payloadType: 0, sequenceNumber: 101, timestamp: 1160, ssrc: 0x1234, payload: Buffer.alloc(160, 0xff) }).marshal()));
    await last;
    assert.deepEqual(delivered.map((p) => p.sequenceNumber), [100, 101], 'only authentic packets reach listeners, once each');
    assert.equal(rtcpDelivered.length, 1);
    const s = session.stats().srtp;
    assert.ok(s);
    assert.equal(s.authFailures, 4, 'plain RTP, forged, tampered, plain RTCP');
    assert.equal(s.replays, 1);
    assert.equal(s.rtpUnprotected, 2);
    assert.equal(s.rtcpUnprotected, 1);
    assert.equal(session.stats().packetsReceived, 2, 'dropped packets are not counted as received media');
  } finally {
    sock.close();
    await session.close();
  }
});

test('AES_CM_128_HMAC_SHA1_32: SRTCP with a 32-bit tag (libre) is accepted and answered in kind', () => {
  const ka = keys();
  const kb = keys();
  const ours = SrtpTransform.fromKeys('AES_CM_128_HMAC_SHA1_32', { local: ka, remote: kb });
  const libre = { send: new SrtpContext('AES_CM_128_HMAC_SHA1_32', kb, { srtcpAuthTagBits: 32 }), receive: new SrtpContext('AES_CM_128_HMAC_SHA1_32', ka, { srtcpAuthTagBits: 32 }) };
  const rfc = new SrtpContext('AES_CM_128_HMAC_SHA1_32', ka); // 80-bit SRTCP tag, as libsrtp
  const rr = receiverReport(0x42);
  // Before hearing the peer we send the RFC's 80-bit tag.
  assert.ok(rfc.unprotectRtcp(ours.protectRtcp(rr)));
  assert.ok(ours.unprotectRtcp(libre.send.protectRtcp(rr)), 'a 32-bit SRTCP tag authenticates');
  assert.deepEqual(libre.receive.unprotectRtcp(ours.protectRtcp(rr)), rr, 'after that we answer with 32 bits');
  assert.equal(ours.stats().authFailures, 0, 'trying the long tag first is not counted as a failure');
  const bad = libre.send.protectRtcp(rr);
  bad[bad.length - 1] ^= 0xff;
  assert.equal(ours.unprotectRtcp(bad), null);
  assert.equal(ours.stats().authFailures, 1, 'a packet failing both tag lengths counts once');
});

test('both directions must share a profile', () => {
  assert.throws(() => new SrtpTransform(new SrtpContext('AES_CM_128_HMAC_SHA1_80', keys()), new SrtpContext('AES_CM_128_HMAC_SHA1_32', keys())), RangeError);
});
