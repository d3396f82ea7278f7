// PortAllocator: even RTP ports with RTCP on port+1, round-robin reuse, exhaustion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortAllocator, PortExhaustedError } from '../../src/media/port-allocator.js';

test('allocates even ports whose RTCP port stays in range, until exhausted', () => {
  const ports = new PortAllocator(20001, 20010); // pairs: 20002, 20004, 20006, 20008
  assert.equal(ports.capacity, 4);
  const got = [ports.allocate(), ports.allocate(), ports.allocate(), ports.allocate()];
  assert.deepEqual([...got].sort(), [20002, 20004, 20006, 20008]);
  assert.equal(ports.inUse, 4);
  assert.throws(() => ports.allocate(), (e: unknown) => e instanceof PortExhaustedError && e.code === 'PORTS_EXHAUSTED');
  ports.release(20006);
  assert.equal(ports.allocate(), 20006); // reused after release
});

test('starts at a random pair and walks round-robin, so released ports are reused last', () => {
  const a = new PortAllocator(30000, 30009, () => 0.5); // 5 pairs, start at index 2
  assert.equal(a.allocate(), 30004);
  a.release(30004);
  assert.equal(a.allocate(), 30006);
  assert.equal(a.allocate(), 30008);
  assert.equal(a.allocate(), 30000);
  const b = new PortAllocator(30000, 30009, () => 0);
  assert.equal(b.allocate(), 30000);
});

test('rejects bad ranges and releasing a port that is not allocated', () => {
  assert.throws(() => new PortAllocator(0, 10), RangeError);
  assert.throws(() => new PortAllocator(10000, 70000), RangeError);
  assert.throws(() => new PortAllocator(10001, 10002), RangeError); // no even/odd pair inside
  const p = new PortAllocator(10000, 10001);
  assert.equal(p.allocate(), 10000);
  assert.throws(() => p.release(10002), RangeError);
});
