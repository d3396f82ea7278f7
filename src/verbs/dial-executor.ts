/**
 * `<Dial>`: resolves the verb's URLs, asks the call to ring and bridge (CallControl.dial), and turns
 * the result into Twilio's action request (DialCallStatus, DialCallSid, DialCallDuration,
 * DialBridged, RecordingUrl, DialSipCallId, DialSipResponseCode, DialSipHeader_X-*).
 *
 * - With an action, the document continues there; without one, with the next verb.
 * - The caller hanging up during the dial ends the document, but Twilio still requests the action
 *   (its answer is ignored): apps use it to log the outcome, so it is sent in the background.
 * - A coded failure of the dial itself (13224 no route for a number, 13214 caller ID refused...) is
 *   recorded on the call and reported to the action as DialCallStatus=failed, like any failed attempt.
 */
import type { CallControl, DialRequest, DialResult } from './call-control.js';
import type { DialNoun, DialVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import { resolveUrl, type VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';

const FAILED: DialResult = { status: 'failed', callSid: null, durationSeconds: null, bridged: false, sipCallId: null, sipResponseCode: null, sipHeaders: {}, recordingUrl: null };

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function absolute(url: string | null, documentUrl: string | null): string | null {
  return url === null ? null : resolveUrl(url, documentUrl);
}

function absoluteNoun(noun: DialNoun, documentUrl: string | null): DialNoun {
  return { ...noun, url: absolute(noun.url, documentUrl), statusCallback: absolute(noun.statusCallback, documentUrl) };
}

/** The verb as the engine receives it: every URL absolute. Throws a TypeError for a relative URL in an inline document. */
export function dialRequest(verb: DialVerb, documentUrl: string | null): DialRequest {
  const { verb: _verb, action: _action, method: _method, ...rest } = verb;
  return {
    ...rest,
    recordingStatusCallback: absolute(verb.recordingStatusCallback, documentUrl),
    referUrl: absolute(verb.referUrl, documentUrl),
    targets: verb.targets.map((t) => absoluteNoun(t, documentUrl)),
  };
}

/**
 * The action's parameters. Twilio adds the SIP ones for SIP (and carrier) legs only; a `<Client>`
 * is a SIP leg inside Patchbay, but apps written for Twilio do not expect them there.
 */
export function dialActionParams(result: DialResult, verb: DialVerb): Record<string, string> {
  const params: Record<string, string> = { DialCallStatus: result.status, DialBridged: result.bridged ? 'true' : 'false' };
  if (result.callSid !== null) params.DialCallSid = result.callSid;
  if (result.durationSeconds !== null) params.DialCallDuration = String(result.durationSeconds);
  if (result.recordingUrl !== null) params.RecordingUrl = result.recordingUrl;
  if (verb.targets.some((t) => t.noun !== 'client')) {
    if (result.sipCallId !== null) params.DialSipCallId = result.sipCallId;
    if (result.sipResponseCode !== null) params.DialSipResponseCode = String(result.sipResponseCode);
    for (const [name, value] of Object.entries(result.sipHeaders)) {
      if (/^x-/i.test(name)) params[`DialSipHeader_${name}`] = value;
    }
  }
  return params;
}

export async function dial(verb: DialVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  let request: DialRequest;
  let action: string | null;
  try {
    request = dialRequest(verb, ctx.documentUrl);
    action = absolute(verb.action, ctx.documentUrl);
  } catch (err) {
    // Only a relative URL in an inline document (no document URL to resolve against) gets here.
    call.note('error', { code: VerbErrorCode.InvalidUrl, message: `<Dial>: ${(err as Error).message} (an inline document needs absolute URLs)` });
    return call.ended ? { kind: 'hangup' } : { kind: 'next' };
  }

  let result: DialResult;
  try {
    result = await call.dial(request, ctx.signal);
  } catch (err) {
    const code = codeOf(err);
    if (code === undefined || ctx.signal.aborted) throw err; // a redirect, the call's end, or a bug
    call.note('error', { code, message: `<Dial>: ${(err as Error).message}` });
    result = FAILED;
  }
  call.note('dial.result', { status: result.status, callSid: result.callSid, durationSeconds: result.durationSeconds, bridged: result.bridged, sipResponseCode: result.sipResponseCode });

  const params = dialActionParams(result, verb);
  if (call.ended) {
    if (action !== null) call.sendCallback(action, verb.method, params);
    return { kind: 'hangup' };
  }
  // The callee transferred the caller (REFER) and the app decides where to: Twilio's referUrl request.
  if (result.referTransferTarget && request.referUrl) {
    return { kind: 'redirect', url: request.referUrl, method: verb.referMethod, params: { ...params, ReferTransferTarget: result.referTransferTarget } };
  }
  return action !== null ? { kind: 'redirect', url: action, method: verb.method, params } : { kind: 'next' };
}
