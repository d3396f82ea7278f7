import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSid, newAuthToken, newSid } from '../src/ids.js';

describe('ids', () => {
  it('makes prefixed 34-character SIDs that do not repeat', () => {
    const sids = new Set(Array.from({ length: 1000 }, () => newSid('CA')));
    assert.equal(sids.size, 1000);
    for (const s of sids) assert.match(s, /^CA[0-9a-f]{32}$/);
    assert.match(newAuthToken(), /^[0-9a-f]{32}$/);
    assert.throws(() => newSid('ca'), RangeError);
    assert.throws(() => newSid('CAX'), RangeError);
  });

  it('recognises SIDs by prefix', () => {
    assert.equal(isSid('AC', 'AC' + 'aB'.repeat(16)), true);
    assert.equal(isSid('AC', 'CA' + 'ab'.repeat(16)), false);
    assert.equal(isSid('AC', 'AC' + 'ab'.repeat(15)), false);
    assert.equal(isSid('AC', 'AC' + 'zz'.repeat(16)), false);
  });
});
