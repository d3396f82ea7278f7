import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { transition, isTerminal, type CallState } from '../../src/calls/call-state.js';

describe('call state machine', () => {
  it('rings then answers then completes', () => {
    let s: CallState = 'initiated';
    s = transition(s, { type: 'ring' })!;
    assert.equal(s, 'ringing');
    s = transition(s, { type: 'answer' })!;
    assert.equal(s, 'in-progress');
    s = transition(s, { type: 'hangup' })!;
    assert.equal(s, 'completed');
    assert.ok(isTerminal(s));
  });

  it('maps <Reject> reasons to Twilio statuses', () => {
    assert.equal(transition('ringing', { type: 'reject', reason: 'busy' }), 'busy');
    assert.equal(transition('ringing', { type: 'reject', reason: 'rejected' }), 'no-answer');
    assert.equal(transition('initiated', { type: 'reject', reason: 'busy' }), 'busy');
  });

  it('does not reject or cancel an answered call', () => {
    assert.equal(transition('in-progress', { type: 'reject', reason: 'busy' }), null);
    assert.equal(transition('in-progress', { type: 'cancel' }), null);
    assert.equal(transition('in-progress', { type: 'answer' }), null);
  });

  it('a caller CANCEL before the answer ends as canceled', () => {
    assert.equal(transition('ringing', { type: 'cancel' }), 'canceled');
    assert.equal(transition('initiated', { type: 'cancel' }), 'canceled');
  });

  it('a failure before the answer is failed, after the answer completed', () => {
    assert.equal(transition('ringing', { type: 'fail' }), 'failed');
    assert.equal(transition('in-progress', { type: 'fail' }), 'completed');
  });

  it('an unanswered call ended by the app completes', () => {
    assert.equal(transition('ringing', { type: 'hangup' }), 'completed');
  });

  it('terminal states accept no input', () => {
    for (const s of ['completed', 'busy', 'failed', 'no-answer', 'canceled'] as CallState[]) {
      for (const type of ['ring', 'answer', 'cancel', 'hangup', 'fail'] as const) {
        assert.equal(transition(s, { type } as never), null, `${s} + ${type}`);
      }
    }
  });

  it('ring only from initiated', () => {
    assert.equal(transition('ringing', { type: 'ring' }), null);
    assert.equal(transition('in-progress', { type: 'ring' }), null);
  });
});
