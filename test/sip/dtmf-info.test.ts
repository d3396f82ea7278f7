// DTMF in SIP INFO bodies: application/dtmf-relay and application/dtmf, tolerant of spacing and
// case, strict about what the digit is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDtmfInfo } from '../../src/sip/dtmf-info.js';

test('application/dtmf-relay: Signal and Duration', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { digit: '5', durationMs: 160 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', Buffer.from('Signal=#\r\nDuration=250')), { digit: '#', durationMs: 250 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=*'), { digit: '*', durationMs: null });
});

test('application/dtmf-relay: odd spacing, case, line endings, parameters, vendor keys', () => {
  assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay; charset=utf-8', ' signal = a \nDURATION= 100 \n\n'), { digit: 'A', durationMs: 100 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Duration=80\rSignal= 11\r'), { digit: '#', durationMs: 80 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=9\r\nX-Vendor=1\r\nDuration=40'), { digit: '9', durationMs: 40 });
});

test('application/dtmf: the body is the digit', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf', '7'), { digit: '7', durationMs: null });
  assert.deepEqual(parseDtmfInfo('APPLICATION/DTMF', ' d\r\n'), { digit: 'D', durationMs: null });
  assert.deepEqual(parseDtmfInfo('application/dtmf', '10'), { digit: '*', durationMs: null });
});

test('invalid bodies and other content types give null', () => {
  const relay = 'application/dtmf-relay';
  for (const body of ['', 'Duration=160', 'Signal=', 'Signal=E', 'Signal=55', 'Signal=16', 'Signal=12345', 'Signal=5\r\nDuration=abc', 'Signal=5\r\nDuration=-1', 'Signal 5', 'hello']) {
    assert.equal(parseDtmfInfo(relay, body), null, JSON.stringify(body));
  }
  for (const body of ['', '  ', '17', '05', '5 6', 'x', '*#']) assert.equal(parseDtmfInfo('application/dtmf', body), null, JSON.stringify(body));
  assert.equal(parseDtmfInfo('text/plain', 'Signal=5'), null);
  assert.equal(parseDtmfInfo('application/sdp', '5'), null);
});
