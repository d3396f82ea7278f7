/**
 * Runs one verb of the typed model against a call. Each verb's semantics follow Twilio's TwiML
 * (see shared/reference/twilio-voice.md §1); the executor returns what the document runner does next.
 */
import type { CallControl } from './call-control.js';
import type { HttpMethod, PauseVerb, PlayVerb, SayVerb, Verb } from './verb-model.js';

export type VerbOutcome =
  | { kind: 'next' }
  | { kind: 'hangup' }
  | { kind: 'rejected' }
  | { kind: 'redirect'; url: string; method: HttpMethod };

/** `loop="0"` means "until hangup"; Twilio caps it at 1000 iterations. */
const MAX_LOOPS = 1000;

export interface VerbContext {
  /** URL of the document the verb came from; relative URLs resolve against it (null for inline documents). */
  documentUrl: string | null;
  signal: AbortSignal;
}

export function resolveUrl(url: string, documentUrl: string | null): string {
  if (documentUrl === null) return new URL(url).toString();
  return new URL(url, documentUrl).toString();
}

function loops(loop: number): number {
  return loop === 0 ? MAX_LOOPS : loop;
}

async function say(verb: SayVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  await call.answer();
  const audio = await call.synthesize(verb.text, verb.voice, verb.language, ctx.signal);
  for (let i = 0; i < loops(verb.loop); i++) {
    if ((await call.play(audio, ctx.signal)) !== 'finished') break;
  }
  return { kind: 'next' };
}

async function play(verb: PlayVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  await call.answer();
  if (verb.url === null || verb.url === '') {
    // <Play digits> (DTMF out) belongs to the DTMF issue; until then it is reported, not faked.
    call.note('verb.warning', { verb: 'play', message: 'Play digits is not supported yet' });
    return { kind: 'next' };
  }
  const url = resolveUrl(verb.url, ctx.documentUrl);
  let audio: Int16Array;
  try {
    audio = await call.loadMedia(url, ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // Twilio logs a failed media fetch and moves on to the next verb; so do we.
    const code = (err as { code?: unknown }).code;
    call.note('verb.warning', { verb: 'play', url, errorCode: 11200, message: (err as Error).message, reason: typeof code === 'string' ? code : undefined });
    return { kind: 'next' };
  }
  for (let i = 0; i < loops(verb.loop); i++) {
    if ((await call.play(audio, ctx.signal)) !== 'finished') break;
  }
  return { kind: 'next' };
}

async function pause(verb: PauseVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  // A <Pause> before anything else keeps the caller ringing (Twilio delays the answer the same way).
  await call.sleep(verb.length * 1000, ctx.signal);
  return { kind: 'next' };
}

export async function executeVerb(verb: Verb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  switch (verb.verb) {
    case 'say':
      return say(verb, call, ctx);
    case 'play':
      return play(verb, call, ctx);
    case 'pause':
      return pause(verb, call, ctx);
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
    default: {
      const unknown: never = verb;
      throw new Error(`no executor for verb ${(unknown as { verb: string }).verb}`);
    }
  }
}
