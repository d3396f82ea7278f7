/**
 * `<Gather>`: plays its prompts while listening for DTMF and/or speech, with Twilio's semantics:
 * - the first key press or the start of speech stops the prompts at once (barge-in);
 * - `timeout` starts when the prompts end (or at a key press, as the inter-digit timeout);
 * - digits end on `finishOnKey` (not included in Digits) or after `numDigits`;
 * - with `dtmf speech` the first modality detected wins; speech ignores `finishOnKey`;
 * - speech ends after `speechTimeout` seconds of silence (`auto`: at the first pause, detected by
 *   voice activity detection), or after `maxSpeechTime`;
 * - with a result, the action URL is requested with Digits/FinishedOnKey or SpeechResult/Confidence;
 *   without one, the document goes on with the next verb unless `actionOnEmptyResult`.
 */
import type { CallControl } from './call-control.js';
import type { GatherVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import { resolveUrl, runPrompt, type VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';
import { VoiceActivityDetector } from '../media/voice-activity-detector.js';
import type { RecognitionResult, RecognitionStream } from '../speech/speech-recognizer.js';

interface GatherResult {
  digits: string;
  finishedOnKey: string;
  speech: RecognitionResult | null;
  /** What ended the gather, for the call's timeline. */
  reason: 'finish-key' | 'num-digits' | 'timeout' | 'speech-end' | 'max-speech-time' | 'recognizer-failed';
}

/** Voice activity hangover for `speechTimeout="auto"`: a pause this long ends the caller's turn. */
const AUTO_END_OF_SPEECH_MS = 700;
/** Shorter hangover when a numeric speechTimeout adds its own wait after speech stops. */
const TIMED_END_OF_SPEECH_MS = 300;

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

export async function gather(verb: GatherVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  await call.answer();
  const session = new GatherSession(verb, call, ctx);
  const result = await session.run();
  call.note('gather.result', {
    reason: result.reason,
    digits: result.digits,
    finishedOnKey: result.finishedOnKey,
    ...(result.speech ? { speech: result.speech.transcript, confidence: result.speech.confidence } : {}),
  });
  const heard = result.digits !== '' || result.finishedOnKey !== '' || (result.speech !== null && result.speech.transcript !== '');
  if (!heard && !verb.actionOnEmptyResult) return { kind: 'next' };
  const target = verb.action !== null ? resolveUrl(verb.action, ctx.documentUrl) : ctx.documentUrl;
  if (target === null) {
    call.note('verb.warning', { verb: 'gather', errorCode: VerbErrorCode.InvalidUrl, message: 'Gather in an inline document needs an absolute action URL' });
    return { kind: 'next' };
  }
  const params: Record<string, string> = {};
  if (result.speech !== null) {
    params.SpeechResult = result.speech.transcript;
    // 0 means the engine gives no confidence (grammar search): better absent than a false "not sure".
    if (result.speech.confidence > 0) params.Confidence = result.speech.confidence.toFixed(8).replace(/0+$/, '').replace(/\.$/, '.0');
  } else if (verb.input.includes('dtmf')) {
    params.Digits = result.digits;
    params.FinishedOnKey = result.finishedOnKey;
  }
  return { kind: 'redirect', url: target, method: verb.method, params };
}

/** One run of a Gather: its listeners, timers and recognizer, all released by `finish`. */
class GatherSession {
  private readonly promptAbort = new AbortController();
  private modality: 'dtmf' | 'speech' | null = null;
  private digits = '';
  private timer: NodeJS.Timeout | null = null;
  private maxSpeechTimer: NodeJS.Timeout | null = null;
  private stream: RecognitionStream | null = null;
  private streamFailed = false;
  private ending = false;
  private readonly cleanups: Array<() => void> = [];
  private resolve!: (r: GatherResult) => void;
  private readonly done = new Promise<GatherResult>((resolve) => (this.resolve = resolve));
  private partialSequence = 0;

  constructor(
    private readonly verb: GatherVerb,
    private readonly call: CallControl,
    private readonly ctx: VerbContext,
  ) {}

  async run(): Promise<GatherResult> {
    const { verb, call, ctx } = this;
    const onAbort = (): void => this.finish({ reason: 'timeout' });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    this.cleanups.push(() => ctx.signal.removeEventListener('abort', onAbort));
    if (verb.input.includes('dtmf')) this.cleanups.push(call.onDigit((d) => this.onDigit(d), () => this.onKeyDown()));
    if (verb.input.includes('speech')) this.startSpeech();
    void this.playPrompts();
    try {
      const result = await this.done;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return result;
    } finally {
      this.release();
    }
  }

  private async playPrompts(): Promise<void> {
    const signal = AbortSignal.any([this.ctx.signal, this.promptAbort.signal]);
    for (const prompt of this.verb.prompts) {
      if (signal.aborted) break;
      try {
        await runPrompt(prompt, this.call, { documentUrl: this.ctx.documentUrl, signal });
      } catch (err) {
        if (signal.aborted || isAbort(err)) break;
        this.call.note('verb.warning', { verb: 'gather', message: `prompt failed: ${(err as Error).message}` });
      }
    }
    // The caller's time to answer starts when the prompts are over (unless they already started).
    if (this.modality === null && !this.ending) this.arm(this.verb.timeout * 1000, () => this.finish({ reason: 'timeout' }));
  }

  private bargeIn(): void {
    if (this.verb.bargeIn) this.promptAbort.abort();
  }

  // ---- DTMF ----

  private onKeyDown(): void {
    if (this.modality !== 'speech') this.bargeIn();
  }

  private onDigit(digit: string): void {
    if (this.ending || this.modality === 'speech') return; // speech came first: keys are ignored
    if (this.modality === null) {
      this.modality = 'dtmf';
      this.stopSpeech();
    }
    this.bargeIn();
    if (this.verb.finishOnKey !== '' && digit === this.verb.finishOnKey) return this.finish({ reason: 'finish-key', finishedOnKey: digit });
    this.digits += digit;
    if (this.verb.numDigits !== null && this.digits.length >= this.verb.numDigits) return this.finish({ reason: 'num-digits' });
    this.arm(this.verb.timeout * 1000, () => this.finish({ reason: 'timeout' }));
  }

  // ---- speech ----

  private startSpeech(): void {
    const { verb, call } = this;
    const auto = verb.speechTimeout === 'auto';
    const vad = new VoiceActivityDetector({ hangoverMs: auto ? AUTO_END_OF_SPEECH_MS : TIMED_END_OF_SPEECH_MS });
    const pending: Int16Array[] = [];
    this.cleanups.push(
      call.onAudio((frame) => {
        if (this.ending || this.modality === 'dtmf') return;
        if (this.stream) this.stream.write(frame);
        else if (!this.streamFailed) pending.push(frame); // the engine is still connecting
        const event = vad.process(frame);
        if (event?.type === 'speech-started') this.onSpeechStarted();
        else if (event?.type === 'speech-stopped') this.onSpeechStopped();
      }),
    );
    call
      .recognize(
        { language: verb.language, hints: verb.hints, speechModel: verb.speechModel, profanityFilter: verb.profanityFilter, interimResults: verb.partialResultCallback !== null },
        {
          partial: (r) => this.onPartial(r),
          error: (err) => this.onRecognizerFailed(err),
        },
        this.promptAbortOrEnd(),
      )
      .then((stream) => {
        if (this.ending || this.modality === 'dtmf') return stream.abort();
        this.stream = stream;
        for (const frame of pending.splice(0)) stream.write(frame);
      })
      .catch((err: unknown) => {
        if (!this.ending) this.onRecognizerFailed(err as Error);
      });
  }

  /** Aborted when the gather ends (the recognizer must not outlive it). */
  private readonly endAbort = new AbortController();
  private promptAbortOrEnd(): AbortSignal {
    return AbortSignal.any([this.ctx.signal, this.endAbort.signal]);
  }

  private onSpeechStarted(): void {
    if (this.modality === 'dtmf' || this.ending) return;
    if (this.modality === null) {
      this.modality = 'speech';
      this.arm(null);
      this.maxSpeechTimer = setTimeout(() => void this.endSpeech('max-speech-time'), this.verb.maxSpeechTime * 1000);
    }
    this.bargeIn();
    this.arm(null); // talking again: the silence countdown starts over
  }

  private onSpeechStopped(): void {
    if (this.modality !== 'speech' || this.ending) return;
    const { speechTimeout, timeout } = this.verb;
    if (speechTimeout === 'auto') return void this.endSpeech('speech-end');
    const seconds = speechTimeout ?? timeout;
    const waitMs = Math.max(0, seconds * 1000 - TIMED_END_OF_SPEECH_MS);
    this.arm(waitMs, () => void this.endSpeech('speech-end'));
  }

  private onPartial(result: RecognitionResult): void {
    const url = this.verb.partialResultCallback;
    if (!url || this.ending) return;
    this.call.sendCallback(resolveUrl(url, this.ctx.documentUrl), this.verb.partialResultCallbackMethod, {
      UnstableSpeechResult: result.transcript,
      StableSpeechResult: '',
      Stability: result.confidence.toString(),
      SequenceNumber: String(++this.partialSequence),
    });
  }

  private onRecognizerFailed(err: Error): void {
    if (this.streamFailed || this.ending) return;
    this.noteFailure(err);
    // Without a recognizer a speech-only gather can hear nothing: end it now rather than let it wait.
    if (!this.verb.input.includes('dtmf') || this.modality === 'speech') this.finish({ reason: 'recognizer-failed' });
  }

  /** The app sees engine failures on the call's record (code 82001); the call itself goes on. */
  private noteFailure(err: Error): void {
    this.streamFailed = true;
    this.stream = null;
    const code = (err as { code?: unknown }).code;
    this.call.note('error', { code: VerbErrorCode.SpeechRecognitionFailed, message: `speech recognition failed: ${err.message}`, reason: typeof code === 'string' ? code : undefined });
  }

  private async endSpeech(reason: 'speech-end' | 'max-speech-time'): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.arm(null);
    const stream = this.stream;
    this.stream = null;
    let speech: RecognitionResult | null = null;
    if (stream) {
      try {
        speech = await stream.finish();
      } catch (err) {
        this.noteFailure(err as Error);
      }
    }
    this.complete({ reason: this.streamFailed && !speech ? 'recognizer-failed' : reason, speech });
  }

  private stopSpeech(): void {
    this.stream?.abort();
    this.stream = null;
  }

  // ---- ending ----

  private finish(r: { reason: GatherResult['reason']; finishedOnKey?: string }): void {
    if (this.ending) return;
    this.ending = true;
    this.stopSpeech();
    this.complete({ reason: r.reason, finishedOnKey: r.finishedOnKey ?? '', speech: null });
  }

  private complete(r: { reason: GatherResult['reason']; finishedOnKey?: string; speech: RecognitionResult | null }): void {
    this.resolve({ digits: this.digits, finishedOnKey: r.finishedOnKey ?? '', speech: r.speech, reason: r.reason });
  }

  /** (Re)arms the single countdown timer; `null` just disarms it. */
  private arm(ms: number | null, fire?: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = ms === null || !fire ? null : setTimeout(fire, ms);
  }

  private release(): void {
    this.ending = true;
    this.arm(null);
    if (this.maxSpeechTimer) clearTimeout(this.maxSpeechTimer);
    this.promptAbort.abort();
    this.endAbort.abort();
    this.stopSpeech();
    for (const undo of this.cleanups.splice(0)) undo();
  }
}
