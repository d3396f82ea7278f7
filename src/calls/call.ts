/**
 * A call as verbs see it: a CallLeg (SIP, media, state, events) that implements CallControl, so
 * executors play, listen, recognize, record, stream, dial and transfer without knowing SIP or RTP.
 */
import type { CallControl, DialRequest, DialResult, PlaybackOutcome, RecognitionRequest, RecordingHandle, ReferRequest, ReferResult, SpeechRequest, StreamHandle } from '../verbs/call-control.js';
import type { HttpMethod, StreamNoun } from '../verbs/verb-model.js';
import { CallStreams } from './call-streams.js';
import { computeTwilioSignature } from '../webhooks/signature.js';
import type { RecognitionEvents, RecognitionResult, RecognitionStream } from '../speech/speech-recognizer.js';
import type { DtmfDigit } from './dtmf-input.js';
import { abortable, sleep } from './abortable.js';
import { openRecognition, transcribeAudio } from './call-speech.js';
import { CallLeg } from './call-leg.js';
import { CallEndedError } from './call-types.js';

export { CallEndedError } from './call-types.js';
export type { AppCallbacks, CallConnector, CallDeps, CallInfo, CallMediaDeps } from './call-types.js';

export class Call extends CallLeg implements CallControl {
  private streams: CallStreams | null = null;

  protected override digitHeard(digit: string): void {
    this.streams?.dtmf(digit);
  }

  protected override releaseServices(): void {
    this.streams?.close();
  }

  async play(samples: Int16Array, signal: AbortSignal): Promise<PlaybackOutcome> {
    await this.answer();
    const media = this.media;
    if (!media || this.ended) throw new CallEndedError(this.sid);
    return media.play(samples, AbortSignal.any([signal, this.lifetime.signal]));
  }

  synthesize(text: string, voice: string, language: string, signal: AbortSignal): Promise<Int16Array> {
    return this.deps.speech.speak(text, voice, language, AbortSignal.any([signal, this.lifetime.signal]));
  }

  synthesizeStream(speech: SpeechRequest, signal: AbortSignal): AsyncIterable<Int16Array> {
    return this.deps.speech.speakStream(speech, AbortSignal.any([signal, this.lifetime.signal]));
  }

  loadMedia(url: string, signal: AbortSignal): Promise<Int16Array> {
    return abortable(this.deps.fetcher.load(url), AbortSignal.any([signal, this.lifetime.signal]));
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms, AbortSignal.any([signal, this.lifetime.signal]));
  }

  onDigit(listener: (digit: string) => void, onKeyDown?: () => void): () => void {
    this.digitListeners.add(listener);
    if (onKeyDown) this.keyDownListeners.add(onKeyDown);
    return () => {
      this.digitListeners.delete(listener);
      if (onKeyDown) this.keyDownListeners.delete(onKeyDown);
    };
  }

  /** Like onDigit, with how each key arrived (a bridge relays only out-of-band keys: in-band ones travel in the audio). */
  onDtmf(listener: (digit: string, source: DtmfDigit['source']) => void): () => void {
    this.digitListeners.add(listener);
    return () => this.digitListeners.delete(listener);
  }

  onAudio(listener: (samples: Int16Array) => void): () => void {
    return this.media?.onAudio(listener) ?? (() => undefined);
  }

  async sendDigits(digits: string, signal: AbortSignal): Promise<void> {
    await this.answer();
    const all = AbortSignal.any([signal, this.lifetime.signal]);
    for (const key of digits) {
      if (all.aborted) throw all.reason;
      if (key === 'w' || key === 'W') {
        await this.sleep(key === 'w' ? 500 : 1000, all);
        continue;
      }
      const media = this.media;
      if (!media) throw new CallEndedError(this.sid);
      await media.sendDigit(key, all, (ms, sig) => this.sleep(ms, sig));
    }
  }

  recognize(request: RecognitionRequest, events: RecognitionEvents, signal: AbortSignal): Promise<RecognitionStream> {
    const all = AbortSignal.any([signal, this.lifetime.signal]);
    return openRecognition(this.deps.recognizers, this.info.accountSid, request, events, all, (message) => this.note('verb.warning', { message }));
  }

  sendCallback(url: string, method: HttpMethod, params: Record<string, string>): void {
    this.deps.callbacks.send(this.sid, url, method, { ...this.webhookParams(), ...params }, this.info.authToken);
  }

  startRecording(source: 'RecordVerb'): Promise<RecordingHandle> {
    return this.deps.recordings.start(this.info.accountSid, this.sid, source);
  }

  async startStream(stream: StreamNoun, bidirectional: boolean): Promise<StreamHandle> {
    await this.answer();
    const media = this.media;
    if (!media || this.ended) throw new CallEndedError(this.sid);
    const config = this.deps.streams ?? { connectTimeoutMs: 5000 };
    const token = this.info.authToken;
    this.streams ??= new CallStreams({
      callSid: this.sid,
      accountSid: this.info.accountSid,
      media,
      note: (type, detail) => this.note(type, detail),
      callback: (url, method, params) => this.deps.callbacks.send(this.sid, url, method, params, token),
      // Twilio signs the handshake over the wss:// URL with no parameters.
      handshakeHeaders: (url): Record<string, string> => (token ? { 'X-Twilio-Signature': computeTwilioSignature(token, url, {}) } : {}),
      connectTimeoutMs: config.connectTimeoutMs,
      ...(config.egress ? { egress: config.egress } : {}),
    });
    return this.streams.start(stream, bidirectional);
  }

  stopStream(nameOrSid: string): boolean {
    return this.streams?.stop(nameOrSid) ?? false;
  }

  dial(request: DialRequest, signal: AbortSignal): Promise<DialResult> {
    if (!this.deps.connector) return Promise.reject(new Error('this call cannot dial'));
    return this.deps.connector.dial(this, request, AbortSignal.any([signal, this.lifetime.signal]));
  }

  refer(request: ReferRequest, signal: AbortSignal): Promise<ReferResult> {
    if (!this.deps.connector) return Promise.reject(new Error('this call cannot transfer'));
    return this.deps.connector.refer(this, request, AbortSignal.any([signal, this.lifetime.signal]));
  }

  transcribe(samples: Int16Array, language: string | null): Promise<RecognitionResult | null> {
    return transcribeAudio(this.deps.recognizers, this.info.accountSid, samples, language);
  }
}
