// Jitter buffer: ordering, loss concealment, late/duplicate accounting, wraparound and bounds,
// driven by explicit pop() calls (one per simulated 20 ms tick), so no real time is involved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JitterBuffer, type JitterBufferFrame } from '../../src/media/jitter-buffer.js';

/** A 160-byte payload whose first two bytes carry the sequence number, to check identity. */
function pkt(seq: number): Buffer {
  const b = Buffer.alloc(160, 0x55);
  b.writeUInt16BE(seq & 0xffff, 0);
  return b;
}

function insert(jb: JitterBuffer, seq: number): void {
  jb.insert(seq & 0xffff, ((seq * 160) >>> 0) & 0xffffffff, pkt(seq));
}

type Out = string; // "a<seq>" audio, "c<seq>" concealed, "-" nothing
function describe(f: JitterBufferFrame | null): Out {
  if (!f) return '-';
  if (f.kind === 'audio') {
    assert.equal(f.payload.readUInt16BE(0), f.seq, 'payload belongs to its sequence number');
    return `a${f.seq}`;
  }
  assert.ok(f.payload.every((b) => b === 0xff), 'concealment is µ-law silence');
  return `c${f.seq}`;
}

function drain(jb: JitterBuffer, ticks: number): Out[] {
  const out: Out[] = [];
  for (let i = 0; i < ticks; i++) out.push(describe(jb.pop()));
  return out;
}

test('in order: prebuffers targetDelay frames, then plays one per tick', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 3 });
  const out: Out[] = [];
  for (let s = 10; s < 16; s++) {
    insert(jb, s);
    out.push(describe(jb.pop()));
  }
  assert.deepEqual(out, ['-', '-', 'a10', 'a11', 'a12', 'a13']);
  assert.deepEqual(drain(jb, 3), ['a14', 'a15', '-']);
  assert.equal(jb.stats.played, 6);
  assert.equal(jb.stats.lost, 0);
  assert.equal(jb.stats.underruns, 1);
});

test('reordered within the window: played in sequence order, nothing lost', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 3 });
  for (const s of [101, 100, 103, 102, 105, 104]) insert(jb, s); // 101 arrives before 100
  assert.deepEqual(drain(jb, 7), ['a100', 'a101', 'a102', 'a103', 'a104', 'a105', '-']);
  assert.equal(jb.stats.lost + jb.stats.late + jb.stats.duplicate, 0);
});

test('reordering while playing: a packet arriving before its tick is still played in place', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 3 });
  const arrivals = [[1], [2], [3], [5], [4, 6], [7], [8]];
  const out: Out[] = [];
  for (const a of arrivals) {
    for (const s of a) insert(jb, s);
    out.push(describe(jb.pop()));
  }
  assert.deepEqual(out, ['-', '-', 'a1', 'a2', 'a3', 'a4', 'a5']);
  assert.equal(jb.stats.lost, 0);
});

test('duplicates are counted and played once', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  for (const s of [1, 1, 2, 2, 3, 1]) insert(jb, s);
  assert.deepEqual(drain(jb, 4), ['a1', 'a2', 'a3', '-']);
  assert.equal(jb.stats.duplicate, 3);
  assert.equal(jb.stats.received, 6);
});

test('lost packet: silence of the last frame length in its place, counted once', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  for (const s of [1, 2, 4, 5]) insert(jb, s);
  const frames: JitterBufferFrame[] = [];
  for (let i = 0; i < 4; i++) frames.push({ ...jb.pop()! });
  assert.deepEqual(frames.map((f) => `${f.kind[0]}${f.seq}`), ['a1', 'a2', 'c3', 'a4']);
  assert.equal(frames[2]!.timestamp, 3 * 160, 'concealed frame continues the timestamp');
  assert.equal(jb.stats.lost, 1);
  const jb2 = new JitterBuffer({ targetDelayFrames: 1 });
  jb2.insert(1, 0, Buffer.alloc(80, 1));
  jb2.insert(3, 320, Buffer.alloc(80, 1));
  jb2.pop();
  const c = jb2.pop()!;
  assert.equal(c.kind, 'concealed');
  assert.equal(c.payload.length, 80);
  assert.ok(c.payload.every((b) => b === 0xff));
});

