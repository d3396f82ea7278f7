/**
 * The call's life as an explicit state machine. States are Twilio's CallStatus values, so the
 * record, the webhooks and the status callbacks all speak the same words.
 */
export type CallState = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

/** How an outbound INVITE can end without an answer (mapped from the SIP final response or our timeout). */
export type UnansweredOutcome = 'busy' | 'no-answer' | 'failed';

export type CallInput =
  /** An API-created call leaves the queue: the INVITE is sent. */
  | { type: 'dial' }
  | { type: 'ring' }
  | { type: 'answer' }
  /** The app refused the call with <Reject>. */
  | { type: 'reject'; reason: 'busy' | 'rejected' }
  /** The caller gave up before the answer (CANCEL). */
  | { type: 'cancel' }
  /** Either side ended the call normally (BYE, <Hangup>, end of document). */
  | { type: 'hangup' }
  /** The call could not be set up or broke (no ACK, media failure before answer, shutdown). */
  | { type: 'fail' }
  /** The far end of an outbound call did not answer: busy, no answer in time, or an error response. */
  | { type: 'unanswered'; outcome: UnansweredOutcome };

export const TERMINAL_STATES: ReadonlySet<CallState> = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

export function isTerminal(state: CallState): boolean {
  return TERMINAL_STATES.has(state);
}

/** The next state, or null when the input is not allowed in this state. */
export function transition(state: CallState, input: CallInput): CallState | null {
  if (isTerminal(state)) return null;
  const unanswered = state === 'queued' || state === 'initiated' || state === 'ringing';
  switch (input.type) {
    case 'dial':
      return state === 'queued' ? 'initiated' : null;
    case 'unanswered':
      // A queued call never rang anyone: only a sent INVITE can be busy or unanswered.
      return state === 'initiated' || state === 'ringing' ? input.outcome : null;
    case 'ring':
      return state === 'initiated' ? 'ringing' : null;
    case 'answer':
      return state === 'initiated' || state === 'ringing' ? 'in-progress' : null;
    case 'reject':
      // Twilio: <Reject reason="busy"> ends as busy, reason="rejected" as no-answer.
      if (!unanswered) return null;
      return input.reason === 'busy' ? 'busy' : 'no-answer';
    case 'cancel':
      return unanswered ? 'canceled' : null;
    case 'hangup':
      // Hanging up a call that never left the queue cancels it (nobody was called).
      return state === 'queued' ? 'canceled' : 'completed';
    case 'fail':
      // An answered call that breaks still happened: it is completed, with the error on the record.
      return unanswered ? 'failed' : 'completed';
  }
}
