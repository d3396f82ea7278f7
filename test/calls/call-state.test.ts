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

describe('outbound call states', () => {
  it('queued → initiated → ringing → in-progress → completed', () => {
    let s: CallState = 'queued';
    for (const [input, expected] of [[{ type: 'dial' }, 'initiated'], [{ type: 'ring' }, 'ringing'], [{ type: 'answer' }, 'in-progress'], [{ type: 'hangup' }, 'completed']] as const) {
      s = transition(s, input)!;
      assert.equal(s, expected);
    }
  });

  it('an INVITE that is not answered ends busy, no-answer or failed, from initiated or ringing', () => {
    for (const outcome of ['busy', 'no-answer', 'failed'] as const) {
      assert.equal(transition('initiated', { type: 'unanswered', outcome }), outcome);
      assert.equal(transition('ringing', { type: 'unanswered', outcome }), outcome);
      assert.equal(transition('in-progress', { type: 'unanswered', outcome }), null);
    }
  });

  it('a queued call can only be dialled or cancelled; it cannot ring, answer or be busy', () => {
    assert.equal(transition('queued', { type: 'cancel' }), 'canceled');
    assert.equal(transition('queued', { type: 'hangup' }), 'canceled');
    assert.equal(transition('queued', { type: 'ring' }), null);
    assert.equal(transition('queued', { type: 'answer' }), null);
    assert.equal(transition('queued', { type: 'unanswered', outcome: 'busy' }), null);
    assert.equal(transition('initiated', { type: 'dial' }), null);
  });
});
