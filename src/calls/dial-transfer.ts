/**
 * Transfers. `<Refer>`: REFER to the caller's side of the call (RFC 3515), then the implicit
 * subscription's NOTIFYs (message/sipfrag) report how the far end's new call went.
 *
 * STUB until the SIP layer's REFER/NOTIFY support lands.
 */
import type { ReferRequest, ReferResult } from '../verbs/call-control.js';
import type { Call } from './call.js';

export function sendRefer(call: Call, _request: ReferRequest, _signal: AbortSignal): Promise<ReferResult> {
  call.note('refer.unsupported', {});
  return Promise.resolve({ status: 'failed', referSipResponseCode: null, notifySipResponseCode: null });
}
