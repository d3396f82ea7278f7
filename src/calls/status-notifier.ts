/**
 * Status callbacks (Twilio §2.4): initiated, ringing, answered, completed, as chosen by the
 * StatusCallbackEvent list, with SequenceNumber, Timestamp (RFC 2822), CallbackSource, and on the
 * terminal event CallDuration and SipResponseCode. Sent in the background, in order per call.
 */
import type { StatusCallbackSender } from '../webhooks/status-callback-sender.js';
import type { HttpMethod } from '../verbs/verb-model.js';
import { isTerminal, type CallState } from './call-state.js';
import type { Call } from './call.js';
import type { CallRegistry } from './call-registry.js';

export type StatusCallbackEvent = 'initiated' | 'ringing' | 'answered' | 'completed';

export interface StatusCallbackTarget {
  url: string;
  method: HttpMethod;
  events: ReadonlySet<StatusCallbackEvent>;
}

function eventFor(state: CallState): StatusCallbackEvent | null {
  if (state === 'initiated') return 'initiated';
  if (state === 'ringing') return 'ringing';
  if (state === 'in-progress') return 'answered';
  return isTerminal(state) ? 'completed' : null;
}

export class StatusNotifier {
  constructor(
    private readonly sender: StatusCallbackSender,
    /** The server-wide callback (--status-callback), for calls whose number, application or REST request set none. */
    private readonly serverDefault: () => StatusCallbackTarget | null,
  ) {}

  attach(registry: CallRegistry): void {
    registry.on('call', (call: Call) => this.track(call));
  }

  private track(call: Call): void {
    let sequence = 0;
    const send = (state: CallState): void => {
      // Read at each change: a REST update may set or replace the call's callback mid-call.
      const target = call.statusCallback ?? this.serverDefault();
      const event = eventFor(state);
      if (!target || !event || !target.events.has(event)) return;
      const params: Record<string, string> = {
        ...call.webhookParams(state),
        CallbackSource: 'call-progress-events',
        SequenceNumber: String(sequence++),
        Timestamp: new Date().toUTCString().replace('GMT', '+0000'),
      };
      if (event === 'completed') {
        params.CallDuration = String(call.durationSeconds() ?? 0);
        params.Duration = String(Math.ceil((call.durationSeconds() ?? 0) / 60));
        if (call.sipResponseCode !== null) params.SipResponseCode = String(call.sipResponseCode);
        if (call.errorCode !== null) {
          params.ErrorCode = String(call.errorCode);
          params.ErrorMessage = call.errorMessage ?? '';
        }
      }
      this.sender.enqueue({ callSid: call.sid, url: target.url, method: target.method, params, authToken: call.info.authToken });
    };
    send(call.state);
    call.on('status', (state: CallState, previous: CallState) => {
      // Twilio: a call cancelled while still queued called nobody, and reports nothing.
      if (previous === 'queued' && isTerminal(state)) return;
      send(state);
    });
  }
}
