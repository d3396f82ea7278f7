/**
 * Runs one verb of the typed model against a call. Each verb's semantics follow Twilio's TwiML
 * (see shared/reference/twilio-voice.md §1); the executor returns what the document runner does next.
 */
import type { CallControl } from './call-control.js';
import type { HttpMethod, Verb } from './verb-model.js';
import { resolveUrl, runPrompt, type VerbContext } from './prompt-executors.js';
import { gather } from './gather-executor.js';
import { record } from './record-executor.js';
import { connectStream, startStreams, stopStreams } from './stream-executors.js';
import { dial } from './dial-executor.js';
import { refer } from './refer-executor.js';

export { resolveUrl, type VerbContext } from './prompt-executors.js';

export type VerbOutcome =
  | { kind: 'next' }
  | { kind: 'hangup' }
  | { kind: 'rejected' }
  /** Fetch the next document; `params` are added to the request (a Gather's Digits, a Record's RecordingUrl...). */
  | { kind: 'redirect'; url: string; method: HttpMethod; params?: Record<string, string> };

export async function executeVerb(verb: Verb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  switch (verb.verb) {
    case 'say':
    case 'play':
    case 'pause':
      await runPrompt(verb, call, ctx);
      return { kind: 'next' };
    case 'gather':
      return gather(verb, call, ctx);
    case 'record':
      return record(verb, call, ctx);
    case 'hangup':
      return { kind: 'hangup' };
    case 'reject':
      if (call.answered) {
        // <Reject> only means something before the call is answered; afterwards it ends the call.
        call.note('verb.warning', { verb: 'reject', message: 'Reject after answer hangs up the call' });
        return { kind: 'hangup' };
      }
      await call.reject(verb.reason);
      return { kind: 'rejected' };
    case 'redirect':
      return { kind: 'redirect', url: resolveUrl(verb.url, ctx.documentUrl), method: verb.method };
    case 'start':
      return startStreams(verb, call, ctx);
    case 'stop':
      return stopStreams(verb, call);
    case 'connect':
      return connectStream(verb, call, ctx);
    case 'dial':
      return dial(verb, call, ctx);
    case 'refer':
      return refer(verb, call, ctx);
    default: {
      const unknown: never = verb;
      throw new Error(`no executor for verb ${(unknown as { verb: string }).verb}`);
    }
  }
}
