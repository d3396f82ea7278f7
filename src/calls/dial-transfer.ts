/**
 * Transfers (RFC 3515 REFER with its implicit subscription; progress as message/sipfrag NOTIFYs).
 *
 * `<Refer>` (sendRefer): REFER to the far end of the call's own leg; the NOTIFYs that follow say
 * how the far end's call to the target went, the last one decides ReferCallStatus.
 *
 * An inbound REFER from a bridged callee (TransferWatch) — what LiveKit and OpenAI's SIP connector
 * send when an agent hands the caller to a human: 202, NOTIFY 100 Trying, then either
 * - `<Dial referUrl>` is set: the app decides (NOTIFY 200, the Dial ends with ReferTransferTarget), or
 * - Patchbay calls the Refer-To target itself, NOTIFYs 180/200 or the failure, and on answer the
 *   caller is bridged to the new leg while the transferor hangs up (or is hung up).
 */
import { REASON_PHRASES, type HeaderField, type SipRequest } from '../sip/message.js';
import { parseReferTo, parseSipfragStatus, referNotifyHeaders, sipfrag, SIPFRAG_CONTENT_TYPE } from '../sip/refer.js';
import type { Responder } from '../sip/responses.js';
import type { Dialog } from '../sip/dialog.js';
import { parseNameAddr } from '../sip/header-values.js';
import type { ReferRequest, ReferResult } from '../verbs/call-control.js';
import type { Call } from './call.js';

/** How long the far end has to report its transfer's outcome after accepting the REFER. */
const NOTIFY_WAIT_MS = 60_000;

const reason = (status: number): string => REASON_PHRASES[status] ?? (status < 300 ? 'OK' : 'Failed');

/** `<sip:target?X-Foo=bar>`: the REFER's target with headers for the new INVITE (RFC 3515 §2.1). */
function referToValue(uri: string, headers: [string, string][]): string {
  const query = headers.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
  return `<${uri}${query ? `?${query}` : ''}>`;
}

export async function sendRefer(call: Call, request: ReferRequest, signal: AbortSignal): Promise<ReferResult> {
  const dialog = call.sipDialog;
  if (!dialog || call.ended) {
    call.note('refer.failed', { message: 'the call has no established SIP dialog to send REFER on' });
    return { status: 'failed', referSipResponseCode: null, notifySipResponseCode: null };
  }
  let lastNotify: number | null = null;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const onNotify = (req: SipRequest, respond: Responder): void => {
    respond(200);
    const code = parseSipfragStatus(req.body);
    if (code !== null) lastNotify = code;
    call.note('sip.in', { method: 'NOTIFY', sipfrag: code, subscriptionState: req.headers.get('subscription-state') ?? null });
    if ((req.headers.get('subscription-state') ?? '').toLowerCase().startsWith('terminated') || (code !== null && code >= 200)) finished();
  };
  dialog.on('notify', onNotify);
  try {
    call.note('sip.out', { method: 'REFER', target: request.target });
    const res = await dialog.sendRequest('REFER', {
      headers: [
        { name: 'Refer-To', value: referToValue(request.target, request.headers) },
        { name: 'Referred-By', value: `<${parseNameAddr(dialog.localUri)?.uri ?? dialog.localUri}>` },
      ],
    });
    const referCode = res?.status ?? null;
    call.note('sip.in', { method: 'REFER', status: referCode });
    if (!res || res.status >= 300) return { status: 'failed', referSipResponseCode: referCode, notifySipResponseCode: null };
    const timer = setTimeout(finished, NOTIFY_WAIT_MS);
    const onEnd = (): void => finished();
    signal.addEventListener('abort', onEnd, { once: true });
    // The call may have ended (BYE, hangup from REST) while the REFER was in its transaction: the
    // abort event is gone by then, and nothing would end the wait but the 60 s timer.
    if (signal.aborted) finished();
    await done;
    clearTimeout(timer);
    signal.removeEventListener('abort', onEnd);
    const ok = lastNotify !== null && lastNotify >= 200 && lastNotify < 300;
    return { status: ok ? 'completed' : 'failed', referSipResponseCode: referCode, notifySipResponseCode: lastNotify };
  } finally {
    dialog.off('notify', onNotify);
  }
}

/** Places the new leg of a transfer: resolves with it once answered, or null (with the final SIP status). */
export type TransferDialer = (target: string, headers: HeaderField[]) => Promise<{ call: Call | null; status: number }>;

/** Sends one NOTIFY of the REFER's implicit subscription (RFC 3515 §2.4.4). */
function notify(transferor: Dialog, call: Call, status: number, final: boolean): void {
  call.note('sip.out', { method: 'NOTIFY', sipfrag: status });
  void transferor
    .sendRequest('NOTIFY', {
      headers: referNotifyHeaders(final ? 'terminated' : 'active', final ? 'noresource' : undefined),
      body: sipfrag(status, reason(status)),
      contentType: SIPFRAG_CONTENT_TYPE,
    })
    .catch(() => null);
}

/**
 * Watches a bridged callee's dialog for REFER while the bridge lasts. `signal` aborts when a
 * transfer needs the bridge to end: the app takes it (`appTarget`), or a new leg answered (`replacement`).
 */
export class TransferWatch {
  private readonly controller = new AbortController();
  /** The new, answered leg the caller should be bridged to. */
  replacement: Call | null = null;
  /** Refer-To handed to the app (referUrl). */
  appTarget: string | null = null;
  /** Settles when a transfer in progress has its outcome (immediately when none is). */
  private pending: Promise<void> = Promise.resolve();
  private busy = false;
  private readonly dialog: Dialog | null;
  private readonly onRefer = (req: SipRequest, respond: Responder): void => this.handle(req, respond);

  constructor(
    private readonly transferor: Call,
    private readonly toApp: boolean,
    private readonly dial: TransferDialer,
  ) {
    this.dialog = transferor.sipDialog;
    this.dialog?.on('refer', this.onRefer);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Waits for a transfer in progress (the transferor may hang up before the target answers). */
  settled(): Promise<void> {
    return this.pending;
  }

  stop(): void {
    this.dialog?.off('refer', this.onRefer);
  }

  private handle(req: SipRequest, respond: Responder): void {
    const call = this.transferor;
    const target = parseReferTo(req.headers.get('refer-to') ?? '');
    call.note('sip.in', { method: 'REFER', referTo: req.headers.get('refer-to') ?? null });
    if (!target) return respond(400, { reason: 'Bad Refer-To' });
    if (this.busy) return respond(491, { reason: 'Transfer In Progress' });
    const dialog = this.dialog!;
    this.busy = true;
    respond(202);
    notify(dialog, call, 100, false);
    if (this.toApp) {
      this.appTarget = target.uri;
      notify(dialog, call, 200, true);
      this.controller.abort();
      return;
    }
    const headers = target.headers.map(([name, value]) => ({ name, value }));
    this.pending = this.dial(target.uri, headers).then(({ call: leg, status }) => {
      this.busy = false;
      if (!leg) {
        notify(dialog, call, status, true);
        return;
      }
      notify(dialog, call, 200, true);
      this.replacement = leg;
      this.controller.abort();
    });
  }
}
