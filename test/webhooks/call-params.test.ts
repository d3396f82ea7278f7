import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCallParams } from '../../src/webhooks/call-params.js';

describe('buildCallParams', () => {
  it('builds the standard set with Caller/Called duplicates and ApiVersion', () => {
    const p = buildCallParams({ accountSid: 'AC1', callSid: 'CA1', from: '+15551230000', to: '+15559870000', callStatus: 'ringing', direction: 'inbound' });
    assert.deepEqual(p, {
      AccountSid: 'AC1',
      ApiVersion: '2010-04-01',
      CallSid: 'CA1',
      CallStatus: 'ringing',
      Called: '+15559870000',
      Caller: '+15551230000',
      Direction: 'inbound',
      From: '+15551230000',
      To: '+15559870000',
    });
  });

  it('adds optional and SIP parameters, forwarding only X- headers', () => {
    const p = buildCallParams({
      accountSid: 'AC1',
      callSid: 'CA2',
      from: 'sip:alice@example.com',
      to: 'sip:+15550001111@patchbay.local',
      callStatus: 'in-progress',
      direction: 'outbound-dial',
      forwardedFrom: '+15552220000',
      parentCallSid: 'CA1',
      sipCallId: 'abc@host',
      sipSourceIp: '127.0.0.1',
      sipHeaders: { 'X-Customer-Id': '42', 'x-lower': 'y', 'User-Agent': 'sipp', Subject: 'nope' },
    });
    assert.equal(p.ForwardedFrom, '+15552220000');
    assert.equal(p.ParentCallSid, 'CA1');
    assert.equal(p.SipCallId, 'abc@host');
    assert.equal(p.SipSourceIp, '127.0.0.1');
    assert.equal(p['SipHeader_X-Customer-Id'], '42');
    assert.equal(p['SipHeader_x-lower'], 'y');
    assert.equal(p['SipHeader_User-Agent'], undefined);
    assert.equal(p.SipHeader_Subject, undefined);
  });

  it('omits absent optional parameters instead of sending empty ones', () => {
    const p = buildCallParams({ accountSid: 'AC1', callSid: 'CA1', from: 'a', to: 'b', callStatus: 'queued', direction: 'outbound-api', sipCallId: '' });
    assert.equal('SipCallId' in p, false);
    assert.equal('ForwardedFrom' in p, false);
  });
});
