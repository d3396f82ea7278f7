import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  SrtpContext,
  SrtpError,
  deriveSrtpSessionKey,
  srtpKeystream,
  type SrtpKeys,
  type SrtpProfile,
} from '../../src/media/srtp-context.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 3711 Appendix B.3 master key and salt (also libsrtp's srtp_validate key).
const RFC_KEYS: SrtpKeys = {
  masterKey: hex('E1F97A0D3E018BE0D64FA32C06DE4139'),
  masterSalt: hex('0EC675AD498AFEEBB6960B3AABE6'),
};
const OTHER_KEYS: SrtpKeys = {
  masterKey: hex('000102030405060708090a0b0c0d0e0f'),
  masterSalt: hex('101112131415161718191a1b1c1d'),
};
const PROFILES: SrtpProfile[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

function rtp(seq: number, opts: { ssrc?: number; payload?: Buffer; csrc?: number; extension?: boolean } = {}): Buffer {
  const csrc = opts.csrc ?? 0;
  const header = Buffer.alloc(12 + csrc * 4 + (opts.extension ? 8 : 0));
  header[0] = 0x80 | (opts.extension ? 0x10 : 0) | csrc;
  header[1] = 0;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE((seq * 160) >>> 0, 4);
  header.writeUInt32BE(opts.ssrc ?? 0x11223344, 8);
  for (let i = 0; i < csrc; i++) header.writeUInt32BE(0xaabb0000 + i, 12 + i * 4);
  if (opts.extension) {
    const at = 12 + csrc * 4;
    header.writeUInt16BE(0xbede, at);
    header.writeUInt16BE(1, at + 2);
    header.writeUInt32BE(0x10ff0000, at + 4);
  }
  const payload = opts.payload ?? Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 7 + seq) & 0xff));
  return Buffer.concat([header, payload]);
}

function pair(profile: SrtpProfile = 'AES_CM_128_HMAC_SHA1_80'): { tx: SrtpContext; rx: SrtpContext } {
  return { tx: new SrtpContext(profile, OTHER_KEYS), rx: new SrtpContext(profile, OTHER_KEYS) };
}

test('RFC 3711 B.3: key derivation from the master key and salt', () => {
  const { masterKey, masterSalt } = RFC_KEYS;
  assert.equal(deriveSrtpSessionKey(masterKey, masterSalt, 0x00, 16).toString('hex'), 'c61e7a93744f39ee10734afe3ff7a087');
  assert.equal(deriveSrtpSessionKey(masterKey, masterSalt, 0x02, 14).toString('hex'), '30cbbc08863d8c85d49db34a9ae1');
  const auth = deriveSrtpSessionKey(masterKey, masterSalt, 0x01, 94);
  assert.deepEqual(
    auth,
    hex(`CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098
         6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2`),
  );
});

test('RFC 3711 B.2: AES-CM keystream, first and last blocks of the 65282-block segment', () => {
  const keystream = srtpKeystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'), 0, 0, 1044512);
  assert.equal(keystream.length, 1044512);
  assert.deepEqual(keystream.subarray(0, 48), hex('E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0'));
  assert.deepEqual(keystream.subarray(-48), hex('EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44'));
});

// libsrtp's srtp_validate vectors (test/srtp_driver.c): SSRC 0xcafebabe, seq 0x1234, ROC 0.
const LIBSRTP_RTP = hex('800f1234decafbadcafebabe abababababababababababababababab');
const LIBSRTP_SRTP_80 = hex('800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb');
const LIBSRTP_RTCP = hex('81c8000bcafebabe abababababababababababababababab');
const LIBSRTP_SRTCP = hex('81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798');

test('libsrtp vector: AES_CM_128_HMAC_SHA1_80 and _32 protect to the published bytes and back', () => {
  const srtp80 = new SrtpContext('AES_CM_128_HMAC_SHA1_80', RFC_KEYS).protectRtp(LIBSRTP_RTP);
  assert.deepEqual(srtp80, LIBSRTP_SRTP_80);
  const srtp32 = new SrtpContext('AES_CM_128_HMAC_SHA1_32', RFC_KEYS).protectRtp(LIBSRTP_RTP);
  assert.deepEqual(srtp32, LIBSRTP_SRTP_80.subarray(0, LIBSRTP_RTP.length + 4)); // same HMAC, shorter cut
  assert.deepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_80', RFC_KEYS).unprotectRtp(LIBSRTP_SRTP_80), LIBSRTP_RTP);
  assert.deepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_32', RFC_KEYS).unprotectRtp(srtp32), LIBSRTP_RTP);
});

