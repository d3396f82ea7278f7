/**
 * The prompt verbs: Say, Play (a media URL, or DTMF digits) and Pause. They run on their own and
 * nested in `<Gather>`, where the caller's input aborts them through the signal (barge-in).
 */
import type { CallControl, PlaybackOutcome } from './call-control.js';
import { VerbErrorCode } from './verb-errors.js';
import { MAX_LOOP, type PauseVerb, type PlayVerb, type PromptVerb, type SayVerb } from './verb-model.js';

export interface VerbContext {
  /** URL of the document the verb came from; relative URLs resolve against it (null for inline documents). */
  documentUrl: string | null;
  signal: AbortSignal;
}

export function resolveUrl(url: string, documentUrl: string | null): string {
  if (documentUrl === null) return new URL(url).toString();
  return new URL(url, documentUrl).toString();
}

/** `loop="0"` means "until hangup", capped like Twilio. */
function loops(loop: number): number {
  return loop === 0 ? MAX_LOOP : loop;
}

async function say(verb: SayVerb, call: CallControl, ctx: VerbContext): Promise<void> {
  await call.answer();
  // Each chunk is queued as it arrives: playback is gapless, and starts before synthesis ends.
  const chunks: Int16Array[] = [];
  let last: Promise<PlaybackOutcome> = Promise.resolve('finished');
  const request = { text: verb.text, voice: verb.voice, language: verb.language, ...(verb.ssml !== undefined ? { ssml: verb.ssml } : {}) };
  try {
    for await (const chunk of call.synthesizeStream(request, ctx.signal)) {
      chunks.push(chunk);
      last = call.play(chunk, ctx.signal);
    }
  } catch (err) {
    if (ctx.signal.aborted || (err as Error).name !== 'TtsError') throw err;
    // A speech engine that is down or refuses its key: recorded on the call, and the document goes on.
    const reason = (err as { code?: unknown }).code;
    call.note('error', { code: VerbErrorCode.TextToSpeechFailed, message: `text-to-speech failed: ${(err as Error).message}`, voice: verb.voice, reason: typeof reason === 'string' ? reason : undefined });
    await last;
    return;
  }
  if ((await last) !== 'finished') return;
  if (loops(verb.loop) === 1) return;
  const audio = concat(chunks);
  for (let i = 1; i < loops(verb.loop); i++) {
    if ((await call.play(audio, ctx.signal)) !== 'finished') break;
  }
}

function concat(chunks: Int16Array[]): Int16Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function play(verb: PlayVerb, call: CallControl, ctx: VerbContext): Promise<void> {
  await call.answer();
  if (verb.digits !== null) {
    for (let i = 0; i < loops(verb.loop); i++) await call.sendDigits(verb.digits, ctx.signal);
    return;
  }
  if (verb.url === null || verb.url === '') return;
  const url = resolveUrl(verb.url, ctx.documentUrl);
  let audio: Int16Array;
  try {
    audio = await call.loadMedia(url, ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // Twilio logs a failed media fetch and moves on to the next verb; so do we.
    const code = (err as { code?: unknown }).code;
    call.note('verb.warning', { verb: 'play', url, errorCode: 11200, message: (err as Error).message, reason: typeof code === 'string' ? code : undefined });
    return;
  }
  for (let i = 0; i < loops(verb.loop); i++) {
    if ((await call.play(audio, ctx.signal)) !== 'finished') break;
  }
}

async function pause(verb: PauseVerb, call: CallControl, ctx: VerbContext): Promise<void> {
  // A <Pause> before anything else keeps the caller ringing (Twilio delays the answer the same way).
  await call.sleep(verb.length * 1000, ctx.signal);
}

/** Runs one prompt verb to its end; rejects with the signal's reason when aborted. */
export function runPrompt(verb: PromptVerb, call: CallControl, ctx: VerbContext): Promise<void> {
  switch (verb.verb) {
    case 'say':
      return say(verb, call, ctx);
    case 'play':
      return play(verb, call, ctx);
    case 'pause':
      return pause(verb, call, ctx);
  }
}
