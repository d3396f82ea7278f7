// Header values the fuzzer (test/fuzz) found problems with; each test is one finding, kept minimal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatVia, parseVia } from '../../src/sip/header-values.js';

// Fuzz: header-values seed=1 iterations 2334, 2011. `;branch` without a value parsed with
// branch = null, and formatVia then dropped the parameter (a response's Via would not match the
// request's); `;rport=ple.com` was rewritten as `;rport`. Both are outside the grammar.
test('a Via with a valueless branch or received, or a non-numeric rport, is malformed', () => {
  for (const bad of ['SIP/2.0/UDP 127.0.0.1:5070;branch', 'SIP/2.0/UDP h;received', 'SIP/2.0/TCP sip13;rport=ple.com', 'SIP/2.0/UDP h;rport=123456']) {
    assert.equal(parseVia(bad), null, bad);
  }
});

test('valid branch/received/rport forms still parse and round-trip', () => {
  for (const good of ['SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport', 'SIP/2.0/UDP h;branch=z9hG4bK2;received=::1;rport=5060', 'SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKx']) {
    const via = parseVia(good);
    assert.ok(via, good);
    assert.deepEqual(parseVia(formatVia(via)), via);
  }
});

// Fuzz (bench run): header-values seed=1 iteration 1231649. Anything between brackets was taken
// as the host, and formatVia wrote `[2;maddr=]` back without brackets, as a different Via.
test('a bracketed Via host must be an IPv6 reference', () => {
  for (const bad of ['SIP/2.0/UDP [2;maddr=]:5060;branch=z9hG4bKx', 'SIP/2.0/UDP [example.com];branch=z9hG4bKx', 'SIP/2.0/UDP [];branch=z9hG4bKx']) {
    assert.equal(parseVia(bad), null, bad);
  }
  assert.equal(parseVia('SIP/2.0/UDP [::ffff:192.0.2.1]:5060;branch=z9hG4bKx')?.host, '::ffff:192.0.2.1');
});