test('late packet (after its frame was concealed) is dropped and counted', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  for (const s of [1, 2, 4, 5]) insert(jb, s);
  assert.deepEqual(drain(jb, 3), ['a1', 'a2', 'c3']);
  insert(jb, 3);
  insert(jb, 1); // long after playout
  assert.deepEqual(drain(jb, 3), ['a4', 'a5', '-']);
  assert.equal(jb.stats.late, 2);
  assert.equal(jb.stats.lost, 1);
});

test('sequence wraparound 65535 → 0, in order and reordered across the wrap', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 3 });
  for (const s of [65533, 65534, 0, 65535, 1, 2, 3]) insert(jb, s);
  assert.deepEqual(drain(jb, 8), ['a65533', 'a65534', 'a65535', 'a0', 'a1', 'a2', 'a3', '-']);
  // A packet from before the wrap is now late, not 65 536 frames ahead.
  insert(jb, 65534);
  assert.equal(jb.stats.late, 1);
  assert.equal(jb.stats.resyncs, 0);
  // A first packet just after a wrap, then one just before it (overtaken while prebuffering).
  const jb2 = new JitterBuffer({ targetDelayFrames: 3 });
  for (const s of [0, 65535, 1]) insert(jb2, s);
  assert.deepEqual(drain(jb2, 4), ['a65535', 'a0', 'a1', '-']);
});

test('new talkspurt: contiguous sequence with a timestamp jump re-prebuffers without losses', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  for (const s of [1, 2, 3]) insert(jb, s);
  assert.deepEqual(drain(jb, 6), ['a1', 'a2', 'a3', '-', '-', '-']); // sender silent (DTX)
  jb.insert(4, 160 * 500, pkt(4)); // marker packet: timestamp jumped by ~10 s, sequence continues
  jb.insert(5, 160 * 501, pkt(5));
  const f = jb.pop()!;
  assert.equal(f.seq, 4);
  assert.equal(f.timestamp, 160 * 500);
  assert.equal(jb.stats.lost, 0);
  assert.equal(jb.stats.underruns, 1);
});

test('sender restart (large sequence jump) resynchronises instead of counting thousands lost', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  for (const s of [1, 2, 3]) insert(jb, s);
  drain(jb, 2);
  for (const s of [30000, 30001, 30002]) insert(jb, s);
  assert.deepEqual(drain(jb, 4), ['a30000', 'a30001', 'a30002', '-']);
  assert.equal(jb.stats.resyncs, 1);
  assert.equal(jb.stats.lost, 0);
  // And a jump backwards (restart with a lower number) is not "late" either.
  for (const s of [500, 501]) insert(jb, s);
  assert.deepEqual(drain(jb, 2), ['a500', 'a501']);
  assert.equal(jb.stats.resyncs, 2);
  assert.equal(jb.stats.late, 0);
});

test('bounded under a flood: size never exceeds capacity, newest frames kept, overflow counted', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 3, capacityFrames: 8 });
  for (let s = 0; s < 10000; s++) {
    insert(jb, s);
    assert.ok(jb.size <= 8);
  }
  assert.equal(jb.stats.overflow, 10000 - 8);
  assert.deepEqual(drain(jb, 9), [...Array.from({ length: 8 }, (_, i) => `a${(9992 + i) & 0xffff}`), '-']);
  // A gap ahead of the window is skipped (counted lost), not concealed frame by frame forever.
  insert(jb, 10000 + 50);
  assert.equal(jb.size, 1);
});

test('oversized payloads are dropped; bad options are refused', () => {
  const jb = new JitterBuffer({ maxPayloadBytes: 160 });
  jb.insert(1, 0, Buffer.alloc(161));
  assert.equal(jb.stats.oversize, 1);
  assert.equal(jb.size, 0);
  assert.throws(() => new JitterBuffer({ targetDelayFrames: 9, capacityFrames: 8 }), RangeError);
  assert.throws(() => new JitterBuffer({ capacityFrames: 8, maxJump: 8 }), RangeError);
});

test('payload is copied on insert: reusing the receive buffer does not corrupt buffered frames', () => {
  const jb = new JitterBuffer({ targetDelayFrames: 2 });
  const rx = Buffer.alloc(160);
  for (const s of [7, 8]) {
    rx.fill(s);
    jb.insert(s, s * 160, rx);
  }
  rx.fill(0);
  assert.equal(jb.pop()!.payload[5], 7);
  assert.equal(jb.pop()!.payload[5], 8);
});
