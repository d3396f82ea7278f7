/**
 * `<Refer>`: asks the call to transfer its SIP leg (CallControl.refer) and reports ReferCallStatus,
 * ReferSipResponseCode and NotifySipResponseCode to the action URL.
 *
 * STUB: the verbs helper implements it.
 */
import type { CallControl } from './call-control.js';
import type { ReferVerb } from './verb-model.js';
import type { VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';

export function refer(_verb: ReferVerb, _call: CallControl, _ctx: VerbContext): Promise<VerbOutcome> {
  return Promise.reject(new Error('<Refer> is not implemented yet'));
}
