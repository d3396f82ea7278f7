/**
 * `<Refer>`: asks the call to transfer its SIP leg (CallControl.refer) and reports ReferCallStatus,
 * ReferSipResponseCode and NotifySipResponseCode to the action URL.
 *
 * - With an action, the document continues there (the app decides what a failed transfer means).
 * - Without one, a completed transfer ends the call (the caller is now talking to the target) and a
 *   failed one goes on with the next verb, so a fallback can follow the `<Refer>`.
 * - An unanswered inbound call is answered first: REFER is sent on the call's dialog (RFC 3515
 *   §2.4.1), and only a confirmed dialog can carry it, so `<Refer>` as the document's first verb
 *   must not fail for want of one.
 * - If the call ended meanwhile (the far end usually hangs up once transferred), the action is still
 *   requested, in the background, as `<Dial>` does.
 */
import type { CallControl, ReferResult } from './call-control.js';
import type { ReferVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import { resolveUrl, type VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** The action's parameters; a code that never came (no REFER response, no NOTIFY) is left out. */
export function referActionParams(result: ReferResult): Record<string, string> {
  const params: Record<string, string> = { ReferCallStatus: result.status };
  if (result.referSipResponseCode !== null) params.ReferSipResponseCode = String(result.referSipResponseCode);
  if (result.notifySipResponseCode !== null) params.NotifySipResponseCode = String(result.notifySipResponseCode);
  return params;
}

export async function refer(verb: ReferVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  let action: string | null;
  try {
    action = verb.action === null ? null : resolveUrl(verb.action, ctx.documentUrl);
  } catch (err) {
    call.note('error', { code: VerbErrorCode.InvalidUrl, message: `<Refer>: ${(err as Error).message} (an inline document needs absolute URLs)` });
    action = null;
  }
  if (!call.answered) await call.answer();
  let result: ReferResult;
  try {
    result = await call.refer({ target: verb.target, headers: verb.headers }, ctx.signal);
  } catch (err) {
    const code = codeOf(err);
    if (code === undefined || ctx.signal.aborted) throw err;
    call.note('error', { code, message: `<Refer>: ${(err as Error).message}` });
    result = { status: 'failed', referSipResponseCode: null, notifySipResponseCode: null };
  }
  call.note('refer.result', { target: verb.target, ...result });

  const params = referActionParams(result);
  if (call.ended) {
    if (action !== null) call.sendCallback(action, verb.method, params);
    return { kind: 'hangup' };
  }
  if (action !== null) return { kind: 'redirect', url: action, method: verb.method, params };
  return result.status === 'completed' ? { kind: 'hangup' } : { kind: 'next' };
}