test('libsrtp vector: SRTCP with E=1 and index 1 unprotects; our second packet (index 1) is byte-identical', () => {
  assert.deepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_80', RFC_KEYS).unprotectRtcp(LIBSRTP_SRTCP), LIBSRTP_RTCP);
  const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', RFC_KEYS);
  const first = tx.protectRtcp(LIBSRTP_RTCP);
  assert.equal(first.readUInt32BE(LIBSRTP_RTCP.length), 0x80000000, 'RFC 3711 §3.4: the first SRTCP index is 0');
  assert.deepEqual(tx.protectRtcp(LIBSRTP_RTCP), LIBSRTP_SRTCP);
});

// Produced by libre 1.1.0 (Debian libre0, baresip's SRTP) with key 000102..1d: seq 65534,
// 65535, then 0 under ROC 1 — an independent implementation across the rollover.
const LIBRE_PLAIN = ['8000fffe0000a000', '8000ffff0000a0a0', '800000000000a140'].map((h) => hex(`${h}11223344 0102030405060708`));
const LIBRE_SRTP_80 = [
  '8000fffe0000a00011223344 43446cc4d306e5c8 db364de55364e667d46b',
  '8000ffff0000a0a011223344 280a35bf07f6f11d cc7a7ac59790ffad62a6',
  '800000000000a14011223344 686c04212c94c5a5 aeb890428e335a228d04',
].map(hex);

test('libre vectors: ROC rollover 65535 -> 0 matches an independent implementation both ways', () => {
  for (const profile of PROFILES) {
    const tagLength = profile === 'AES_CM_128_HMAC_SHA1_80' ? 10 : 4;
    const expected = LIBRE_SRTP_80.map((p) => p.subarray(0, p.length - 10 + tagLength));
    const tx = new SrtpContext(profile, OTHER_KEYS);
    assert.deepEqual(LIBRE_PLAIN.map((p) => tx.protectRtp(p)), expected, profile);
    const rx = new SrtpContext(profile, OTHER_KEYS);
    assert.deepEqual(expected.map((p) => rx.unprotectRtp(p)), LIBRE_PLAIN, profile);
  }
});

test('libre vector: SRTCP from libre (index 1) unprotects, with 80-bit and 32-bit SRTCP tags', () => {
  const plain = hex('81c90007112233440102030400000000000000000000000000000000');
  const srtcp = hex('81c9000711223344 1e110a1cf028652a7c2230e8309ac17bc1371966 80000001 5f03241a760c0a371cb3');
  assert.deepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS).unprotectRtcp(srtcp), plain);
  const short = new SrtpContext('AES_CM_128_HMAC_SHA1_32', OTHER_KEYS, { srtcpAuthTagBits: 32 });
  assert.deepEqual(short.unprotectRtcp(srtcp.subarray(0, srtcp.length - 6)), plain);
  // With the RFC default (80-bit SRTCP tag for the _32 suite) the 4-byte-tag packet does not verify.
  assert.equal(new SrtpContext('AES_CM_128_HMAC_SHA1_32', OTHER_KEYS).unprotectRtcp(srtcp.subarray(0, srtcp.length - 6)), null);
});

test('round trip for both profiles: header (CSRC, extension) stays clear, payload is encrypted, tag length', () => {
  for (const profile of PROFILES) {
    const { tx, rx } = pair(profile);
    for (const [i, opts] of [{}, { csrc: 2 }, { extension: true }, { csrc: 1, extension: true, payload: Buffer.alloc(0) }].entries()) {
      const plain = rtp(1000 + i, opts);
      const headerLength = plain.length - (opts.payload?.length ?? 160);
      const srtp = tx.protectRtp(plain);
      assert.equal(srtp.length, plain.length + (profile === 'AES_CM_128_HMAC_SHA1_80' ? 10 : 4));
      assert.deepEqual(srtp.subarray(0, headerLength), plain.subarray(0, headerLength));
      if (headerLength < plain.length) assert.notDeepEqual(srtp.subarray(headerLength, plain.length), plain.subarray(headerLength));
      assert.deepEqual(rx.unprotectRtp(srtp), plain);
    }
    assert.deepEqual(rx.stats, { authFailures: 0, replays: 0, malformed: 0 });
  }
});

