/**
 * A scripted call for the `<Dial>` and `<Refer>` executors: records the requests it gets, answers
 * with results the test scripts, and can "hang up" while a dial or transfer is in progress.
 * Everything else a verb could ask of a call fails loudly (those executors must not use it).
 */
import type { CallControl, DialRequest, DialResult, ReferRequest, ReferResult } from '../../src/verbs/call-control.js';
import type { HttpMethod } from '../../src/verbs/verb-model.js';

function unused(name: string): never {
  throw new Error(`${name} is not expected in a dial/refer test`);
}

export class TransferCall {
  ended = false;
  dialRequests: DialRequest[] = [];
  referRequests: ReferRequest[] = [];
  callbacks: Array<{ url: string; method: HttpMethod; params: Record<string, string> }> = [];
  notes: Array<{ type: string; detail: Record<string, unknown> }> = [];
  onDial: (request: DialRequest, signal: AbortSignal) => Promise<DialResult> = () => Promise.reject(new Error('no dial scripted'));
  onRefer: (request: ReferRequest, signal: AbortSignal) => Promise<ReferResult> = () => Promise.reject(new Error('no refer scripted'));

  control(): CallControl {
    const self = this;
    return {
      answered: true,
      get ended() {
        return self.ended;
      },
      answer: async () => undefined,
      reject: () => unused('reject'),
      hangup: () => unused('hangup'),
      play: () => unused('play'),
      synthesize: () => unused('synthesize'),
      synthesizeStream: () => unused('synthesizeStream'),
      loadMedia: () => unused('loadMedia'),
      sleep: () => unused('sleep'),
      onDigit: () => unused('onDigit'),
      onAudio: () => unused('onAudio'),
      sendDigits: () => unused('sendDigits'),
      recognize: () => unused('recognize'),
      transcribe: () => unused('transcribe'),
      startStream: () => unused('startStream'),
      stopStream: () => unused('stopStream'),
      startRecording: () => unused('startRecording'),
      sendCallback(url, method, params) {
        self.callbacks.push({ url, method, params });
      },
      note(type, detail) {
        self.notes.push({ type, detail });
      },
      dial(request, signal) {
        self.dialRequests.push(request);
        return self.onDial(request, signal);
      },
      refer(request, signal) {
        self.referRequests.push(request);
        return self.onRefer(request, signal);
      },
    };
  }
}

/** A DialResult with defaults for what a test does not care about. */
export function dialResult(partial: Partial<DialResult> & Pick<DialResult, 'status'>): DialResult {
  return { callSid: null, durationSeconds: null, bridged: false, sipCallId: null, sipResponseCode: null, sipHeaders: {}, recordingUrl: null, ...partial };
}

/** A coded error as the call engine raises it (13224: no route for a number...). */
export function codedError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}
