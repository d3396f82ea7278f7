// G.711 against the values of ITU-T G.711 Tables 1a (A-law) and 2a (µ-law), and full round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alawToLinear,
  decodeFrame,
  encodeFrame,
  linearToAlaw,
  linearToMulaw,
  mulawToLinear,
  MULAW_DECODE_TABLE,
  ALAW_DECODE_TABLE,
} from '../../src/media/g711.js';

test('µ-law: known encodings (G.711 Table 2a, 16-bit scaled)', () => {
  const cases: [number, number][] = [
    [0, 0xff],
    [-1, 0x7f],
    [8, 0xfe], // segment 0, step 1 (14-bit value 2)
    [120, 0xf0], // end of segment 0
    [132, 0xef], // start of segment 1
    [1000, 0xce],
    [-1000, 0x4e],
    [32124, 0x80],
    [32767, 0x80], // clipped
    [-32768, 0x00],
  ];
  for (const [lin, code] of cases) assert.equal(linearToMulaw(lin), code, `linearToMulaw(${lin})`);
});

test('µ-law: known decodings', () => {
  assert.equal(mulawToLinear(0xff), 0);
  assert.equal(mulawToLinear(0x7f), 0);
  assert.equal(mulawToLinear(0x80), 32124);
  assert.equal(mulawToLinear(0x00), -32124);
  assert.equal(mulawToLinear(0xfe), 8);
  assert.equal(mulawToLinear(0xef), 132);
  // First row of the standard µ-law expansion table.
  assert.deepEqual([...MULAW_DECODE_TABLE.subarray(0, 8)], [-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956]);
});

test('A-law: known encodings and decodings (G.711 Table 1a, 16-bit scaled)', () => {
  const enc: [number, number][] = [
    [0, 0xd5],
    [-1, 0x55],
    [-8, 0x55],
    [8, 0xd5],
    [16, 0xd4],
    [1000, 0xfa],
    [-1000, 0x7a],
    [32767, 0xaa],
    [-32768, 0x2a],
  ];
  for (const [lin, code] of enc) assert.equal(linearToAlaw(lin), code, `linearToAlaw(${lin})`);
  assert.equal(alawToLinear(0xd5), 8);
  assert.equal(alawToLinear(0x55), -8);
  assert.equal(alawToLinear(0xaa), 32256);
  assert.equal(alawToLinear(0x2a), -32256);
  assert.deepEqual([...ALAW_DECODE_TABLE.subarray(0, 8)], [-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736]);
});

test('every 8-bit code word survives decode→encode (µ-law negative zero folds to 0xFF)', () => {
  for (let c = 0; c < 256; c++) {
    assert.equal(linearToAlaw(alawToLinear(c)), c, `A-law 0x${c.toString(16)}`);
    const expected = c === 0x7f ? 0xff : c;
    assert.equal(linearToMulaw(mulawToLinear(c)), expected, `µ-law 0x${c.toString(16)}`);
  }
});

test('quantisation is monotonic and its error bounded by the segment step over the whole 16-bit range', () => {
  let prevU = -Infinity;
  let prevA = -Infinity;
  for (let x = -32768; x <= 32767; x++) {
    const u = mulawToLinear(linearToMulaw(x));
    const a = alawToLinear(linearToAlaw(x));
    assert.ok(u >= prevU && a >= prevA, `not monotonic at ${x}`);
    prevU = u;
    prevA = a;
    if (Math.abs(x) <= 32124) {
      // µ-law step in segment s is 2^(s+3) in 16-bit units; the error stays within half a step (+1 for rounding).
      const seg = Math.max(0, Math.floor(Math.log2((Math.abs(x) + 132) / 256)) + 1);
      assert.ok(Math.abs(u - x) <= 2 ** (seg + 2) + 1, `µ-law error at ${x}: ${u}`);
    }
    if (Math.abs(x) <= 32256) {
      // A-law: 13-bit steps of 2 (segments 0-1) doubling per segment; allow one full step.
      const seg = Math.max(1, Math.floor(Math.log2(Math.abs(x) / 8 / 32)) + 1);
      assert.ok(Math.abs(a - x) <= 2 ** (seg + 3) + 8, `A-law error at ${x}: ${a}`);
    }
  }
});

test('encodeFrame/decodeFrame match the per-sample functions and check sizes', () => {
  const pcm = new Int16Array(160);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(Math.sin(i / 5) * 20000);
  for (const codec of ['PCMU', 'PCMA'] as const) {
    const enc = codec === 'PCMU' ? linearToMulaw : linearToAlaw;
    const dec = codec === 'PCMU' ? mulawToLinear : alawToLinear;
    const out = Buffer.alloc(160);
    encodeFrame(pcm, codec, out);
    for (let i = 0; i < 160; i++) assert.equal(out[i], enc(pcm[i]));
    const back = new Int16Array(160);
    decodeFrame(out, codec, back);
    for (let i = 0; i < 160; i++) assert.equal(back[i], dec(out[i]));
  }
  assert.throws(() => encodeFrame(pcm, 'PCMU', Buffer.alloc(100)), RangeError);
  assert.throws(() => decodeFrame(Buffer.alloc(160), 'PCMA', new Int16Array(10)), RangeError);
});
