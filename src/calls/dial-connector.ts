/**
 * The call engine's CallConnector: `<Dial>` runs a DialSession on the call; `<Refer>` transfers
 * the call's own SIP leg (dial-transfer.ts). A `<Dial>` from a leg that is itself a `<Dial>` leg
 * is refused with Twilio's 13201, so bridges never nest.
 */
import type { DialRequest, DialResult, ReferRequest, ReferResult } from '../verbs/call-control.js';
import type { Call, CallConnector } from './call.js';
import { DialSession, type DialSessionDeps } from './dial-session.js';
import { sendRefer } from './dial-transfer.js';

export class DialError extends Error {
  override readonly name = 'DialError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class DialConnector implements CallConnector {
  /** `deps.callDeps` is filled in once the call dependencies (which include this connector) exist. */
  constructor(private readonly deps: DialSessionDeps) {}

  dial(call: Call, request: DialRequest, signal: AbortSignal): Promise<DialResult> {
    if (call.info.direction === 'outbound-dial') {
      return Promise.reject(new DialError(13201, 'a <Dial> leg cannot <Dial> (the call is already a bridged leg)'));
    }
    call.note('dial.start', { targets: request.targets.length, sequential: request.sequential, timeout: request.timeout, answerOnBridge: request.answerOnBridge });
    return new DialSession(this.deps, call, request, signal).run();
  }

  refer(call: Call, request: ReferRequest, signal: AbortSignal): Promise<ReferResult> {
    return sendRefer(call, request, signal);
  }
}
