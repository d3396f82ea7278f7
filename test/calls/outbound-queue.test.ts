import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutboundQueue, type QueuedCall } from '../../src/calls/outbound-queue.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A call that records when it started and ends when the test says so. */
function fakeCall(clock: FakeClock, started: { name: string; at: number }[], name: string): QueuedCall & { end(): void } {
  let end = (): void => undefined;
  return {
    start: () => {
      started.push({ name, at: clock.now() });
      return new Promise<void>((resolve) => (end = resolve));
    },
    end: () => end(),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('OutboundQueue', () => {
  it('starts calls no faster than the account\'s calls per second, evenly spaced, in order', () => {
    const clock = new FakeClock();
    const q = new OutboundQueue(() => ({ maxConcurrent: 100, callsPerSecond: 4 }), clock);
    const started: { name: string; at: number }[] = [];
    for (const n of ['a', 'b', 'c', 'd', 'e']) q.submit('AC1', fakeCall(clock, started, n));
    assert.deepEqual(started, [{ name: 'a', at: 0 }]);
    assert.deepEqual(q.counts('AC1'), { waiting: 4, active: 1 });
    clock.advance(1000);
    assert.deepEqual(started.map((s) => [s.name, s.at]), [['a', 0], ['b', 250], ['c', 500], ['d', 750], ['e', 1000]]);
  });

  it('holds calls over the concurrency limit in the queue until a live one ends', async () => {
    const clock = new FakeClock();
    const q = new OutboundQueue(() => ({ maxConcurrent: 2, callsPerSecond: 1000 }), clock);
    const started: { name: string; at: number }[] = [];
    const calls = ['a', 'b', 'c'].map((n) => fakeCall(clock, started, n));
    for (const c of calls) q.submit('AC1', c);
    clock.advance(100);
    assert.deepEqual(started.map((s) => s.name), ['a', 'b']);
    assert.deepEqual(q.counts('AC1'), { waiting: 1, active: 2 });
    calls[0]!.end();
    await settle();
    clock.advance(10);
    assert.deepEqual(started.map((s) => s.name), ['a', 'b', 'c']);
  });

  it('limits each account separately', () => {
    const clock = new FakeClock();
    const q = new OutboundQueue(() => ({ maxConcurrent: 1, callsPerSecond: 1 }), clock);
    const started: { name: string; at: number }[] = [];
    q.submit('AC1', fakeCall(clock, started, 'a1'));
    q.submit('AC1', fakeCall(clock, started, 'a2'));
    q.submit('AC2', fakeCall(clock, started, 'b1'));
    assert.deepEqual(started.map((s) => s.name), ['a1', 'b1']);
  });

  it('a withdrawn call never starts; an idle account does not bank a burst', async () => {
    const clock = new FakeClock();
    const q = new OutboundQueue(() => ({ maxConcurrent: 10, callsPerSecond: 2 }), clock);
    const started: { name: string; at: number }[] = [];
    const a = fakeCall(clock, started, 'a');
    const b = fakeCall(clock, started, 'b');
    q.submit('AC1', a);
    q.submit('AC1', b);
    assert.equal(q.withdraw('AC1', b), true);
    assert.equal(q.withdraw('AC1', a), false, 'a already started');
    clock.advance(5000);
    assert.deepEqual(started.map((s) => s.name), ['a']);
    // After a quiet period the next two are still spaced, not started together.
    q.submit('AC1', fakeCall(clock, started, 'c'));
    q.submit('AC1', fakeCall(clock, started, 'd'));
    assert.deepEqual(started.map((s) => [s.name, s.at]), [['a', 0], ['c', 5000]]);
    clock.advance(500);
    assert.deepEqual(started.map((s) => [s.name, s.at]), [['a', 0], ['c', 5000], ['d', 5500]]);
  });

  it('a call whose start throws frees its slot and is reported', async () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    const q = new OutboundQueue(() => ({ maxConcurrent: 1, callsPerSecond: 1000 }), clock, (e) => errors.push(e.message));
    const started: { name: string; at: number }[] = [];
    q.submit('AC1', { start: () => { throw new Error('boom'); } });
    q.submit('AC1', fakeCall(clock, started, 'next'));
    await settle();
    clock.advance(10);
    assert.deepEqual(errors, ['boom']);
    assert.deepEqual(started.map((s) => s.name), ['next']);
  });
});
