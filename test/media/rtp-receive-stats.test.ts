// Reception statistics (RFC 3550 A.1, A.3, A.8).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpReceiveStats } from '../../src/media/rtp-receive-stats.js';

test('counts loss across a sequence-number wrap and reports fraction lost per interval', () => {
  const s = new RtpReceiveStats();
  // 65533, 65534, [65535 lost], 0, 1, [2, 3 lost], 4
  for (const seq of [65533, 65534, 0, 1, 4]) s.update(7, seq, seq * 160, seq * 160);
  assert.equal(s.extendedHighestSequence, 0x10000 + 4);
  assert.equal(s.expected, 8);
  assert.equal(s.lost, 3);
  const r1 = s.report(0, 0);
  assert.equal(r1?.ssrc, 7);
  assert.equal(r1?.packetsLost, 3);
  assert.equal(r1?.fractionLost, Math.floor((3 * 256) / 8));
  assert.equal(r1?.highestSequence, 0x10004);
  s.update(7, 5, 0, 0);
  assert.equal(s.report(0, 0)?.fractionLost, 0); // nothing lost in the new interval
});

test('duplicates and reordering do not move the highest sequence; duplicates make loss negative', () => {
  const s = new RtpReceiveStats();
  for (const seq of [10, 12, 11, 12]) s.update(1, seq, 0, 0);
  assert.equal(s.extendedHighestSequence, 12);
  assert.equal(s.lost, -1);
});

test('jitter follows A.8: steady arrival gives 0, a 40-unit wobble converges toward 40', () => {
  const steady = new RtpReceiveStats();
  for (let i = 0; i < 50; i++) steady.update(1, i, i * 160, 1000 + i * 160);
  assert.equal(steady.jitterUnits, 0);
  const wobbly = new RtpReceiveStats();
  for (let i = 0; i < 200; i++) wobbly.update(1, i, i * 160, i * 160 + (i % 2 ? 40 : 0));
  assert.ok(Math.abs(wobbly.jitterUnits - 40) < 1, `jitter ${wobbly.jitterUnits}`);
  // Timestamp wrap is not a 2^32 jump in transit time.
  const wrap = new RtpReceiveStats();
  wrap.update(1, 0, 0xffffff60, 0);
  wrap.update(1, 1, 0, 160);
  assert.equal(wrap.jitterUnits, 0);
});

test('a new SSRC starts the statistics over', () => {
  const s = new RtpReceiveStats();
  for (const seq of [1, 5]) s.update(1, seq, 0, 0);
  assert.equal(s.lost, 3);
  s.update(2, 1000, 0, 0);
  assert.equal(s.ssrc, 2);
  assert.equal(s.lost, 0);
  assert.equal(s.received, 1);
  assert.equal(new RtpReceiveStats().report(0, 0), null);
});
