/**
 * `<Dial>`: resolves the verb's URLs, asks the call to ring and bridge (CallControl.dial), and turns
 * the result into Twilio's action request (DialCallStatus, DialCallSid, DialCallDuration,
 * DialBridged, RecordingUrl, DialSipCallId, DialSipResponseCode, DialSipHeader_X-*).
 *
 * STUB: the verbs helper implements it.
 */
import type { CallControl } from './call-control.js';
import type { DialVerb } from './verb-model.js';
import type { VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';

export function dial(_verb: DialVerb, _call: CallControl, _ctx: VerbContext): Promise<VerbOutcome> {
  return Promise.reject(new Error('<Dial> is not implemented yet'));
}
