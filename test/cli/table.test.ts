import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatFields, formatTable } from '../../src/cli/table.js';

describe('table', () => {
  it('pads columns to their widest cell, upper-cases headers, shows missing values as -, no trailing blanks', () => {
    const text = formatTable(['sid', 'status', 'to'], [['CA1', 'completed', null], ['CA22', 'busy', 'sip:b@h']]);
    assert.equal(text, ['SID   STATUS     TO', 'CA1   completed  -', 'CA22  busy       sip:b@h', ''].join('\n'));
  });

  it('keeps one row on one line', () => {
    assert.equal(formatTable(['a', 'b'], [['x\ny', 'z']]), 'A    B\nx y  z\n');
  });

  it('aligns name: value blocks', () => {
    assert.equal(formatFields([['sid', 'CA1'], ['end reason', undefined], ['duration', 0]]), 'sid:         CA1\nend reason:  -\nduration:    0\n');
  });
});