test('ROC rollover across 65535 -> 0: every packet decrypts, and seq 0 is keyed with ROC 1', () => {
  const { tx, rx } = pair();
  const seqs = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3];
  const protectedPackets = seqs.map((s) => tx.protectRtp(rtp(s)));
  protectedPackets.forEach((p, i) => assert.deepEqual(rx.unprotectRtp(p), rtp(seqs[i]), `seq ${seqs[i]}`));
  // A fresh sender has ROC 0 at seq 0: different keystream and tag from the wrapped one.
  assert.notDeepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS).protectRtp(rtp(0)), protectedPackets[6]);
});

test('reordered packets are accepted, also across the rollover (v = ROC - 1)', () => {
  const { tx, rx } = pair();
  const seqs = [65533, 65534, 65535, 0, 1, 2];
  const packets = new Map(seqs.map((s) => [s, tx.protectRtp(rtp(s))]));
  for (const s of [65533, 65535, 0, 65534, 2, 1]) assert.deepEqual(rx.unprotectRtp(packets.get(s) as Buffer), rtp(s), `seq ${s}`);
  assert.deepEqual(rx.stats, { authFailures: 0, replays: 0, malformed: 0 });
});

test('replayed packets and packets older than the 64-packet window are rejected and counted', () => {
  const { tx, rx } = pair();
  const packets = Array.from({ length: 100 }, (_, i) => tx.protectRtp(rtp(i)));
  assert.ok(rx.unprotectRtp(packets[5]));
  assert.equal(rx.unprotectRtp(packets[5]), null);
  assert.equal(rx.stats.replays, 1);
  assert.ok(rx.unprotectRtp(packets[99]));
  assert.ok(rx.unprotectRtp(packets[36]), '99 - 36 = 63: the oldest index inside the window');
  assert.equal(rx.unprotectRtp(packets[35]), null, '99 - 35 = 64: outside the window');
  assert.equal(rx.unprotectRtp(packets[36]), null);
  assert.deepEqual(rx.stats, { authFailures: 0, replays: 3, malformed: 0 });
});

test('tampered packets are rejected, counted, and do not disturb the stream state', () => {
  const { tx, rx } = pair('AES_CM_128_HMAC_SHA1_32');
  const genuine = tx.protectRtp(rtp(65000));
  assert.ok(rx.unprotectRtp(genuine));
  for (const at of [1, 20, genuine.length - 1]) {
    const bad = Buffer.from(tx.protectRtp(rtp(65001)));
    bad[at] ^= 0x01;
    assert.equal(rx.unprotectRtp(bad), null, `byte ${at}`);
  }
  assert.equal(rx.stats.authFailures, 3);
  // A forged packet whose seq implies a wrap (v = ROC + 1) must not move the ROC or the window:
  // had it been recorded, index 65001 would now be far outside the window.
  const forged = new SrtpContext('AES_CM_128_HMAC_SHA1_32', RFC_KEYS).protectRtp(rtp(5));
  assert.equal(rx.unprotectRtp(forged), null);
  assert.equal(rx.stats.authFailures, 4);
  assert.deepEqual(rx.unprotectRtp(tx.protectRtp(rtp(65001))), rtp(65001));
});

test('a packet from the wrong key fails authentication; SSRCs keep separate state', () => {
  const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS);
  assert.equal(rx.unprotectRtp(new SrtpContext('AES_CM_128_HMAC_SHA1_80', RFC_KEYS).protectRtp(rtp(1))), null);
  assert.equal(rx.stats.authFailures, 1);
  const tx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS);
  const a = tx.protectRtp(rtp(7, { ssrc: 1 }));
  const b = tx.protectRtp(rtp(7, { ssrc: 2 }));
  assert.notDeepEqual(a.subarray(12), b.subarray(12), 'the SSRC is part of the IV');
  assert.deepEqual(rx.unprotectRtp(a), rtp(7, { ssrc: 1 }));
  assert.deepEqual(rx.unprotectRtp(b), rtp(7, { ssrc: 2 }), 'same seq on another SSRC is not a replay');
});

