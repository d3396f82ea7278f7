import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMERS, TimerSet, timerDuration } from '../../src/sip/transaction-timers.js';
import { FakeClock } from '../helpers/fake-clock.js';

test('RFC 3261 Table 4 values from T1=500ms, T2=4s, T4=5s', () => {
  const c = DEFAULT_TIMERS;
  assert.equal(timerDuration('A', c, false), 500);
  assert.equal(timerDuration('B', c, false), 32_000);
  assert.equal(timerDuration('D', c, false), 32_000);
  assert.equal(timerDuration('D', c, true), 0);
  assert.equal(timerDuration('E', c, false), 500);
  assert.equal(timerDuration('F', c, false), 32_000);
  assert.equal(timerDuration('G', c, false), 500);
  assert.equal(timerDuration('H', c, false), 32_000);
  assert.equal(timerDuration('I', c, false), 5000);
  assert.equal(timerDuration('I', c, true), 0);
  assert.equal(timerDuration('J', c, false), 32_000);
  assert.equal(timerDuration('J', c, true), 0);
  assert.equal(timerDuration('K', c, false), 5000);
  assert.equal(timerDuration('K', c, true), 0);
});

test('TimerSet restarts a running timer and stopAll clears everything', () => {
  const clock = new FakeClock();
  const set = new TimerSet(clock);
  const fired: string[] = [];
  set.start('A', 100, () => fired.push('a1'));
  set.start('A', 300, () => fired.push('a2'));
  set.start('B', 200, () => fired.push('b'));
  clock.advance(250);
  assert.deepEqual(fired, ['b']);
  assert.equal(set.has('B'), false);
  set.stopAll();
  assert.equal(clock.pending, 0);
  clock.advance(1000);
  assert.deepEqual(fired, ['b']);
});
