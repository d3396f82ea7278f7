import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CallTimeLimit } from '../../src/calls/call-time-limit.js';

describe('CallTimeLimit', () => {
  it('counts from the answer, not from when it was set', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const expired: number[] = [];
    const limit = new CallTimeLimit((s) => expired.push(s));
    limit.set(10); // REST create, before the answer
    t.mock.timers.tick(60_000);
    assert.deepEqual(expired, [], 'an unanswered call does not expire');
    limit.answered(new Date());
    t.mock.timers.tick(9_999);
    assert.deepEqual(expired, []);
    t.mock.timers.tick(1);
    assert.deepEqual(expired, [10]);
  });

  it('a new limit mid-call replaces the old one and still counts from the answer', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const expired: number[] = [];
    const limit = new CallTimeLimit((s) => expired.push(s));
    limit.answered(new Date());
    limit.set(30);
    t.mock.timers.tick(20_000);
    limit.set(25); // 5 s left
    t.mock.timers.tick(4_999);
    assert.deepEqual(expired, []);
    t.mock.timers.tick(1);
    assert.deepEqual(expired, [25]);
  });

  it('a limit already passed expires at once; clear() stops it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const expired: number[] = [];
    const limit = new CallTimeLimit((s) => expired.push(s));
    limit.answered(new Date());
    t.mock.timers.tick(10_000);
    limit.set(5);
    t.mock.timers.tick(0);
    assert.deepEqual(expired, [5]);
    const other = new CallTimeLimit((s) => expired.push(s));
    other.answered(new Date());
    other.set(1);
    other.clear();
    t.mock.timers.tick(5_000);
    assert.deepEqual(expired, [5]);
  });
});