test('malformed input never throws: unprotect returns null and counts it', () => {
  const rx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS);
  const valid = new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS).protectRtp(rtp(1));
  const badVersion = Buffer.from(valid);
  badVersion[0] = 0x40;
  const longExtension = Buffer.from(new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS).protectRtp(rtp(1, { extension: true })));
  longExtension.writeUInt16BE(0xffff, 14);
  const cases = [Buffer.alloc(0), Buffer.alloc(5), valid.subarray(0, 21), badVersion, longExtension, Buffer.from([0x8f, 0, 0, 1])];
  for (const c of cases) {
    assert.equal(rx.unprotectRtp(c), null);
    assert.equal(rx.unprotectRtcp(c), null);
  }
  assert.equal(rx.stats.malformed, 11); // longExtension is a well-formed RTCP length, failing auth instead
  assert.equal(rx.stats.authFailures, 1);
  for (let n = 0; n < 64; n++) {
    const junk = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
    junk[0] = 0x80;
    assert.equal(rx.unprotectRtp(junk), null);
    assert.equal(rx.unprotectRtcp(junk), null);
  }
});

test('SRTCP round trip: E bit set, index counts from 0 per SSRC, replay and tamper rejected', () => {
  for (const profile of PROFILES) {
    const { tx, rx } = pair(profile);
    const rtcp = hex('80c8000611223344 e000000000000000 0000000100000000 000000a0');
    const out = [0, 1, 2].map(() => tx.protectRtcp(rtcp));
    assert.equal(out[0].length, rtcp.length + 4 + 10, 'SRTCP keeps the 80-bit tag for both suites');
    assert.deepEqual(out.map((p) => p.readUInt32BE(rtcp.length)), [0x80000000, 0x80000001, 0x80000002]);
    assert.deepEqual(out[0].subarray(0, 8), rtcp.subarray(0, 8));
    assert.notDeepEqual(out[0].subarray(8, rtcp.length), rtcp.subarray(8));
    const other = hex('81c9000755667788 1122334400000000 0000000000000000 0000000000000000');
    assert.equal(tx.protectRtcp(other).readUInt32BE(other.length), 0x80000000, 'another SSRC has its own index');
    assert.deepEqual(rx.unprotectRtcp(out[2]), rtcp);
    assert.deepEqual(rx.unprotectRtcp(out[0]), rtcp, 'reordered');
    assert.equal(rx.unprotectRtcp(out[2]), null, 'replayed');
    const bad = Buffer.from(out[1]);
    bad[10] ^= 0x80;
    assert.equal(rx.unprotectRtcp(bad), null);
    assert.deepEqual(rx.stats, { authFailures: 1, replays: 1, malformed: 0 });
    assert.deepEqual(rx.unprotectRtcp(out[1]), rtcp);
  }
});

test('SRTCP with E=0 (authenticated, not encrypted) is accepted as is', () => {
  const rtcp = hex('81c90007112233440102030400000000000000000000000000000000');
  const authKey = deriveSrtpSessionKey(OTHER_KEYS.masterKey, OTHER_KEYS.masterSalt, 0x04, 20); // §4.3.2 SRTCP auth label
  const body = Buffer.concat([rtcp, hex('00000009')]);
  const packet = Buffer.concat([body, createHmac('sha1', authKey).update(body).digest().subarray(0, 10)]);
  assert.deepEqual(new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS).unprotectRtcp(packet), rtcp);
});

test('typed errors: bad key sizes, unknown profile, and protecting a non-RTP buffer', () => {
  const code = (fn: () => unknown, expected: string): void =>
    assert.throws(fn, (e: unknown) => e instanceof SrtpError && e.code === expected);
  code(() => new SrtpContext('AES_CM_128_HMAC_SHA1_80', { masterKey: Buffer.alloc(15), masterSalt: Buffer.alloc(14) }), 'SRTP_BAD_KEY');
  code(() => new SrtpContext('AES_CM_128_HMAC_SHA1_80', { masterKey: Buffer.alloc(16), masterSalt: Buffer.alloc(16) }), 'SRTP_BAD_KEY');
  code(() => new SrtpContext('F8_128_HMAC_SHA1_80' as SrtpProfile, OTHER_KEYS), 'SRTP_BAD_PROFILE');
  const ctx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', OTHER_KEYS);
  code(() => ctx.protectRtp(Buffer.alloc(8)), 'SRTP_BAD_PACKET');
  code(() => ctx.protectRtcp(Buffer.from([0x40, 0xc8, 0, 1, 0, 0, 0, 0])), 'SRTP_BAD_PACKET');
});
